"""``inference_mode``: PyTorch's faster ``no_grad`` for evaluation.

minidl has no separate inference tensors, so inference mode is no_grad:
no graph is recorded inside it. ``inference_mode(False)`` leaves the mode
as it is. It works as a context manager and as a decorator (with or
without parentheses), like ``no_grad``, whose machinery it shares.
"""
from .grad_mode import _GradMode, is_grad_enabled


class inference_mode(_GradMode):
    """Do not record the graph while `mode` is true (the default)."""

    def __new__(cls, mode=True):
        # A function instead of a mode: a bare decorator, @inference_mode.
        return super().__new__(cls, mode)

    def __init__(self, mode=True):
        self.mode = bool(mode)

    @property
    def enabled(self):
        """The mode inside the block, read on entry: off, or unchanged
        for inference_mode(False)."""
        return False if self.mode else is_grad_enabled()

    def _fresh(self):
        return inference_mode(self.mode)


def is_inference_mode_enabled():
    """False: minidl has no inference tensors (see :class:`inference_mode`)."""
    return False
