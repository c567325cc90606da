"""ReduceLROnPlateau: lower the learning rate when a metric stops improving.

Unlike the schedules of :mod:`minidl.optim.lr_scheduler`, the lr here
depends on the metrics seen, not on the step: it is not a closed form, so
this is a class of its own, which only ever multiplies the lr it finds in
each group. The decisions (patience, cooldown, thresholds) are PyTorch's.
"""
import math

from ..serialization import load_plain_attributes, plain_attributes
from .optimizer import Optimizer


class ReduceLROnPlateau:
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
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"ReduceLROnPlateau: expected an Optimizer, got "
                            f"{type(optimizer).__name__}")
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1.0, got "
                             f"{factor!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', "
                             f"got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' "
                             f"or 'abs', got {threshold_mode!r}")
        groups = optimizer.param_groups
        if isinstance(min_lr, (list, tuple)) and len(min_lr) != len(groups):
            raise ValueError(f"ReduceLROnPlateau: min_lr has {len(min_lr)} "
                             f"values, but the optimizer has {len(groups)} "
                             "parameter groups")
        self.optimizer = optimizer
        self.factor = factor
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr, self.min_lrs = None, list(min_lr)
        else:
            self.default_min_lr, self.min_lrs = min_lr, [min_lr] * len(groups)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in groups]

    def get_last_lr(self):
        """The learning rates after the latest ``step()``, one per group."""
        return list(self._last_lr)

    def _is_better(self, value):
        if self.mode == "min" and self.threshold_mode == "rel":
            return value < self.best * (1.0 - self.threshold)
        if self.mode == "min":
            return value < self.best - self.threshold
        if self.threshold_mode == "rel":
            return value > self.best * (self.threshold + 1.0)
        return value > self.best + self.threshold

    def step(self, metrics):
        """Record this step's metric (a number or a one-element Tensor)."""
        current = float(metrics.item() if hasattr(metrics, "item") else metrics)
        self.last_epoch += 1
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad steps in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):  # groups were added since
            if self.default_min_lr is None:
                raise RuntimeError(f"ReduceLROnPlateau: the optimizer has "
                                   f"{len(groups)} parameter groups but min_lr "
                                   f"gave {len(self.min_lrs)}; set min_lrs to "
                                   "one value per group")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def state_dict(self):
        """Every attribute except the optimizer, as plain data."""
        return plain_attributes(self, skip=("optimizer",))

    def load_state_dict(self, state_dict):
        """Restore the attributes saved by ``state_dict()``; keys it does not
        have (an older minidl saved ``mode_worse`` too) are skipped."""
        load_plain_attributes(self, state_dict, skip=("optimizer",))
