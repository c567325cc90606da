"""Exponentials, logarithms and simple powers: exp2, expm1, log2, log10,
log1p, logaddexp, logaddexp2, rsqrt, square, reciprocal, xlogy.

Integer and bool inputs are computed in float32, as in PyTorch. Each
backward is made of Tensor ops, so it can be differentiated again.
"""
import math

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import float64
from .arithmetic import floating, promote, promote_floating, require_kind, sum_to_shape
from .elementwise import log, sigmoid, where

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


class Exp2(Function):
    """y = 2^x.  dy/dx = y ln 2."""

    def to_save(self, inputs, outputs):
        return outputs

    def forward(self, x):
        return get_array_module(x).exp2(x)

    def backward(self, gy):
        y, = self.saved_tensors
        return gy * y * _LN2


class Expm1(Function):
    """y = exp(x) - 1 (accurate for small x).  dy/dx = y + 1."""

    def to_save(self, inputs, outputs):
        return outputs

    def forward(self, x):
        return get_array_module(x).expm1(x)

    def backward(self, gy):
        y, = self.saved_tensors
        return gy * (y + 1)


class Log2(Function):
    """y = log2(x).  dy/dx = 1 / (x ln 2)."""

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x):
        return get_array_module(x).log2(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy / (x * _LN2)


class Log10(Function):
    """y = log10(x).  dy/dx = 1 / (x ln 10)."""

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x):
        return get_array_module(x).log10(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy / (x * _LN10)


class Log1p(Function):
    """y = log(1 + x) (accurate for small x).  dy/dx = 1 / (1 + x)."""

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x):
        return get_array_module(x).log1p(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy / (x + 1)


class Rsqrt(Function):
    """y = 1 / sqrt(x).  dy/dx = -y^3 / 2."""

    def to_save(self, inputs, outputs):
        return outputs

    def forward(self, x):
        return 1 / get_array_module(x).sqrt(x)

    def backward(self, gy):
        y, = self.saved_tensors
        return gy * y * y * y * -0.5


class Square(Function):
    """y = x^2 (integers stay integers, as PyTorch).  dy/dx = 2x."""

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x):
        return x * x

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * x * 2


class Reciprocal(Function):
    """y = 1 / x.  dy/dx = -y^2."""

    def to_save(self, inputs, outputs):
        return outputs

    def forward(self, x):
        return 1 / x

    def backward(self, gy):
        y, = self.saved_tensors
        return -gy * y * y


class LogAddExp(Function):
    """z = log(exp(x) + exp(y)), broadcast, computed without overflow.

    dz/dx = sigmoid(x - y), dz/dy = sigmoid(y - x). With `base2`:
    z = log2(2^x + 2^y), dz/dx = sigmoid((x - y) ln 2).
    """

    def __init__(self, base2=False):
        self.base2 = base2

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x, y):
        xp = get_array_module(x)
        return xp.logaddexp2(x, y) if self.base2 else xp.logaddexp(x, y)

    def backward(self, gz):
        x, y = self.saved_tensors
        difference = (x - y) * _LN2 if self.base2 else x - y
        gx = gy = None
        if self.needs_input_grad[0]:
            gx = sum_to_shape(gz * sigmoid(difference), x.shape)
        if self.needs_input_grad[1]:
            gy = sum_to_shape(gz * sigmoid(-difference), y.shape)
        return gx, gy


def exp2(input):
    return Exp2()(floating(input))


def expm1(input):
    return Expm1()(floating(input))


def log2(input):
    return Log2()(floating(input))


def log10(input):
    return Log10()(floating(input))


def log1p(input):
    return Log1p()(floating(input))


def rsqrt(input):
    return Rsqrt()(floating(input))


def square(input):
    """input * input; bool becomes int64 (as PyTorch)."""
    if input.dtype.kind == "b":
        input = input.to(dtype="int64")
    return Square()(input)


def reciprocal(input):
    return Reciprocal()(floating(input))


def _floating_operands(op, input, other):
    x, y = promote(input, other)
    for operand in (x, y):
        require_kind(op, operand, "fc", "a floating dtype")
    return x, y


def logaddexp(input, other):
    """log(exp(input) + exp(other)) (floating tensors only, as PyTorch)."""
    return LogAddExp()(*_floating_operands("logaddexp", input, other))


def logaddexp2(input, other):
    """log2(2^input + 2^other) (floating tensors only, as PyTorch)."""
    return LogAddExp(base2=True)(*_floating_operands("logaddexp2", input, other))


def xlogy(input, other):
    """input * log(other), and 0 where input is 0 and other is not NaN
    (0 * log(0) = 0), as PyTorch. Made of Where, Mul and Log."""
    x, y = promote_floating(input, other)
    x_is_zero = (x.data == 0) & (y.data == y.data)  # y not NaN
    safe_y = where(x_is_zero, 1.0, y)  # log(1) = 0: no 0 * inf in the graph
    return where(x_is_zero, 0.0, x * log(safe_y))


def logit(input, eps=None):
    """log(p / (1 - p)), p = input clamped to [eps, 1 - eps] when eps is
    given (made of Clamp, Log, Sub, Div)."""
    p = floating(input)
    if eps is not None:
        p = p.clamp(eps, 1 - eps)
    return log(p / (1 - p))


def float_power(input, exponent):
    """input ** exponent computed in float64, as PyTorch."""
    x, y = promote(input, exponent)
    return x.to(dtype=float64) ** y.to(dtype=float64)

