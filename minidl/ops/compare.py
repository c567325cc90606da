"""Comparisons and other results without gradients (boolean or index tensors)."""
from ..backend import get_array_module
from ..tensor import Tensor


def _compare(x, y, operation):
    x_data = x.data if isinstance(x, Tensor) else x
    y_data = y.data if isinstance(y, Tensor) else y
    return Tensor(operation(x_data, y_data))


def eq(x, y):
    return _compare(x, y, lambda a, b: a == b)


def ne(x, y):
    return _compare(x, y, lambda a, b: a != b)


def lt(x, y):
    return _compare(x, y, lambda a, b: a < b)


def le(x, y):
    return _compare(x, y, lambda a, b: a <= b)


def gt(x, y):
    return _compare(x, y, lambda a, b: a > b)


def ge(x, y):
    return _compare(x, y, lambda a, b: a >= b)


def argmax(x, dim=None, keepdim=False):
    xp = get_array_module(x.data)
    return Tensor(xp.argmax(x.data, axis=dim, keepdims=keepdim).astype("int64"))


def argmin(x, dim=None, keepdim=False):
    xp = get_array_module(x.data)
    return Tensor(xp.argmin(x.data, axis=dim, keepdims=keepdim).astype("int64"))


def allclose(x, y, rtol=1e-5, atol=1e-8):
    xp = get_array_module(x.data)
    return bool(xp.allclose(x.data, y.data, rtol=rtol, atol=atol))
