"""Learning-rate schedulers: change each group's ``"lr"`` as training goes.

The pattern is PyTorch's::

    scheduler = CosineAnnealingLR(optimizer, T_max=100)
    for epoch in range(100):
        train_one_epoch()           # calls optimizer.step()
        scheduler.step()            # then the scheduler

Building a scheduler already applies its first learning rate (the one for
step 0). ``last_epoch`` counts the calls to ``step()``; ``get_last_lr()``
gives the learning rate of each group after the latest one.

Most schedulers here are *chainable*, as in PyTorch: each step scales the
group's current ``lr`` (rather than recomputing it from ``base_lrs``), so two
schedulers can act on the same optimizer and :class:`SequentialLR` can hand
over from one to the next. The formulas below follow PyTorch's step by step,
so the sequences agree with it to the last bits.

``state_dict()`` holds plain numbers, strings, lists and dicts (no
optimizer), so it can be saved with ``minidl.save``; to resume, build the
optimizer and scheduler as before, then load the optimizer's state and the
scheduler's.
"""
import math
from bisect import bisect_right
from collections import Counter

from .optimizer import Optimizer, _from_saved, _plain

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "LinearLR",
           "CosineAnnealingLR", "OneCycleLR", "SequentialLR",
           "ReduceLROnPlateau"]


