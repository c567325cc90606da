"""Optimizers (``minidl.optim``) and learning-rate schedulers
(``minidl.optim.lr_scheduler``), with PyTorch's names, arguments and
update rules.

Read ``optimizer.py`` first (parameter groups, state dicts), then ``sgd.py``
and ``adam.py`` (the update of one parameter, a kernel in the registry of
:mod:`minidl.kernels`), then ``lr_scheduler.py`` (schedules in closed form)
and ``plateau.py`` (ReduceLROnPlateau, driven by a metric).
"""
from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler"]
