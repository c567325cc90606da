"""All tensor ops, as functions. ``minidl.ops.install_methods`` also makes
them Tensor methods and operators (``x + y``, ``x.sum(dim=1)``)."""
from ..tensor import as_tensor
from .arithmetic import add, div, mul, neg, pow, sub, sum_to_shape
from .compare import allclose, argmax, argmin, eq, ge, gt, le, lt, ne
from .elementwise import (abs, astype, clamp, clone, exp, log, maximum, minimum,
                          relu, sigmoid, sign, sqrt, tanh, to_device, where)
from .indexing import gather, getitem, index_put, scatter_along
from .linalg import matmul
from .reduction import amax, amin, logsumexp, max, mean, min, std, sum, var
from .shape import (cat, expand, flatten, pad, permute, reshape, squeeze, stack,
                    transpose, unsqueeze)
from .softmax import log_softmax, softmax


def _swap(function):
    """For reflected operators: ``2 - x`` calls ``x.__rsub__(2)``."""
    def reflected(x, y):
        return function(as_tensor(y, like=x), x)
    return reflected


def _with_other(function):
    """Operators whose right operand may be a Python number."""
    def method(x, y):
        return function(x, as_tensor(y, like=x))
    return method


def install_methods(tensor_class):
    """Give Tensor its operators and methods (called once, at import)."""
    operators = {
        "__add__": _with_other(add), "__radd__": _swap(add),
        "__sub__": _with_other(sub), "__rsub__": _swap(sub),
        "__mul__": _with_other(mul), "__rmul__": _swap(mul),
        "__truediv__": _with_other(div), "__rtruediv__": _swap(div),
        "__pow__": _with_other(pow), "__rpow__": _swap(pow),
        "__matmul__": matmul, "__rmatmul__": _swap(matmul),
        "__neg__": neg, "__abs__": abs, "__getitem__": getitem,
        "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le,
        "__gt__": gt, "__ge__": ge,
    }
    methods = {
        "add": _with_other(add), "sub": _with_other(sub),
        "mul": _with_other(mul), "div": _with_other(div),
        "pow": _with_other(pow), "neg": neg, "matmul": matmul,
        "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "tanh": tanh,
        "sigmoid": sigmoid, "relu": relu, "clamp": clamp,
        "maximum": maximum, "minimum": minimum,
        "sum": sum, "mean": mean, "var": var, "std": std, "max": max,
        "min": min, "amax": amax, "amin": amin, "logsumexp": logsumexp,
        "argmax": argmax, "argmin": argmin,
        "reshape": reshape, "view": reshape, "flatten": flatten,
        "permute": permute, "transpose": transpose, "unsqueeze": unsqueeze,
        "squeeze": squeeze, "expand": expand, "gather": gather,
        "softmax": softmax, "log_softmax": log_softmax,
        "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge,
    }
    for name, function in {**operators, **methods}.items():
        setattr(tensor_class, name, function)
    # Comparisons return tensors, so Tensor keeps identity hashing.
    tensor_class.__hash__ = object.__hash__
