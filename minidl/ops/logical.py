"""Logical and bitwise ops: logical_and/or/xor/not (any dtype, a bool
result), bitwise_and/or/xor/not and the shifts (integers and bools only),
behind the operators ``&``, ``|``, ``^``, ``~``, ``<<`` and ``>>``.

None of them has a gradient: their results are bools or integers.
"""
from ..backend import get_array_module
from ..tensor import Tensor
from .arithmetic import promote, require_kind


def _tensor_of(array):
    return Tensor(array)


def _truth(x):
    """x's array as booleans: nonzero is true."""
    return x.data if x.dtype.kind == "b" else x.data != 0


def logical_and(input, other):
    x, y = promote(input, other)
    return _tensor_of(_truth(x) & _truth(y))


def logical_or(input, other):
    x, y = promote(input, other)
    return _tensor_of(_truth(x) | _truth(y))


def logical_xor(input, other):
    x, y = promote(input, other)
    return _tensor_of(_truth(x) ^ _truth(y))


def logical_not(input):
    return _tensor_of(~_truth(input))


def _bitwise(op, input, other, function, kinds="iub"):
    x, y = promote(input, other)
    expected = "integer or bool tensors" if "b" in kinds else "integer tensors"
    for operand in (x, y):
        require_kind(op, operand, kinds, expected)
    return _tensor_of(function(get_array_module(x.data), x.data, y.data))


def bitwise_and(input, other):
    return _bitwise("bitwise_and", input, other, lambda xp, a, b: a & b)


def bitwise_or(input, other):
    return _bitwise("bitwise_or", input, other, lambda xp, a, b: a | b)


def bitwise_xor(input, other):
    return _bitwise("bitwise_xor", input, other, lambda xp, a, b: a ^ b)


def bitwise_not(input):
    """~input: logical not for bools, two's complement for integers."""
    require_kind("bitwise_not", input, "iub", "integer or bool tensors")
    return _tensor_of(~input.data)


def bitwise_left_shift(input, other):
    """input << other (integers): input * 2^other."""
    return _bitwise("bitwise_left_shift", input, other,
                    lambda xp, a, b: xp.left_shift(a, b), kinds="iu")


def bitwise_right_shift(input, other):
    """input >> other (integers): floor(input / 2^other)."""
    return _bitwise("bitwise_right_shift", input, other,
                    lambda xp, a, b: xp.right_shift(a, b), kinds="iu")
