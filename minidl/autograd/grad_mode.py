"""Switching graph recording on and off: ``no_grad`` and ``enable_grad``.

Both work as context managers and as decorators (with or without
parentheses)::

    with minidl.no_grad():
        y = model(x)          # no graph is recorded

    @minidl.no_grad()
    def evaluate(model, x): ...

``set_grad_enabled(mode)`` switches at once, and also works as a context
manager that switches back on exit. As in PyTorch the mode belongs to the
thread, so a data-loading thread cannot switch it off for the training loop.
"""
import functools
import threading

_state = threading.local()


def is_grad_enabled():
    """True when new ops record the graph needed for backward."""
    return getattr(_state, "enabled", True)


def _set_enabled(mode):
    _state.enabled = bool(mode)


class _GradMode:
    """Base of the context managers: set `enabled` on entry, restore on exit."""
    enabled = True

    def __new__(cls, function=None):
        # Used as a bare decorator (`@no_grad`): decorate right away.
        if function is not None and callable(function):
            return cls()(function)
        return super().__new__(cls)

    def __enter__(self):
        self._previous = is_grad_enabled()
        _set_enabled(self.enabled)
        return self

    def __exit__(self, *exc):
        _set_enabled(self._previous)

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self._fresh():
                return func(*args, **kwargs)
        return wrapper

    def _fresh(self):
        """A new manager like this one: each call of a decorated function
        enters its own (calls may nest or run in several threads)."""
        return self.__class__()


class no_grad(_GradMode):
    """Do not record the graph (evaluation, optimizer updates)."""
    enabled = False


class enable_grad(_GradMode):
    """Record the graph again, inside a ``no_grad`` block."""
    enabled = True


class set_grad_enabled:
    """Record the graph or not, from now on; as a context manager, only
    inside the block (``with set_grad_enabled(phase == "train"): ...``)."""

    def __init__(self, mode):
        self._previous = is_grad_enabled()
        _set_enabled(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set_enabled(self._previous)
