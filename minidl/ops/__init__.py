"""All tensor ops, as functions. Importing this package also makes them
Tensor methods and operators (``x + y``, ``x.sum(dim=1)``): see
:func:`install_methods`, called once at the end."""
import functools as _functools
import inspect as _inspect

import numpy as _np

from ..tensor import Tensor, as_tensor
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
from .arithmetic import addcdiv, addcmul, divide, positive, true_divide
from .elementwise import clamp_max, clamp_min, clip
from .error_function import erf, erfc, erfinv
from .exp_log import (exp2, expm1, float_power, log1p, log2, log10,
                      logaddexp, logaddexp2, logit, reciprocal, rsqrt, square,
                      xlogy)
from .float_checks import (equal, isclose, isfinite, isinf, isnan,
                           isneginf, isposinf, nan_to_num)
from .interpolation import lerp
from .logical import (bitwise_and, bitwise_left_shift, bitwise_not,
                      bitwise_or, bitwise_right_shift, bitwise_xor,
                      logical_and, logical_not, logical_or, logical_xor)
from .rounding import (ceil, copysign, fix, floor, floor_divide, fmod,
                       frac, remainder, round, trunc)
from .trig import (acos, acosh, arccos, arccosh, arcsin, arcsinh,
                   arctan, arctan2, arctanh, asin, asinh, atan, atan2, atanh,
                   cos, cosh, deg2rad, hypot, rad2deg, sin, sinh, tan)
from .reduction import std_mean, var_mean
from .rearrange import (atleast_1d, atleast_2d, atleast_3d, broadcast_tensors,
                        broadcast_to, chunk, expand_as, flip, fliplr, flipud,
                        hsplit, masked_fill, meshgrid, movedim, narrow, repeat,
                        repeat_interleave, reshape_as, roll, split, swapaxes,
                        take_along_dim, tensor_split, tile, unbind, unflatten,
                        unfold, view_as, vsplit)
from .scan import cummax, cummin, cumprod, cumsum, diff, logcumsumexp, prod
from .sort import argsort, kthvalue, median, mode, msort, sort, topk
from .selection import all, any, argwhere, count_nonzero, masked_select, nonzero
from .selection import bincount, bucketize, searchsorted
from .norms import norm, vector_norm
from .matrix import (addbmm, addmm, addmv, addr, baddbmm, bmm, cross, diag,
                     diag_embed, diagflat, diagonal, dot, ger, inner, kron, mm,
                     mv, outer, tensordot, trace, tril, triu, vdot)
from .einsum import einsum
from .scatter import (index_add, index_copy, index_fill, index_select, scatter,
                      scatter_add, scatter_reduce, take)
from .methods_shape import install_shape_methods

absolute, negative, multiply, subtract = abs, neg, mul, sub  # PyTorch's aliases
concat = concatenate = cat
moveaxis, swapdims = movedim, swapaxes


def t(x):
    """The transpose of a matrix (``x.t()``; 0-d and 1-d as they are)."""
    return x.t()


sgn = sign

# The math ops above as Tensor methods (x.sin(), x.remainder(2)); each
# also gets an in-place form x.sin_() (see _in_place).
_MATH_METHODS = {
    "sin": sin, "cos": cos, "tan": tan, "asin": asin, "acos": acos,
    "atan": atan, "sinh": sinh, "cosh": cosh, "asinh": asinh,
    "acosh": acosh, "atanh": atanh, "atan2": atan2, "hypot": hypot,
    "arcsin": arcsin, "arccos": arccos, "arctan": arctan,
    "arctan2": arctan2, "arcsinh": arcsinh, "arccosh": arccosh,
    "arctanh": arctanh,
    "exp2": exp2, "expm1": expm1, "log2": log2, "log10": log10,
    "log1p": log1p, "rsqrt": rsqrt, "square": square,
    "reciprocal": reciprocal, "logaddexp": logaddexp,
    "logaddexp2": logaddexp2, "xlogy": xlogy, "float_power": float_power,
    "erf": erf, "erfc": erfc, "erfinv": erfinv,
    "floor": floor, "ceil": ceil, "trunc": trunc, "fix": fix,
    "round": round, "frac": frac, "fmod": fmod, "remainder": remainder,
    "floor_divide": floor_divide, "copysign": copysign,
    "true_divide": true_divide, "divide": divide,
    "clamp_min": clamp_min, "clamp_max": clamp_max, "clip": clip,
    "lerp": lerp, "nan_to_num": nan_to_num,
    "logical_and": logical_and, "logical_or": logical_or,
    "logical_xor": logical_xor, "logical_not": logical_not,
    "bitwise_and": bitwise_and, "bitwise_or": bitwise_or,
    "bitwise_xor": bitwise_xor, "bitwise_not": bitwise_not,
    "bitwise_left_shift": bitwise_left_shift,
    "bitwise_right_shift": bitwise_right_shift,
    "absolute": abs, "negative": neg, "multiply": mul, "subtract": sub,
    "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "neg": neg,
    "sigmoid": sigmoid, "tanh": tanh, "relu": relu, "sign": sign,
    "pow": pow, "maximum": maximum, "minimum": minimum,
    "addcmul": addcmul, "addcdiv": addcdiv, "logit": logit,
    "deg2rad": deg2rad, "rad2deg": rad2deg, "sgn": sign,
}
_MATH_QUERIES = {
    "isnan": isnan, "isinf": isinf, "isfinite": isfinite,
    "isposinf": isposinf, "isneginf": isneginf, "isclose": isclose,
    "equal": equal,
}


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


