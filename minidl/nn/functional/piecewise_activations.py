"""Piecewise linear activations: leaky_relu, hardtanh, relu6, hardsigmoid,
hardswish, threshold, hardshrink, softshrink, prelu.

At each kink the gradient is PyTorch's (given in each docstring). The
slopes are constants of the input, so backward multiplies by a constant
array and the second derivative is 0 (hardswish, quadratic in the middle,
is the exception).
"""
from ...autograd.function import Function
from ...backend import get_array_module
from ...ops.elementwise import MaskGradient, where
from ...tensor import Tensor


def _in_place_or_not(input, result, inplace):
    return input._assign(result) if inplace else result


class LeakyReLU(Function):
    """y = x for x > 0, slope * x otherwise.

    dy/dx = 1 for x > 0, slope for x <= 0 (slope at 0, as PyTorch).
    """

    def __init__(self, negative_slope):
        self.negative_slope = negative_slope

    def forward(self, x):
        xp = get_array_module(x)
        positive = x > 0
        self.slope = xp.where(positive, 1, self.negative_slope).astype(x.dtype)
        return xp.where(positive, x, x * x.dtype.type(self.negative_slope))

    def backward(self, gy):
        return gy * Tensor(self.slope)


class Hardtanh(Function):
    """y = x limited to [min_val, max_val].

    dy/dx = 1 strictly inside (min_val, max_val), 0 elsewhere (the bounds
    included, as PyTorch): dx = MaskGradient(mask)(g).
    """

    def __init__(self, min_val, max_val):
        self.min_val, self.max_val = min_val, max_val

    def forward(self, x):
        xp = get_array_module(x)
        self.inside = (x > self.min_val) & (x < self.max_val)
        return xp.minimum(xp.maximum(x, x.dtype.type(self.min_val)),
                          x.dtype.type(self.max_val))

    def backward(self, gy):
        return MaskGradient(self.inside)(gy)


class Hardsigmoid(Function):
    """y = 0 for x <= -3, 1 for x >= 3, x / 6 + 1/2 between.

    dy/dx = 1/6 strictly inside (-3, 3), 0 elsewhere (as PyTorch).
    """

    def forward(self, x):
        xp = get_array_module(x)
        self.slope = ((x > -3) & (x < 3)) * x.dtype.type(1 / 6)
        return xp.minimum(xp.maximum(x / 6 + x.dtype.type(0.5), 0), 1).astype(x.dtype)

    def backward(self, gy):
        return gy * Tensor(self.slope.astype(gy.dtype))


class Hardswish(Function):
    """y = x * hardsigmoid(x): 0 for x <= -3, x for x >= 3,
    x (x + 3) / 6 between.

    dy/dx = 0 for x <= -3, x / 3 + 1/2 for -3 < x < 3, 1 for x >= 3 (as
    PyTorch).
    """

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x):
        xp = get_array_module(x)
        gate = xp.minimum(xp.maximum(x + 3, 0), 6) / 6
        return (x * gate).astype(x.dtype)

    def backward(self, gy):
        x, = self.saved_tensors
        middle = x * (1 / 3) + 0.5
        slope = where(x.data <= -3, 0.0, where(x.data < 3, middle, 1.0))
        return gy * slope


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x for x > 0, negative_slope * x otherwise."""
    return _in_place_or_not(input, LeakyReLU(negative_slope)(input), inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """input limited to [min_val, max_val]."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not be greater "
                         f"than max_val ({max_val})")
    return _in_place_or_not(input, Hardtanh(min_val, max_val)(input), inplace)


def relu6(input, inplace=False):
    """min(max(input, 0), 6): hardtanh(input, 0, 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def hardsigmoid(input, inplace=False):
    """relu6(input + 3) / 6."""
    return _in_place_or_not(input, Hardsigmoid()(input), inplace)


def hardswish(input, inplace=False):
    """input * relu6(input + 3) / 6."""
    return _in_place_or_not(input, Hardswish()(input), inplace)


def threshold(input, threshold, value, inplace=False):
    """input where input > threshold, else `value` (a Where)."""
    return _in_place_or_not(input, where(input.data > threshold, input, value),
                            inplace)


def hardshrink(input, lambd=0.5):
    """input where |input| > lambd, else 0 (a Where)."""
    outside = (input.data > lambd) | (input.data < -lambd)
    return where(outside, input, 0.0)


def softshrink(input, lambd=0.5):
    """input - lambd above lambd, input + lambd below -lambd, else 0."""
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be >= 0, got {lambd}")
    return where(input.data > lambd, input - lambd,
                 where(input.data < -lambd, input + lambd, 0.0))


def prelu(input, weight):
    """input for input > 0, weight * input otherwise; `weight` has one
    element, or one per channel (dim 1 of input), as PyTorch."""
    if weight.numel() != 1:
        channels = input.shape[1] if input.ndim > 1 else input.shape[0]
        if weight.numel() != channels:
            raise ValueError(f"prelu: weight has {weight.numel()} elements; "
                             f"expected 1 or {channels} (the channels of an "
                             f"input of shape {input.shape})")
        if input.ndim > 1:
            weight = weight.reshape((channels,) + (1,) * (input.ndim - 2))
    return where(input.data > 0, input, weight * input)


# The in-place spellings of PyTorch's nn.functional.
def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def threshold_(input, threshold_value, value):
    return threshold(input, threshold_value, value, inplace=True)
