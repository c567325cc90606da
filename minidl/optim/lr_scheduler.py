"""Learning-rate schedulers: change each group's ``"lr"`` as training goes.

As in PyTorch, building a scheduler applies its step 0, then
``scheduler.step()`` follows each ``optimizer.step()``; ``last_epoch``
counts the steps. Each schedule is a closed form: a subclass of
:class:`LRScheduler` writes ``factor(step)``, and each group's lr is
``base_lr * factor(step)``, the sequence of PyTorch's to rounding (PyTorch
multiplies step by step). PyTorch's schedulers are *chainable*: each step
scales whatever lr the group has. These own the lr of their optimizer: run
schedules one after another with :class:`SequentialLR`; if something else
changes a group's lr between two steps, ``step()`` raises rather than undo
it silently. :class:`ReduceLROnPlateau` follows a metric instead
(:mod:`minidl.optim.plateau`); :class:`OneCycleLR` lives in
:mod:`minidl.optim.one_cycle`.

``state_dict()`` holds plain data (no optimizer), for ``minidl.save``: to
resume, build the optimizer and scheduler as before, then load both states.
"""
import math
from bisect import bisect_right

from ..serialization import load_plain_attributes, plain_attributes
from .optimizer import Optimizer
from .plateau import ReduceLROnPlateau

__all__ = ["LRScheduler", "LambdaLR", "StepLR", "MultiStepLR", "ExponentialLR",
           "LinearLR", "CosineAnnealingLR", "OneCycleLR", "SequentialLR",
           "ReduceLROnPlateau"]


def _require(ok, scheduler, message, error=ValueError):
    """Raise `error` with `message`, naming the scheduler, unless `ok`."""
    if not ok:
        raise error(f"{type(scheduler).__name__}: {message}")


def _is_positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _per_group(scheduler, name, value, optimizer):
    """`value` repeated for each group, or a list checked to have one per group."""
    count = len(optimizer.param_groups)
    if not isinstance(value, (list, tuple)):
        return [value] * count
    _require(len(value) == count, scheduler, f"{name} has {len(value)} values, "
             f"but the optimizer has {count} parameter groups")
    return list(value)


def _group_lrs(optimizer):
    return [group["lr"] for group in optimizer.param_groups]


class LRScheduler:
    """Base class: each group's lr = base_lr * ``factor(last_epoch)``.

    On creation (``last_epoch=-1``) each group gets ``initial_lr`` (its
    current lr, unless an earlier scheduler set it already), and
    ``base_lrs`` lists them. ``last_epoch=k >= 0`` resumes a schedule at
    step k + 1 and needs ``initial_lr`` in every group.
    """

    def __init__(self, optimizer, last_epoch=-1):
        _require(isinstance(optimizer, Optimizer), self, "expected an Optimizer, "
                 f"got {type(optimizer).__name__}", TypeError)
        self.optimizer = optimizer
        for index, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            _require("initial_lr" in group, self, "param 'initial_lr' is not "
                     f"specified in param_groups[{index}] when resuming with "
                     f"last_epoch={last_epoch}; load the optimizer's state "
                     "first", KeyError)
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self._go_to(last_epoch + 1)

    def factor(self, step):
        """The lr at `step` divided by the base lr; subclasses write it."""
        raise NotImplementedError

    def get_lr(self):
        """The learning rate of each group at step ``last_epoch``."""
        factor = self.factor(self.last_epoch)
        return [base_lr * factor for base_lr in self.base_lrs]

    def get_last_lr(self):
        """The learning rates set by the latest ``step()``, one per group."""
        return list(self._last_lr)

    def step(self):
        """Advance the schedule by one step (call it after optimizer.step())."""
        lrs = _group_lrs(self.optimizer)
        if lrs != self._last_lr:
            raise RuntimeError(
                f"{type(self).__name__}.step: the optimizer's learning rates are "
                f"{lrs}, but this scheduler last set {self._last_lr}. Something "
                "else changed them (another scheduler stepping the same "
                "optimizer, or a hand-set lr), and base_lr * factor(step) would "
                "undo that: run schedules one after another with SequentialLR, "
                "or change scheduler.base_lrs.")
        self._go_to(self.last_epoch + 1)

    def _go_to(self, step):
        """Set every group's lr to its value at `step`."""
        self.last_epoch = step
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = _group_lrs(self.optimizer)

    def state_dict(self):
        """Every attribute except the optimizer, as plain data."""
        return plain_attributes(self, skip=("optimizer",))

    def load_state_dict(self, state_dict):
        """Restore the attributes saved by ``state_dict()`` (keys an older
        minidl saved and this one no longer has are skipped)."""
        load_plain_attributes(self, state_dict, skip=("optimizer",))