def _in_place(name, function):
    """``x.name_(...)``: x takes the value of ``name(x, ...)`` (through
    ``Tensor._assign``, which keeps autograd right). As in PyTorch, a
    result that would lose its kind (a float into an integer tensor)
    is refused rather than silently truncated."""
    def method(x, *args, **kwargs):
        result = function(x, *args, **kwargs)
        if not _np.can_cast(result.dtype, x.dtype, "same_kind"):
            raise RuntimeError(f"{name}_: result type {result.dtype} can't be "
                               f"cast to the desired output type {x.dtype}")
        return x._assign(result)
    method.__name__ = name + "_"
    return method


def install_methods(tensor_class):
    """Give Tensor its operators and methods (called once, at import)."""
    operators = {
        "__add__": _with_other(add), "__radd__": _swap(add),
        "__sub__": _with_other(sub), "__rsub__": _swap(sub),
        "__mul__": _with_other(mul), "__rmul__": _swap(mul),
        "__truediv__": _with_other(div), "__rtruediv__": _swap(div),
        "__pow__": pow, "__rpow__": _swap(pow),
        "__matmul__": matmul, "__rmatmul__": _swap(matmul),
        "__neg__": neg, "__abs__": abs, "__getitem__": getitem,
        "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le,
        "__gt__": gt, "__ge__": ge,
    }
    methods = {
        "add": add, "sub": sub,  # with alpha=, as PyTorch
        "mul": _with_other(mul), "div": div,  # with rounding_mode=
        "pow": pow, "neg": neg, "matmul": matmul,
        "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "tanh": tanh,
        "sigmoid": sigmoid, "relu": relu, "clamp": clamp,
        "maximum": maximum, "minimum": minimum, "sign": sign,
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
    _install_math_methods(tensor_class)
    install_shape_methods(tensor_class)
    # Comparisons return tensors, so Tensor keeps identity hashing.
    tensor_class.__hash__ = object.__hash__


def _install_math_methods(tensor_class):
    """The methods, operators and in-place forms of the math ops."""
    operators = {
        "__mod__": remainder, "__rmod__": _swap(remainder),
        "__floordiv__": floor_divide, "__rfloordiv__": _swap(floor_divide),
        "__and__": bitwise_and, "__rand__": _swap(bitwise_and),
        "__or__": bitwise_or, "__ror__": _swap(bitwise_or),
        "__xor__": bitwise_xor, "__rxor__": _swap(bitwise_xor),
        "__invert__": bitwise_not, "__pos__": positive,
        "__lshift__": bitwise_left_shift,
        "__rlshift__": _swap(bitwise_left_shift),
        "__rshift__": bitwise_right_shift,
        "__rrshift__": _swap(bitwise_right_shift),
    }
    in_place_operators = {
        "__imod__": "remainder", "__ifloordiv__": "floor_divide",
        "__iand__": "bitwise_and", "__ior__": "bitwise_or",
        "__ixor__": "bitwise_xor", "__ilshift__": "bitwise_left_shift",
        "__irshift__": "bitwise_right_shift", "__ipow__": "pow",
    }
    for name, function in {**operators, **_MATH_METHODS, **_MATH_QUERIES,
                           "positive": positive}.items():
        setattr(tensor_class, name, function)
    for name, function in _MATH_METHODS.items():
        if name not in ("maximum", "minimum") and \
                not hasattr(tensor_class, name + "_"):  # PyTorch has no maximum_
            setattr(tensor_class, name + "_", _in_place(name, function))
    for operator, name in in_place_operators.items():
        setattr(tensor_class, operator, getattr(tensor_class, name + "_"))



def _accept_axis(function):
    """`function`, also taking NumPy's ``axis=`` for ``dim=``, as PyTorch's
    ops do (``x.sum(axis=1)``)."""
    @_functools.wraps(function)
    def with_axis(*args, axis=None, **kwargs):
        if axis is not None:
            if "dim" in kwargs:
                raise TypeError(f"{function.__name__}: give dim or axis, not both")
            kwargs["dim"] = axis
        return function(*args, **kwargs)
    return with_axis


def _takes_dim_not_axis(function):
    try:
        parameters = _inspect.signature(function).parameters
    except (TypeError, ValueError):  # builtins, classes without a signature
        return False
    return "dim" in parameters and "axis" not in parameters


def _with_axis_alias(functions):
    """{name: function with the ``axis`` alias} for the public functions of
    `functions` (a dict) that take ``dim``."""
    return {name: _accept_axis(value) for name, value in functions.items()
            if _inspect.isfunction(value) and not name.startswith("_")
            and _takes_dim_not_axis(value)}


install_methods(Tensor)
globals().update(_with_axis_alias(globals()))
for _name, _method in _with_axis_alias(vars(Tensor)).items():
    setattr(Tensor, _name, _method)


# What ``from minidl.ops import *`` (and so ``minidl``) exports: the ops,
# not the modules they live in.
__all__ = ["abs", "absolute", "acos", "acosh", "add", "addbmm", "addcdiv",
           "addcmul", "addmm", "addmv", "addr", "all", "allclose", "amax",
           "amin", "any", "arccos", "arccosh", "arcsin", "arcsinh", "arctan",
           "arctan2", "arctanh", "argmax", "argmin", "argsort", "argwhere",
           "as_tensor", "asin", "asinh", "astype", "atan", "atan2", "atanh",
           "atleast_1d", "atleast_2d", "atleast_3d", "baddbmm", "bincount",
           "bitwise_and", "bitwise_left_shift", "bitwise_not", "bitwise_or",
           "bitwise_right_shift", "bitwise_xor", "bmm", "broadcast_tensors",
           "broadcast_to", "bucketize", "cat", "ceil", "chunk", "clamp",
           "clamp_max", "clamp_min", "clip", "clone", "concat", "concatenate",
           "copysign", "cos", "cosh", "count_nonzero", "cross", "cummax",
           "cummin", "cumprod", "cumsum", "deg2rad", "diag", "diag_embed",
           "diagflat", "diagonal", "diff", "div", "divide", "dot", "einsum",
           "eq", "equal", "erf", "erfc", "erfinv", "exp", "exp2", "expand",
           "expand_as", "expm1", "fix", "flatten", "flip", "fliplr", "flipud",
           "float_power", "floor", "floor_divide", "fmod", "frac", "gather",
           "ge", "ger", "getitem", "gt", "hsplit", "hypot", "index_add",
           "index_copy", "index_fill", "index_put", "index_select", "inner",
           "install_methods", "install_shape_methods", "isclose", "isfinite",
           "isinf", "isnan", "isneginf", "isposinf", "kron", "kthvalue", "le",
           "lerp", "log", "log10", "log1p", "log2", "log_softmax", "logaddexp",
           "logaddexp2", "logcumsumexp", "logical_and", "logical_not",
           "logical_or", "logical_xor", "logit", "logsumexp", "lt",
           "masked_fill", "masked_select", "matmul", "max", "maximum", "mean",
           "median", "meshgrid", "min", "minimum", "mm", "mode", "moveaxis",
           "movedim", "msort", "mul", "multiply", "mv", "nan_to_num", "narrow",
           "ne", "neg", "negative", "nonzero", "norm", "outer", "pad",
           "permute", "positive", "pow", "prod", "rad2deg", "reciprocal",
           "relu", "remainder", "repeat", "repeat_interleave", "reshape",
           "reshape_as", "roll", "round", "rsqrt", "scatter", "scatter_add",
           "scatter_along", "scatter_reduce", "searchsorted", "sgn", "sigmoid",
           "sign", "sin", "sinh", "softmax", "sort", "split", "sqrt", "square",
           "squeeze", "stack", "std", "std_mean", "sub", "subtract", "sum",
           "sum_to_shape", "swapaxes", "swapdims", "t", "take",
           "take_along_dim", "tan", "tanh", "tensor_split", "tensordot",
           "tile", "to_device", "topk", "trace", "transpose", "tril", "triu",
           "true_divide", "trunc", "unbind", "unflatten", "unfold",
           "unsqueeze", "var", "var_mean", "vdot", "vector_norm", "view_as",
           "vsplit", "where", "xlogy"]
