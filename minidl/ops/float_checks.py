"""Tests of floating-point values: isnan, isinf, isfinite, isposinf,
isneginf, isclose (boolean results, no gradient), and nan_to_num.
"""
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .arithmetic import promote


def _tensor_of(array):
    return Tensor(array)


def isnan(input):
    return _tensor_of(get_array_module(input.data).isnan(input.data))


def isinf(input):
    return _tensor_of(get_array_module(input.data).isinf(input.data))


def isfinite(input):
    return _tensor_of(get_array_module(input.data).isfinite(input.data))


def isposinf(input):
    xp = get_array_module(input.data)
    return _tensor_of(xp.isinf(input.data) & (input.data > 0))


def isneginf(input):
    xp = get_array_module(input.data)
    return _tensor_of(xp.isinf(input.data) & (input.data < 0))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol * |other| element-wise (PyTorch's
    and NumPy's rule; infinities are close only to themselves)."""
    x, y = promote(input, other)
    xp = get_array_module(x.data)
    return _tensor_of(xp.isclose(x.data, y.data, rtol=rtol, atol=atol,
                                 equal_nan=equal_nan))


def equal(input, other):
    """True when both have the same shape and the same values."""
    return input.shape == other.shape and bool((input.data == other.data).all())


class NanToNum(Function):
    """y = x with NaN, +inf and -inf replaced by numbers.

    dy/dx = 1 where x is finite, 0 where it was replaced (as PyTorch):
    dx = MaskGradient(isfinite(x))(g).
    """

    def __init__(self, nan, posinf, neginf):
        self.nan, self.posinf, self.neginf = nan, posinf, neginf

    def forward(self, x):
        xp = get_array_module(x)
        self.finite = xp.isfinite(x)
        return xp.nan_to_num(x, nan=self.nan, posinf=self.posinf,
                             neginf=self.neginf)

    def backward(self, gy):
        from .elementwise import MaskGradient
        return MaskGradient(self.finite)(gy)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN -> `nan`, +inf -> `posinf`, -inf -> `neginf` (by default the
    largest and smallest finite values of the dtype). Integers pass."""
    if input.dtype.kind not in "fc":
        return input.clone()
    return NanToNum(nan, posinf, neginf)(input)
