"""Smooth activations: elu, selu, celu, softplus, silu, mish, logsigmoid,
softsign, tanhshrink, softmin, glu.

Each forward is computed so that it never overflows (exp only of
non-positive numbers); each backward is made of Tensor ops, so it can be
differentiated again, and never multiplies 0 by inf.
"""
import math

from ...autograd.function import Function
from ...backend import get_array_module
from ...ops.elementwise import abs as abs_, sigmoid, sigmoid_array, tanh, where
from ...ops.softmax import softmax

# SELU's constants (Klambauer et al., 2017), as PyTorch has them.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class ELU(Function):
    """y = scale * x for x > 0, scale * alpha * (exp(x * input_scale) - 1)
    for x <= 0: elu (scale = input_scale = 1), selu (PyTorch's constants),
    celu (input_scale = 1 / alpha).

    dy/dx = scale for x > 0, scale * alpha * input_scale * exp(x *
    input_scale) for x <= 0 (that branch at 0, as PyTorch).
    """

    def __init__(self, alpha, scale=1.0, input_scale=1.0):
        self.alpha, self.scale, self.input_scale = alpha, scale, input_scale

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x):
        xp = get_array_module(x)
        negative = xp.expm1(xp.minimum(x, 0) * self.input_scale) * self.alpha
        return (xp.where(x > 0, x, negative) * self.scale).astype(x.dtype)

    def backward(self, gy):
        x, = self.saved_tensors
        non_positive = x.data <= 0
        # exp only of x <= 0 (0 elsewhere): no overflow in the graph.
        clipped = where(non_positive, x, 0.0)
        negative_slope = (clipped * self.input_scale).exp() * (
            self.scale * self.alpha * self.input_scale)
        return gy * where(non_positive, negative_slope, self.scale)


class Softplus(Function):
    """y = log(1 + exp(beta x)) / beta, and y = x where beta x > threshold
    (as PyTorch).

    dy/dx = sigmoid(beta x), and 1 where beta x > threshold.
    """

    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x):
        xp = get_array_module(x)
        scaled = x * x.dtype.type(self.beta)
        smooth = xp.logaddexp(x.dtype.type(0), scaled) / x.dtype.type(self.beta)
        return xp.where(scaled > self.threshold, x, smooth).astype(x.dtype)

    def backward(self, gy):
        x, = self.saved_tensors
        linear = x.data * self.beta > self.threshold
        return gy * where(linear, 1.0, sigmoid(x * self.beta))


class SiLU(Function):
    """y = x * sigmoid(x) (also called swish).

    dy/dx = s (1 + x (1 - s)), s = sigmoid(x).
    """

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x):
        return x * sigmoid_array(x)

    def backward(self, gy):
        x, = self.saved_tensors
        s = sigmoid(x)
        return gy * s * (x * (1 - s) + 1)


class Mish(Function):
    """y = x * tanh(softplus(x)).

    dy/dx = t + x * sigmoid(x) * (1 - t^2), t = tanh(softplus(x)).
    """

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x):
        xp = get_array_module(x)
        return x * xp.tanh(xp.logaddexp(x.dtype.type(0), x))

    def backward(self, gy):
        x, = self.saved_tensors
        t = tanh(Softplus(1.0, math.inf)(x))
        return gy * (t + x * sigmoid(x) * (1 - t * t))


class LogSigmoid(Function):
    """y = log(sigmoid(x)) = -log(1 + exp(-x)), computed without overflow.

    dy/dx = sigmoid(-x).
    """

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x):
        return -get_array_module(x).logaddexp(x.dtype.type(0), -x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * sigmoid(-x)


class Softsign(Function):
    """y = x / (1 + |x|).  dy/dx = 1 / (1 + |x|)^2."""

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x):
        return x / (1 + get_array_module(x).abs(x))

    def backward(self, gy):
        x, = self.saved_tensors
        denominator = abs_(x) + 1
        return gy / (denominator * denominator)


def _in_place_or_not(input, result, inplace):
    return input._assign(result) if inplace else result


def elu(input, alpha=1.0, inplace=False):
    """input for input > 0, alpha * (exp(input) - 1) otherwise."""
    return _in_place_or_not(input, ELU(alpha)(input), inplace)


def selu(input, inplace=False):
    """scale * elu(input, alpha) with PyTorch's (self-normalising) constants."""
    return _in_place_or_not(input, ELU(SELU_ALPHA, SELU_SCALE)(input), inplace)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    return _in_place_or_not(input, ELU(alpha, 1.0, 1.0 / alpha)(input), inplace)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * input)) / beta; linear where beta * input > threshold."""
    return Softplus(beta, threshold)(input)


def silu(input, inplace=False):
    """input * sigmoid(input)."""
    return _in_place_or_not(input, SiLU()(input), inplace)


def mish(input, inplace=False):
    """input * tanh(softplus(input))."""
    return _in_place_or_not(input, Mish()(input), inplace)


def logsigmoid(input):
    """log(sigmoid(input)), without overflow."""
    return LogSigmoid()(input)


def softsign(input):
    """input / (1 + |input|)."""
    return Softsign()(input)


def tanhshrink(input):
    """input - tanh(input)."""
    return input - tanh(input)


def softmin(input, dim=None, dtype=None):
    """softmax(-input, dim)."""
    if dim is None:
        raise ValueError("softmin: give the dim to normalise over, e.g. dim=1")
    if dtype is not None:
        input = input.to(dtype=dtype)
    return softmax(-input, dim)


def glu(input, dim=-1):
    """a * sigmoid(b), where a and b are the two halves of input along dim."""
    size = input.shape[dim]
    if size % 2:
        raise ValueError(f"glu: dim {dim} of the input (shape {input.shape}) "
                         f"has odd size {size}; it must split in halves")
    dim = dim % input.ndim
    before = (slice(None),) * dim
    first = input[before + (slice(0, size // 2),)]
    second = input[before + (slice(size // 2, size),)]
    return first * sigmoid(second)


# The in-place spellings of PyTorch's nn.functional.
def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def selu_(input):
    return selu(input, inplace=True)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)
