"""Switching graph recording on and off: ``no_grad`` and ``enable_grad``.

Both work as context managers and as decorators::

    with minidl.no_grad():
        y = model(x)          # no graph is recorded

    @minidl.no_grad()
    def evaluate(model, x): ...
"""
import functools

_grad_enabled = True


def is_grad_enabled():
    """True when new ops record the graph needed for backward."""
    return _grad_enabled


def set_grad_enabled(mode):
    global _grad_enabled
    _grad_enabled = bool(mode)


class _GradMode:
    enabled = True

    def __enter__(self):
        self._previous = is_grad_enabled()
        set_grad_enabled(self.enabled)
        return self

    def __exit__(self, *exc):
        set_grad_enabled(self._previous)

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Do not record the graph (evaluation, optimizer updates)."""
    enabled = False


class enable_grad(_GradMode):
    """Record the graph again, inside a ``no_grad`` block."""
    enabled = True
