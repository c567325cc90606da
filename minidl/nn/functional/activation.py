"""Activation functions: relu, gelu (and the erf it needs, from
:mod:`minidl.ops.error_function`), sigmoid, tanh, softmax, log_softmax;
and pad.

sigmoid, tanh, softmax, log_softmax and pad are the ops of :mod:`minidl.ops`,
given PyTorch's functional signatures here. relu and gelu are ops of their
own (relu lives in :mod:`minidl.ops.elementwise`), written for speed: one
pass forward, and a backward made of Tensor ops so it can be
differentiated again.
"""
import math

from ...autograd.function import Function
from ...backend import get_array_module
from ...ops import elementwise as _elementwise
from ...ops.error_function import erf, erf_array
from ...ops import shape as _shape
from ...ops.softmax import log_softmax as _log_softmax
from ...ops.softmax import softmax as _softmax


# -- relu ---------------------------------------------------------------------

def relu(input, inplace=False):
    """max(input, 0) element-wise (the op is :class:`minidl.ops.elementwise.ReLU`).
    With ``inplace=True`` the result is written into `input`, which is
    returned."""
    result = _elementwise.relu(input)
    return input._assign(result) if inplace else result


def relu_(input):
    """relu written into `input`."""
    return relu(input, inplace=True)


# -- gelu -----------------------------------------------------------------------

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_TANH_CUBIC = 0.044715


class GELU(Function):
    """y = x * Phi(x), Phi the standard normal CDF, any shape.

    approximate='none': Phi(x) = (1 + erf(x / sqrt(2))) / 2, and
        dy/dx = Phi(x) + x * phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
    approximate='tanh': Phi(x) ~ (1 + tanh(u)) / 2 with
        u = sqrt(2/pi) (x + 0.044715 x^3), and
        dy/dx = (1 + t) / 2 + x (1 - t^2) / 2 * sqrt(2/pi) (1 + 3 * 0.044715 x^2),
        t = tanh(u).
    The backward is built from Tensor ops (erf, exp, tanh), so it can be
    differentiated again.
    """

    def __init__(self, approximate):
        self.approximate = approximate

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x):
        xp = get_array_module(x)
        if self.approximate == "tanh":
            u = _SQRT_2_OVER_PI * (x + _TANH_CUBIC * x * x * x)
            return 0.5 * x * (1 + xp.tanh(u))
        return 0.5 * x * (1 + erf_array(x * (1 / math.sqrt(2))))

    def backward(self, gy):
        x, = self.saved_tensors
        if self.approximate == "tanh":
            u = (x + x * x * x * _TANH_CUBIC) * _SQRT_2_OVER_PI
            t = u.tanh()
            du_dx = (x * x * (3 * _TANH_CUBIC) + 1) * _SQRT_2_OVER_PI
            slope = (t + 1) * 0.5 + x * (1 - t * t) * du_dx * 0.5
        else:
            cdf = (erf(x * (1 / math.sqrt(2))) + 1) * 0.5
            density = (x * x * -0.5).exp() * (1 / math.sqrt(2 * math.pi))
            slope = cdf + x * density
        return gy * slope


def gelu(input, approximate="none"):
    """Gaussian error linear unit, x * Phi(x) (see :class:`GELU`)."""
    if approximate not in ("none", "tanh"):
        raise ValueError("gelu: approximate must be 'none' or 'tanh', got {!r}"
                         .format(approximate))
    return GELU(approximate)(input)


# -- the ops of minidl.ops, with PyTorch's functional signatures ---------------

def sigmoid(input):
    """1 / (1 + exp(-input)) element-wise."""
    return _elementwise.sigmoid(input)


def tanh(input):
    """tanh(input) element-wise."""
    return _elementwise.tanh(input)


def softmax(input, dim, dtype=None):
    """exp(input) / sum(exp(input)) along `dim` (computed stably).

    With `dtype`, input is converted to it first (as PyTorch).
    """
    if dtype is not None:
        input = input.to(dtype=dtype)
    return _softmax(input, dim)


def log_softmax(input, dim, dtype=None):
    """input - logsumexp(input) along `dim` (computed stably)."""
    if dtype is not None:
        input = input.to(dtype=dtype)
    return _log_softmax(input, dim)


def pad(input, pad, mode="constant", value=0):
    """`input` with constant borders; `pad` is PyTorch's (left, right, top,
    bottom, ...) starting from the last dim."""
    return _shape.pad(input, pad, mode, value)