def _check_optimizer(scheduler, optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError("{}: expected an Optimizer, got {}".format(
            type(scheduler).__name__, type(optimizer).__name__))


def _per_group(scheduler, name, value, optimizer):
    """`value` repeated for each group, or a list checked to have one per group."""
    count = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ValueError("{}: {} has {} values, but the optimizer has {} "
                             "parameter groups".format(type(scheduler).__name__,
                                                       name, len(value), count))
        return list(value)
    return [value] * count


class LRScheduler:
    """Base class: ``step()``, ``get_last_lr()``, ``last_epoch``, state dicts.

    A subclass writes ``get_lr()``: the learning rate of each group at step
    ``self.last_epoch``, usually from the group's current ``lr``.

    On creation (``last_epoch=-1``) each group gets ``initial_lr`` (its
    current lr, unless an earlier scheduler set it already), and
    ``base_lrs`` lists them. Passing ``last_epoch >= 0`` resumes a schedule
    and needs ``initial_lr`` in every group.
    """

    def __init__(self, optimizer, last_epoch=-1):
        _check_optimizer(self, optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for index, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError("{}: param 'initial_lr' is not specified in "
                                   "param_groups[{}] when resuming with "
                                   "last_epoch={}; load the optimizer's state "
                                   "first".format(type(self).__name__, index,
                                                  last_epoch))
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._is_initial = False
        self._initial_step()

    def _initial_step(self):
        """Apply the learning rate of the first step (step 0)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self):
        """The learning rate of each group at step ``last_epoch``."""
        raise NotImplementedError

    def get_last_lr(self):
        """The learning rates set by the latest ``step()``, one per group."""
        return list(self._last_lr)

    def step(self):
        """Advance the schedule by one step (call it after optimizer.step())."""
        self._step_count += 1
        self._update_lr()

    def _update_lr(self, epoch=None):
        """Go to the next step, or jump to `epoch` with the closed form (as
        SequentialLR does when it hands over to the next scheduler)."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    # -- saving and resuming ---------------------------------------------------
    def state_dict(self):
        """Every attribute except the optimizer, as plain data (numbers,
        strings, None, and lists and dicts of them; tuples become lists)."""
        return {key: _plain(value) for key, value in self.__dict__.items()
                if key != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore attributes saved by ``state_dict()``."""
        self.__dict__.update({key: _from_saved(value)
                              for key, value in state_dict.items()})

    def _group_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]


class StepLR(LRScheduler):
    """Multiply each group's lr by `gamma` every `step_size` steps.

    lr at step t = base_lr * gamma ** (t // step_size).
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if not isinstance(step_size, int) or isinstance(step_size, bool) \
                or step_size <= 0:
            raise ValueError("StepLR: step_size must be a positive int, got {!r}"
                             .format(step_size))
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._group_lrs()
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size)
                for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply each group's lr by `gamma` at each step listed in
    `milestones` (by gamma ** k for a milestone listed k times).

    lr at step t = base_lr * gamma ** (number of milestones <= t).
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        milestones = list(milestones)
        for milestone in milestones:
            if not isinstance(milestone, int) or isinstance(milestone, bool):
                raise ValueError("MultiStepLR: milestones must be ints, got {!r}"
                                 .format(milestones))
        if milestones != sorted(milestones):
            raise ValueError("MultiStepLR: milestones must be increasing, got {!r}"
                             .format(milestones))
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self._group_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        milestones = sorted(self.milestones.elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch)
                for base_lr in self.base_lrs]

    def state_dict(self):
        """As the base's, with the milestones as a sorted list (repeats kept)."""
        state = super().state_dict()
        state["milestones"] = sorted(self.milestones.elements())
        return state

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self.milestones = Counter(int(m) for m in self.milestones)


class LinearLR(LRScheduler):
    """Scale each group's lr by a factor going linearly from `start_factor`
    to `end_factor` over `total_iters` steps (a warm-up when it rises).

    lr at step t = base_lr * (start_factor + (end_factor - start_factor)
    * min(t, total_iters) / total_iters).
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0,
                 total_iters=5, last_epoch=-1):
        if not 0 < start_factor <= 1:
            raise ValueError("LinearLR: start_factor must be in (0, 1], got {!r}"
                             .format(start_factor))
        if not 0 <= end_factor <= 1:
            raise ValueError("LinearLR: end_factor must be in [0, 1], got {!r}"
                             .format(end_factor))
        if not isinstance(total_iters, int) or total_iters < 0:
            raise ValueError("LinearLR: total_iters must be an int >= 0, got {!r}"
                             .format(total_iters))
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor
                    for group in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._group_lrs()
        # The ratio of this step's factor to the previous step's.
        change = self.end_factor - self.start_factor
        ratio = 1.0 + change / (self.total_iters * self.start_factor
                                + (self.last_epoch - 1) * change)
        return [group["lr"] * ratio for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        done = min(self.total_iters, self.last_epoch)
        factor = self.start_factor + (self.end_factor - self.start_factor) * done \
            / self.total_iters
        return [base_lr * factor for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Anneal each group's lr along a half cosine from base_lr down to
    `eta_min` over `T_max` steps (and back up over the next T_max: the
    schedule is periodic, with no restart).

    lr at step t = eta_min + (base_lr - eta_min) * (1 + cos(pi t / T_max)) / 2,
    computed recursively from the previous lr, as PyTorch does.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if not isinstance(T_max, int) or isinstance(T_max, bool) or T_max <= 0:
            raise ValueError("CosineAnnealingLR: T_max must be a positive int, "
                             "got {!r}".format(T_max))
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        t, period = self.last_epoch, self.T_max
        if self._is_initial:
            return self._group_lrs()
        if (t - 1 - period) % (2 * period) == 0:
            # Leaving the bottom of the cosine, where the ratio below is 0/0.
            return [group["lr"] + (base_lr - self.eta_min)
                    * (1 - math.cos(math.pi / period)) / 2
                    for base_lr, group in zip(self.base_lrs, groups)]
        # Ratio of (lr - eta_min) at step t to its value at step t - 1.
        ratio = (1 + math.cos(math.pi * t / period)) \
            / (1 + math.cos(math.pi * (t - 1) / period))
        return [ratio * (group["lr"] - self.eta_min) + self.eta_min
                for group in groups]

    def _get_closed_form_lr(self):
        return [self.eta_min + (base_lr - self.eta_min)
                * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base_lr in self.base_lrs]


class OneCycleLR(LRScheduler):
    """The 1cycle policy: lr rises from max_lr / div_factor to `max_lr` over
    the first `pct_start` of the steps, then falls to
    max_lr / (div_factor * final_div_factor). Step it after every batch.

    Args:
        max_lr: the peak lr (one number, or one per group).
        total_steps, or epochs and steps_per_epoch: the length of the cycle.
        pct_start: the fraction of the steps spent rising (default 0.3).
        anneal_strategy: "cos" (default) or "linear".
        cycle_momentum: move momentum (SGD's ``momentum``, or beta1 of
            Adam's ``betas``) the other way, from `max_momentum` at the start
            down to `base_momentum` at the peak of lr and back.
        three_phase: rise, fall back to the initial lr symmetrically, then
            fall further to the minimum (the original paper's schedule).
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None,
                 steps_per_epoch=None, pct_start=0.3, anneal_strategy="cos",
                 cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False,
                 last_epoch=-1):
        _check_optimizer(self, optimizer)
        self.optimizer = optimizer
        self.total_steps = self._count_steps(total_steps, epochs, steps_per_epoch)
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError("OneCycleLR: pct_start must be a float in [0, 1], "
                             "got {!r}".format(pct_start))
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError("OneCycleLR: anneal_strategy must be 'cos' or "
                             "'linear', got {!r}".format(anneal_strategy))
        self._anneal_func_type = anneal_strategy
        self._schedule_phases = self._phases(pct_start, three_phase)

        max_lrs = _per_group(self, "max_lr", max_lr, optimizer)
        if last_epoch == -1:
            for group, group_max_lr in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = group_max_lr / div_factor
                group["max_lr"] = group_max_lr
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError("OneCycleLR: cycle_momentum=True needs an optimizer "
                                 "with 'momentum' or 'betas', {} has neither; pass "
                                 "cycle_momentum=False".format(type(optimizer).__name__))
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = _per_group(self, "max_momentum", max_momentum, optimizer)
            base_momentums = _per_group(self, "base_momentum", base_momentum, optimizer)
            if last_epoch == -1:
                for group, high, low in zip(optimizer.param_groups, max_momentums,
                                            base_momentums):
                    self._set_momentum(group, high)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _count_steps(total_steps, epochs, steps_per_epoch):
        def positive_int(value):
            return isinstance(value, int) and not isinstance(value, bool) and value > 0
        if total_steps is not None:
            if not positive_int(total_steps):
                raise ValueError("OneCycleLR: total_steps must be a positive int, "
                                 "got {!r}".format(total_steps))
            return total_steps
        if epochs is not None and steps_per_epoch is not None:
            if not positive_int(epochs):
                raise ValueError("OneCycleLR: epochs must be a positive int, got "
                                 "{!r}".format(epochs))
            if not positive_int(steps_per_epoch):
                raise ValueError("OneCycleLR: steps_per_epoch must be a positive "
                                 "int, got {!r}".format(steps_per_epoch))
            return epochs * steps_per_epoch
        raise ValueError("OneCycleLR: give total_steps, or both epochs and "
                         "steps_per_epoch")

    def _phases(self, pct_start, three_phase):
        """Each phase: the step where it ends and the group keys of the lr
        and momentum at its start and end."""
        def phase(end_step, start_lr, end_lr, start_momentum, end_momentum):
            return {"end_step": end_step, "start_lr": start_lr, "end_lr": end_lr,
                    "start_momentum": start_momentum, "end_momentum": end_momentum}
        rise_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            return [
                phase(rise_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                phase(float(2 * pct_start * self.total_steps) - 2, "max_lr",
                      "initial_lr", "base_momentum", "max_momentum"),
                phase(self.total_steps - 1, "initial_lr", "min_lr", "max_momentum",
                      "max_momentum"),
            ]
        return [
            phase(rise_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
            phase(self.total_steps - 1, "max_lr", "min_lr", "base_momentum",
                  "max_momentum"),
        ]

    def _set_momentum(self, group, momentum):
        if self.use_beta1:
            group["betas"] = (momentum,) + tuple(group["betas"][1:])
        else:
            group["momentum"] = momentum

    def _anneal(self, start, end, pct):
        """Go from `start` (pct = 0) to `end` (pct = 1)."""
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError("OneCycleLR: tried to step {} times, but total_steps "
                             "is {}".format(step, self.total_steps))
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for index, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step <= end_step or index == len(self._schedule_phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    lr = self._anneal(group[phase["start_lr"]],
                                      group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal(group[phase["start_momentum"]],
                                                group[phase["end_momentum"]], pct)
                    break
                start_step = phase["end_step"]
            lrs.append(lr)
            if self.cycle_momentum:
                self._set_momentum(group, momentum)
        return lrs


class SequentialLR(LRScheduler):
    """Run `schedulers` one after the other, switching at `milestones`
    (steps counted from the start; one milestone fewer than schedulers).

    For a warm-up followed by a cosine decay::

        warmup = LinearLR(optimizer, start_factor=0.1, total_iters=5)
        decay = CosineAnnealingLR(optimizer, T_max=95)
        scheduler = SequentialLR(optimizer, [warmup, decay], milestones=[5])

    At a milestone the next scheduler starts from its own step 0 (its
    closed form at 0: usually the base lr).
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        _check_optimizer(self, optimizer)
        schedulers = list(schedulers)
        milestones = list(milestones)
        if len(schedulers) < 1:
            raise ValueError("SequentialLR: expected at least one scheduler")
        for index, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError("SequentialLR: scheduler {} is a ReduceLROnPlateau, "
                                 "which needs a metric at each step and cannot "
                                 "be sequenced".format(index))
            if not isinstance(scheduler, LRScheduler):
                raise TypeError("SequentialLR: scheduler {} is a {}, not an "
                                "LRScheduler".format(index, type(scheduler).__name__))
            if scheduler.optimizer is not optimizer:
                raise ValueError("SequentialLR: scheduler {} ({}) belongs to another "
                                 "optimizer".format(index, type(scheduler).__name__))
        if len(milestones) != len(schedulers) - 1:
            raise ValueError("SequentialLR: expected one milestone fewer than "
                             "schedulers, got {} schedulers and {} milestones"
                             .format(len(schedulers), len(milestones)))
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # Undo the first step that building each scheduler applied, then
        # apply the first scheduler's step 0 alone.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._undo_initial_steps(self)
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def _undo_initial_steps(self, scheduler):
        if isinstance(scheduler, SequentialLR):
            for inner in scheduler._schedulers:
                self._undo_initial_steps(inner)
        else:
            scheduler.last_epoch -= 1

    def step(self):
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self):
        """Its own attributes, and each scheduler's state dict in a list."""
        state = {key: _plain(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        inner_states = state_dict.pop("_schedulers")
        if len(inner_states) != len(self._schedulers):
            raise ValueError("SequentialLR.load_state_dict: the state has {} "
                             "schedulers, this SequentialLR has {}".format(
                                 len(inner_states), len(self._schedulers)))
        self.__dict__.update({key: _from_saved(value)
                              for key, value in state_dict.items()})
        for scheduler, inner in zip(self._schedulers, inner_states):
            scheduler.load_state_dict(inner)


class ReduceLROnPlateau(LRScheduler):
    """Divide the lr when a metric stops improving: ``scheduler.step(val_loss)``.

    Args:
        mode: "min" (the metric should fall, e.g. a loss) or "max" (rise,
            e.g. an accuracy).
        factor: new_lr = lr * factor (must be < 1).
        patience: how many steps without improvement to allow; the lr drops
            on the next one.
        threshold, threshold_mode: what counts as an improvement: better
            than best * (1 -/+ threshold) in "rel" mode, best -/+ threshold
            in "abs" mode.
        cooldown: steps to wait after a drop before counting bad steps again.
        min_lr: a lower bound on the lr (one number, or one per group).
        eps: drops smaller than this are skipped.
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10,
                 threshold=1e-4, threshold_mode="rel", cooldown=0, min_lr=0,
                 eps=1e-8):
        _check_optimizer(self, optimizer)
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau: factor must be < 1.0, got {!r}"
                             .format(factor))
        self.factor = factor
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr = None
            self.min_lrs = _per_group(self, "min_lr", min_lr, optimizer)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = self._group_lrs()
        self._init_is_better(mode, threshold, threshold_mode)
        self._reset()

    def _init_is_better(self, mode, threshold, threshold_mode):
        if mode not in ("min", "max"):
            raise ValueError("ReduceLROnPlateau: mode must be 'min' or 'max', got "
                             "{!r}".format(mode))
        if threshold_mode not in ("rel", "abs"):
            raise ValueError("ReduceLROnPlateau: threshold_mode must be 'rel' or "
                             "'abs', got {!r}".format(threshold_mode))
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf

    def _reset(self):
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _is_better(self, value, best):
        if self.mode == "min" and self.threshold_mode == "rel":
            return value < best * (1.0 - self.threshold)
        if self.mode == "min":
            return value < best - self.threshold
        if self.threshold_mode == "rel":
            return value > best * (self.threshold + 1.0)
        return value > best + self.threshold

    def step(self, metrics):
        """Record this step's metric (a number or a one-element Tensor)."""
        current = float(metrics.item() if hasattr(metrics, "item") else metrics)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad steps in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._group_lrs()

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError("ReduceLROnPlateau: the optimizer has {} parameter "
                                   "groups but min_lr gave {}; set min_lrs to one "
                                   "value per group".format(len(groups),
                                                            len(self.min_lrs)))
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)
