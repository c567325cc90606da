"""``inference_mode``: PyTorch's faster ``no_grad`` for evaluation.

minidl has no separate inference tensors, so inference mode is no_grad:
no graph is recorded inside it. ``inference_mode(False)`` records as
usual. It works as a context manager and as a decorator (with or without
parentheses), like ``no_grad``.
"""
import functools

from .grad_mode import _set_enabled, is_grad_enabled


class inference_mode:
    """Do not record the graph while `mode` is true (the default)."""

    def __new__(cls, mode=True):
        if callable(mode):  # used as a bare decorator: @inference_mode
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        self.mode = bool(mode)

    def __enter__(self):
        self._previous = is_grad_enabled()
        if self.mode:
            _set_enabled(False)
        return self

    def __exit__(self, *exc):
        _set_enabled(self._previous)

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with inference_mode(self.mode):
                return func(*args, **kwargs)
        return wrapper


def is_inference_mode_enabled():
    """False: minidl has no inference tensors (see :class:`inference_mode`)."""
    return False
