"""OneCycleLR: the 1cycle policy (Smith and Topin, 2017), as PyTorch's.

The learning rate passes through a few knots (start, peak, end; and the
initial lr again with ``three_phase``) and anneals from each to the next,
in closed form like every schedule of :mod:`minidl.optim.lr_scheduler`;
the momentum moves the other way.
"""
import math

from .lr_scheduler import LRScheduler, _is_positive_int, _per_group, _require
from .optimizer import Optimizer


class OneCycleLR(LRScheduler):
    """The 1cycle policy: lr rises from max_lr / div_factor to `max_lr` over
    the first `pct_start` of the steps, then falls to
    max_lr / (div_factor * final_div_factor). Step it after every batch.

    `max_lr` is one number or one per group; the length is `total_steps`,
    or `epochs` * `steps_per_epoch`. `anneal_strategy` is "cos" or "linear".
    With `cycle_momentum`, momentum (SGD's ``momentum``, Adam's beta1) moves
    the other way, between `max_momentum` and `base_momentum`.
    `three_phase`: rise, fall back to the initial lr, then fall to the
    minimum (the paper's schedule).
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None,
                 steps_per_epoch=None, pct_start=0.3, anneal_strategy="cos",
                 cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False,
                 last_epoch=-1):
        _require(isinstance(optimizer, Optimizer), self, "expected an Optimizer, "
                 f"got {type(optimizer).__name__}", TypeError)
        _require(total_steps is not None or None not in (epochs, steps_per_epoch),
                 self, "give total_steps, or both epochs and steps_per_epoch")
        lengths = {"total_steps": total_steps} if total_steps is not None \
            else {"epochs": epochs, "steps_per_epoch": steps_per_epoch}
        for name, value in lengths.items():
            _require(_is_positive_int(value), self,
                     f"{name} must be a positive int, got {value!r}")
        _require(isinstance(pct_start, float) and 0 <= pct_start <= 1, self,
                 f"pct_start must be a float in [0, 1], got {pct_start!r}")
        _require(anneal_strategy in ("cos", "linear"), self, "anneal_strategy "
                 f"must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.use_beta1 = "betas" in optimizer.defaults
        _require(not cycle_momentum or self.use_beta1
                 or "momentum" in optimizer.defaults, self,
                 "cycle_momentum=True needs an optimizer with 'momentum' or "
                 f"'betas', {type(optimizer).__name__} has neither; pass "
                 "cycle_momentum=False")
        self.total_steps = total_steps or epochs * steps_per_epoch
        self.pct_start, self.three_phase = pct_start, three_phase
        self.div_factor, self.final_div_factor = div_factor, final_div_factor
        self._anneal_func_type = anneal_strategy
        self.cycle_momentum = cycle_momentum
        values = zip(optimizer.param_groups,
                     _per_group(self, "max_lr", max_lr, optimizer),
                     _per_group(self, "max_momentum", max_momentum, optimizer),
                     _per_group(self, "base_momentum", base_momentum, optimizer))
        for group, peak, high, low in values:
            if last_epoch != -1:
                break  # resuming: the groups hold these already
            group["initial_lr"], group["max_lr"] = peak / div_factor, peak
            group["min_lr"] = group["initial_lr"] / final_div_factor
            if cycle_momentum:
                group["max_momentum"], group["base_momentum"] = high, low
        super().__init__(optimizer, last_epoch)

    def _knots(self):
        """The (step, lr factor, momentum key) the cycle passes through; it
        anneals from each knot to the next."""
        rise_end = float(self.pct_start * self.total_steps) - 1
        knots = [(0.0, 1.0, "max_momentum"),
                 (rise_end, self.div_factor, "base_momentum")]
        if self.three_phase:
            knots.append((2 * rise_end, 1.0, "max_momentum"))
        knots.append((self.total_steps - 1, 1 / self.final_div_factor,
                      "max_momentum"))
        return knots

    def _position(self, step):
        """The knots before and after `step`, and how far along it is."""
        _require(step <= self.total_steps, self, f"tried to step {step} times, "
                 f"but total_steps is {self.total_steps}")
        knots, after = self._knots(), 1
        while after < len(knots) - 1 and step > knots[after][0]:
            after += 1
        before, after = knots[after - 1], knots[after]
        return before, after, (step - before[0]) / (after[0] - before[0])

    def _anneal(self, start, end, pct):
        """Go from `start` (pct = 0) to `end` (pct = 1)."""
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def factor(self, step):
        before, after, pct = self._position(step)
        return self._anneal(before[1], after[1], pct)

    def _go_to(self, step):
        """The lr, and the momentum of every group, at `step`."""
        super()._go_to(step)
        if not self.cycle_momentum:
            return
        before, after, pct = self._position(step)
        for group in self.optimizer.param_groups:
            momentum = self._anneal(group[before[2]], group[after[2]], pct)
            if self.use_beta1:
                group["betas"] = (momentum,) + tuple(group["betas"][1:])
            else:
                group["momentum"] = momentum