class LambdaLR(LRScheduler):
    """A factor given by a function of the step, one for all groups or one
    per group: lr(t) = base_lr * lr_lambda(t). The functions are not part
    of ``state_dict()`` (as in PyTorch): build the scheduler with them
    again before loading a state."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        self.lr_lambdas = _per_group(self, "lr_lambda", lr_lambda, optimizer)
        _require(all(callable(f) for f in self.lr_lambdas), self,
                 "lr_lambda must be a function of the step (or a list of them)",
                 TypeError)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * lr_lambda(self.last_epoch)
                for base_lr, lr_lambda in zip(self.base_lrs, self.lr_lambdas)]

    def state_dict(self):
        return plain_attributes(self, skip=("optimizer", "lr_lambdas"))

    def load_state_dict(self, state_dict):
        load_plain_attributes(self, state_dict, skip=("optimizer", "lr_lambdas"))


class StepLR(LRScheduler):
    """Multiply the lr by `gamma` every `step_size` steps:
    factor(t) = gamma ** (t // step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        _require(_is_positive_int(step_size), self, "step_size must be a "
                 f"positive int, got {step_size!r}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def factor(self, step):
        return self.gamma ** (step // self.step_size)


class MultiStepLR(LRScheduler):
    """Multiply the lr by `gamma` at each step in `milestones` (by gamma ** k
    at a milestone listed k times): factor(t) = gamma ** (milestones <= t)."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        milestones = list(milestones)
        _require(all(isinstance(m, int) and not isinstance(m, bool)
                     for m in milestones), self,
                 f"milestones must be ints, got {milestones!r}")
        _require(milestones == sorted(milestones), self,
                 f"milestones must be increasing, got {milestones!r}")
        self.milestones, self.gamma = milestones, gamma
        super().__init__(optimizer, last_epoch)

    def factor(self, step):
        return self.gamma ** bisect_right(self.milestones, step)


class ExponentialLR(LRScheduler):
    """Multiply the lr by `gamma` every step: factor(t) = gamma ** t."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def factor(self, step):
        return self.gamma ** step


class LinearLR(LRScheduler):
    """A factor going linearly from `start_factor` to `end_factor` over
    `total_iters` steps, then staying (a warm-up when it rises):
    factor(t) = start + (end - start) * min(t, total_iters) / total_iters."""

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0,
                 total_iters=5, last_epoch=-1):
        _require(0 < start_factor <= 1, self,
                 f"start_factor must be in (0, 1], got {start_factor!r}")
        _require(0 <= end_factor <= 1, self,
                 f"end_factor must be in [0, 1], got {end_factor!r}")
        _require(isinstance(total_iters, int) and total_iters >= 0, self,
                 f"total_iters must be an int >= 0, got {total_iters!r}")
        self.start_factor, self.end_factor = start_factor, end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def factor(self, step):
        if self.total_iters == 0:  # no steps to move in: PyTorch stays at start
            return self.start_factor
        done = min(step, self.total_iters) / self.total_iters
        return self.start_factor + (self.end_factor - self.start_factor) * done


class CosineAnnealingLR(LRScheduler):
    """Anneal the lr along a half cosine from base_lr down to `eta_min` over
    `T_max` steps (and back up over the next T_max: periodic, no restart):
    lr(t) = eta_min + (base_lr - eta_min) * factor(t),
    factor(t) = (1 + cos(pi t / T_max)) / 2."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        _require(_is_positive_int(T_max), self,
                 f"T_max must be a positive int, got {T_max!r}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def factor(self, step):
        return (1 + math.cos(math.pi * step / self.T_max)) / 2

    def get_lr(self):
        factor = self.factor(self.last_epoch)
        return [self.eta_min + (base_lr - self.eta_min) * factor
                for base_lr in self.base_lrs]


class SequentialLR(LRScheduler):
    """Run `schedulers` one after the other, switching at `milestones`
    (steps counted from the start; one milestone fewer than schedulers)::

        warmup = LinearLR(optimizer, start_factor=0.1, total_iters=5)
        decay = CosineAnnealingLR(optimizer, T_max=95)
        scheduler = SequentialLR(optimizer, [warmup, decay], milestones=[5])

    At step t, the scheduler whose turn it is goes to its own step
    t - (its milestone): each starts from its step 0 (usually the base lr).
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        schedulers, milestones = list(schedulers), list(milestones)
        _require(len(schedulers) >= 1, self, "expected at least one scheduler")
        for index, scheduler in enumerate(schedulers):
            _require(not isinstance(scheduler, ReduceLROnPlateau), self,
                     f"scheduler {index} is a ReduceLROnPlateau, which needs a "
                     "metric at each step and cannot be sequenced")
            _require(isinstance(scheduler, LRScheduler), self, f"scheduler "
                     f"{index} is a {type(scheduler).__name__}, not an "
                     "LRScheduler", TypeError)
            _require(scheduler.optimizer is optimizer, self, f"scheduler {index} "
                     f"({type(scheduler).__name__}) belongs to another optimizer")
        _require(len(milestones) == len(schedulers) - 1, self, "expected one "
                 f"milestone fewer than schedulers, got {len(schedulers)} "
                 f"schedulers and {len(milestones)} milestones")
        self._schedulers, self._milestones = schedulers, milestones
        super().__init__(optimizer, last_epoch)

    def _go_to(self, step):
        index = bisect_right(self._milestones, step)
        start = self._milestones[index - 1] if index > 0 else 0
        scheduler = self._schedulers[index]
        scheduler._go_to(step - start)
        self.last_epoch = step
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self):
        """Its own attributes, and each scheduler's state dict in a list."""
        state = plain_attributes(self, skip=("optimizer", "_schedulers"))
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        inner_states = state_dict["_schedulers"]
        _require(len(inner_states) == len(self._schedulers), self,
                 f"load_state_dict: the state has {len(inner_states)} "
                 f"schedulers, this SequentialLR has {len(self._schedulers)}")
        load_plain_attributes(self, state_dict, skip=("optimizer", "_schedulers"))
        for scheduler, inner in zip(self._schedulers, inner_states):
            scheduler.load_state_dict(inner)


# OneCycleLR, the longest schedule, has a file of its own; it builds on
# LRScheduler above, so it is imported last.
from .one_cycle import OneCycleLR  # noqa: E402
