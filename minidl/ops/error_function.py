"""The error function erf, its complement erfc, and its inverse erfinv.

NumPy has no erf, so it is computed here in float64 from two classic
expansions, each used where it converges fast:

* |x| < 2: the Maclaurin series
      erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)),
  30 terms, evaluated by Horner's rule in x^2;
* |x| >= 2: Laplace's continued fraction for the complement
      erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
  40 levels, evaluated from the bottom up; erf(x) = sign(x) (1 - erfc(|x|)).

Both give a relative error below 1e-14 against math.erf (tests check it).
"""
import math

from ..autograd.function import Function
from ..backend import get_array_module
from .arithmetic import floating

_SERIES_LIMIT = 2.0
_SERIES_TERMS = 30
_FRACTION_DEPTH = 40
# c_n = (-1)^n / (n! (2n + 1)), highest n first for Horner's rule.
_SERIES_COEFFICIENTS = [(-1) ** n / (math.factorial(n) * (2 * n + 1))
                        for n in range(_SERIES_TERMS, -1, -1)]


def _erf_series(x):
    """erf(x) for |x| < 2 (float64 array), by the Maclaurin series."""
    xp = get_array_module(x)
    z = x * x
    total = xp.zeros_like(x)
    for coefficient in _SERIES_COEFFICIENTS:
        total = total * z + coefficient
    return (2 / math.sqrt(math.pi)) * x * total


def _erfc_fraction(x):
    """erfc(x) for x >= 2 (float64 array), by the continued fraction."""
    xp = get_array_module(x)
    denominator = x
    for k in range(_FRACTION_DEPTH, 0, -1):
        denominator = x + (k / 2) / denominator
    return xp.exp(-x * x) / (math.sqrt(math.pi) * denominator)


def erf_array(x):
    """The error function of an array, element-wise, in x's dtype.

    Computed in float64 whatever x's dtype, then cast back.
    """
    xp = get_array_module(x)
    x64 = xp.asarray(x, dtype=xp.float64)
    result = xp.empty_like(x64)
    small = xp.abs(x64) < _SERIES_LIMIT
    large = ~small  # also holds inf and nan, which the fraction passes on
    result[small] = _erf_series(x64[small])
    outer = x64[large]
    result[large] = xp.sign(outer) * (1 - _erfc_fraction(xp.abs(outer)))
    return result.astype(x.dtype, copy=False)


class Erf(Function):
    """y = erf(x) = 2/sqrt(pi) * integral from 0 to x of exp(-t^2) dt.

    dy/dx = 2/sqrt(pi) * exp(-x^2).
    """

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x):
        return erf_array(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * ((-(x * x)).exp() * (2 / math.sqrt(math.pi)))


def erfc_array(x):
    """The complementary error function 1 - erf(x) of an array, in x's
    dtype: the continued fraction for x >= 2 (where 1 - erf(x) would lose
    the digits), 1 - erf(x) elsewhere."""
    xp = get_array_module(x)
    x64 = xp.asarray(x, dtype=xp.float64)
    result = xp.array(1 - erf_array(x64))  # an array, also when 0-d
    far = x64 >= _SERIES_LIMIT
    result[far] = _erfc_fraction(x64[far])
    return result.astype(x.dtype, copy=False)


class Erfc(Function):
    """y = erfc(x) = 1 - erf(x).  dy/dx = -2/sqrt(pi) * exp(-x^2)."""

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x):
        return erfc_array(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * ((-(x * x)).exp() * (-2 / math.sqrt(math.pi)))


def erfinv_array(x):
    """The inverse of erf on [-1, 1], in x's dtype (+-inf at +-1, NaN
    outside). A first guess from the logistic-like formula
    w = -log(1 - x^2), z0 = sign(x) sqrt(sqrt((2/(pi a) - w/2)^2 + w/a) -
    (2/(pi a) - w/2)), a = 0.147 (Winitzki), is refined by Newton's method
    on erf(z) = |x|: z <- z - (erf(z) - |x|) / (2/sqrt(pi) exp(-z^2)),
    with erf(z) - |x| computed as (1 - |x|) - erfc(z) for |x| >= 1/2 to
    keep its digits near 1. Newton converges quadratically: four steps give float64
    precision."""
    xp = get_array_module(x)
    x64 = xp.asarray(x, dtype=xp.float64)
    inside = xp.abs(x64) < 1
    y = xp.where(inside, x64, 0.0)
    a = 0.147
    w = -xp.log1p(-y * y)
    first = 2 / (math.pi * a) - w / 2
    z = xp.sqrt(xp.sqrt(first * first + w / a) - first)  # for |x|
    # Newton on erf(z) - |x|, written as (1 - |x|) - erfc(z) for |x| >= 1/2
    # so that it keeps its digits near 1.
    magnitude = xp.abs(y)
    near_one = magnitude >= 0.5
    for _ in range(4):
        residual = xp.where(near_one, (1 - magnitude) - erfc_array(z),
                            erf_array(z) - magnitude)
        z = z - residual / (2 / math.sqrt(math.pi) * xp.exp(-z * z))
    z = xp.sign(y) * z
    edge = xp.where(x64 > 0, xp.inf, -xp.inf)
    z = xp.where(inside, z, xp.where(xp.abs(x64) == 1, edge, xp.nan))
    return z.astype(x.dtype, copy=False)


class Erfinv(Function):
    """y = erfinv(x), the z with erf(z) = x, for -1 < x < 1.

    dy/dx = sqrt(pi) / 2 * exp(y^2).
    """

    def to_save(self, inputs, outputs):
        return outputs

    def forward(self, x):
        return erfinv_array(x)

    def backward(self, gy):
        y, = self.saved_tensors
        return gy * ((y * y).exp() * (math.sqrt(math.pi) / 2))


def erfinv(input):
    """The inverse error function (integers computed in float32)."""
    return Erfinv()(floating(input))


def erf(input):
    """The error function, element-wise (differentiable to any order).
    Integer inputs are computed in float32, as PyTorch."""
    return Erf()(floating(input))


def erfc(input):
    """1 - erf(input), accurate where erf(input) is close to 1."""
    return Erfc()(floating(input))


