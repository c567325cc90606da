"""The optimizer and the learning-rate schedule of a fine-tuning run.

Every schedule here is stepped once per batch (after ``optimizer.step()``),
so the learning rate moves smoothly within an epoch; lengths given in
epochs are turned into batches with `steps_per_epoch`.

* ``constant``: the learning rate stays at ``--lr``;
* ``cosine``: CosineAnnealingLR from ``--lr`` down to 0 at the last batch;
* ``step``: StepLR, the learning rate times ``gamma`` every
  ``step_epochs`` epochs;
* ``onecycle``: OneCycleLR with PyTorch's defaults (the learning rate
  rises from lr/25 to lr over the first 30% of the batches, then falls to
  lr/25e4; SGD's momentum, or Adam's beta1, moves the other way between
  0.95 and 0.85, overriding ``--momentum``).

``--warmup-epochs W`` adds a linear warm-up (LinearLR from 1/10 of the
learning rate) over the first W epochs, followed by the schedule through
SequentialLR. OneCycleLR already warms up: there, W sets the length of its
rising phase instead (pct_start = W / epochs).
"""
from ..optim import SGD, AdamW
from ..optim.lr_scheduler import (CosineAnnealingLR, LinearLR, OneCycleLR,
                                  SequentialLR, StepLR)

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "onecycle", "step", "constant")
WARMUP_START_FACTOR = 0.1


def build_optimizer(name, groups, lr, momentum=0.9, nesterov=False,
                    weight_decay=0.0):
    """SGD or AdamW over parameter groups (each may carry its own lr)."""
    if name == "sgd":
        return SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov,
                   weight_decay=weight_decay)
    if name == "adamw":
        if nesterov:
            raise ValueError("--nesterov applies to --optimizer sgd only")
        return AdamW(groups, lr=lr, weight_decay=weight_decay)
    raise ValueError("--optimizer {!r}: expected one of {}".format(
        name, ", ".join(OPTIMIZERS)))


def build_scheduler(kind, optimizer, epochs, steps_per_epoch, warmup_epochs=0,
                    step_epochs=None, gamma=0.1):
    """The per-batch scheduler for `kind` (None for 'constant' without
    warm-up)."""
    if kind not in SCHEDULES:
        raise ValueError("--schedule {!r}: expected one of {}".format(
            kind, ", ".join(SCHEDULES)))
    if not 0 <= warmup_epochs < epochs:
        raise ValueError("--warmup-epochs {} must be >= 0 and below --epochs {}"
                         .format(warmup_epochs, epochs))
    total = epochs * steps_per_epoch
    warmup = int(round(warmup_epochs * steps_per_epoch))
    if kind == "onecycle":
        pct_start = float(warmup_epochs) / epochs if warmup_epochs else 0.3
        max_lrs = [group["lr"] for group in optimizer.param_groups]
        return OneCycleLR(optimizer, max_lr=max_lrs, total_steps=total,
                          pct_start=pct_start)
    if kind == "constant":
        main = None
    elif kind == "cosine":
        main = CosineAnnealingLR(optimizer, T_max=max(total - warmup, 1))
    else:
        step_epochs = step_epochs or max(1, epochs // 3)
        main = StepLR(optimizer, step_size=step_epochs * steps_per_epoch,
                      gamma=gamma)
    if warmup == 0:
        return main
    warm = LinearLR(optimizer, start_factor=WARMUP_START_FACTOR,
                    total_iters=warmup)
    if main is None:
        return warm  # after total_iters, LinearLR keeps the lr constant
    return SequentialLR(optimizer, [warm, main], milestones=[warmup])
