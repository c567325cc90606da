"""Trigonometric and hyperbolic functions, their inverses, atan2 and hypot.

Integer and bool inputs are computed in float32, as in PyTorch. Each
backward is made of Tensor ops, so it can be differentiated again.
"""
import math

from ..autograd.function import Function
from ..backend import get_array_module
from .arithmetic import floating, promote, promote_floating, require_kind, sum_to_shape
from .elementwise import sqrt


class _UnaryOfInput(Function):
    """Base: a function of one input that saves the input for backward."""

    def to_save(self, inputs, outputs):
        return inputs


class _UnaryOfOutput(Function):
    """Base: a function of one input whose gradient needs only the output."""

    def to_save(self, inputs, outputs):
        return outputs


class Sin(_UnaryOfInput):
    """y = sin(x).  dy/dx = cos(x)."""

    def forward(self, x):
        return get_array_module(x).sin(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * cos(x)


class Cos(_UnaryOfInput):
    """y = cos(x).  dy/dx = -sin(x)."""

    def forward(self, x):
        return get_array_module(x).cos(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return -gy * sin(x)


class Tan(_UnaryOfOutput):
    """y = tan(x).  dy/dx = 1 + y^2."""

    def forward(self, x):
        return get_array_module(x).tan(x)

    def backward(self, gy):
        y, = self.saved_tensors
        return gy * (1 + y * y)


class Asin(_UnaryOfInput):
    """y = asin(x), |x| <= 1.  dy/dx = 1 / sqrt(1 - x^2)."""

    def forward(self, x):
        return get_array_module(x).arcsin(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy / sqrt(1 - x * x)


class Acos(_UnaryOfInput):
    """y = acos(x), |x| <= 1.  dy/dx = -1 / sqrt(1 - x^2)."""

    def forward(self, x):
        return get_array_module(x).arccos(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return -gy / sqrt(1 - x * x)


class Atan(_UnaryOfInput):
    """y = atan(x).  dy/dx = 1 / (1 + x^2)."""

    def forward(self, x):
        return get_array_module(x).arctan(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy / (1 + x * x)


class Sinh(_UnaryOfInput):
    """y = sinh(x).  dy/dx = cosh(x)."""

    def forward(self, x):
        return get_array_module(x).sinh(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * cosh(x)


class Cosh(_UnaryOfInput):
    """y = cosh(x).  dy/dx = sinh(x)."""

    def forward(self, x):
        return get_array_module(x).cosh(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * sinh(x)


class Asinh(_UnaryOfInput):
    """y = asinh(x).  dy/dx = 1 / sqrt(x^2 + 1)."""

    def forward(self, x):
        return get_array_module(x).arcsinh(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy / sqrt(x * x + 1)


class Acosh(_UnaryOfInput):
    """y = acosh(x), x >= 1.  dy/dx = 1 / sqrt((x - 1)(x + 1))."""

    def forward(self, x):
        return get_array_module(x).arccosh(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy / sqrt((x - 1) * (x + 1))


class Atanh(_UnaryOfInput):
    """y = atanh(x), |x| < 1.  dy/dx = 1 / (1 - x^2)."""

    def forward(self, x):
        return get_array_module(x).arctanh(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy / (1 - x * x)


class Atan2(Function):
    """z = atan2(y, x), the angle of the point (x, y), broadcast.

    dz/dy = x / (x^2 + y^2), dz/dx = -y / (x^2 + y^2).
    """

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, y, x):
        return get_array_module(y).arctan2(y, x)

    def backward(self, gz):
        y, x = self.saved_tensors
        scale = gz / (x * x + y * y)
        gy = sum_to_shape(scale * x, y.shape) if self.needs_input_grad[0] else None
        gx = sum_to_shape(-scale * y, x.shape) if self.needs_input_grad[1] else None
        return gy, gx


class Hypot(Function):
    """z = sqrt(x^2 + y^2), broadcast (computed without overflow).

    dz/dx = x / z, dz/dy = y / z.
    """

    def to_save(self, inputs, outputs):
        return inputs + outputs

    def forward(self, x, y):
        return get_array_module(x).hypot(x, y)

    def backward(self, gz):
        x, y, z = self.saved_tensors
        scale = gz / z
        gx = sum_to_shape(scale * x, x.shape) if self.needs_input_grad[0] else None
        gy = sum_to_shape(scale * y, y.shape) if self.needs_input_grad[1] else None
        return gx, gy


def sin(input):
    return Sin()(floating(input))


def cos(input):
    return Cos()(floating(input))


def tan(input):
    return Tan()(floating(input))


def asin(input):
    return Asin()(floating(input))


def acos(input):
    return Acos()(floating(input))


def atan(input):
    return Atan()(floating(input))


def sinh(input):
    return Sinh()(floating(input))


def cosh(input):
    return Cosh()(floating(input))


def asinh(input):
    return Asinh()(floating(input))


def acosh(input):
    return Acosh()(floating(input))


def atanh(input):
    return Atanh()(floating(input))


def atan2(input, other):
    """The angle of the point (other, input): atan2(y=input, x=other)."""
    return Atan2()(*promote_floating(input, other))


def hypot(input, other):
    """sqrt(input^2 + other^2) (floating tensors only, as PyTorch)."""
    x, y = promote(input, other)
    for operand in (x, y):
        require_kind("hypot", operand, "fc", "a floating dtype")
    return Hypot()(x, y)


def deg2rad(input):
    """Degrees to radians: input * pi / 180."""
    return floating(input) * (math.pi / 180)


def rad2deg(input):
    """Radians to degrees: input * 180 / pi."""
    return floating(input) * (180 / math.pi)


# PyTorch's NumPy-style aliases.
arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
arcsinh, arccosh, arctanh = asinh, acosh, atanh
