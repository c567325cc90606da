"""More activation layers, each the module form of a function of
:mod:`minidl.nn.functional` with PyTorch's constructor arguments.

``inplace`` is accepted for compatibility with PyTorch models (and shown in
the repr) but, as for :class:`ReLU`, the result is always a new tensor.
"""
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter


class _Activation(Module):
    """Base: an activation with keyword settings, shown by extra_repr in
    PyTorch's order; `function` is the nn.functional one."""

    settings = ()

    def forward(self, x):
        return self.function(x, **{name: getattr(self, name)
                                   for name in self.settings})

    def extra_repr(self):
        parts = [f"{name}={getattr(self, name)}" for name in self.settings]
        if getattr(self, "inplace", False):
            parts.append("inplace=True")
        return ", ".join(parts)


class SiLU(_Activation):
    """y = x * sigmoid(x)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def function(self, x):
        return F.silu(x)


class Mish(SiLU):
    """y = x * tanh(softplus(x))."""

    def function(self, x):
        return F.mish(x)


class Hardsigmoid(SiLU):
    """y = relu6(x + 3) / 6."""

    def function(self, x):
        return F.hardsigmoid(x)


class Hardswish(SiLU):
    """y = x * relu6(x + 3) / 6."""

    def function(self, x):
        return F.hardswish(x)


class SELU(SiLU):
    """y = scale * elu(x, alpha), PyTorch's constants."""

    def function(self, x):
        return F.selu(x)


class ReLU6(SiLU):
    """y = min(max(x, 0), 6)."""

    def function(self, x):
        return F.relu6(x)


class LeakyReLU(_Activation):
    """y = x for x > 0, negative_slope * x otherwise."""

    settings = ("negative_slope",)

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def function(self, x, negative_slope):
        return F.leaky_relu(x, negative_slope)


class ELU(_Activation):
    """y = x for x > 0, alpha * (exp(x) - 1) otherwise."""

    settings = ("alpha",)

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def function(self, x, alpha):
        return F.elu(x, alpha)


class CELU(ELU):
    """y = max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""

    def function(self, x, alpha):
        return F.celu(x, alpha)


class Hardtanh(_Activation):
    """y = x limited to [min_val, max_val]."""

    settings = ("min_val", "max_val")

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must not be "
                             f"greater than max_val ({max_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def function(self, x, min_val, max_val):
        return F.hardtanh(x, min_val, max_val)


class Softplus(_Activation):
    """y = log(1 + exp(beta x)) / beta, linear above threshold / beta."""

    settings = ("beta", "threshold")

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def function(self, x, beta, threshold):
        return F.softplus(x, beta, threshold)


class Threshold(_Activation):
    """y = x where x > threshold, else value."""

    settings = ("threshold", "value")

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def function(self, x, threshold, value):
        return F.threshold(x, threshold, value)


class Hardshrink(_Activation):
    """y = x where |x| > lambd, else 0."""

    settings = ("lambd",)

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def function(self, x, lambd):
        return F.hardshrink(x, lambd)

    def extra_repr(self):
        return f"{self.lambd}"  # as PyTorch prints it: Hardshrink(0.5)


class Softshrink(Hardshrink):
    """y = x - lambd above lambd, x + lambd below -lambd, else 0."""

    def function(self, x, lambd):
        return F.softshrink(x, lambd)


class LogSigmoid(_Activation):
    """y = log(sigmoid(x))."""

    def function(self, x):
        return F.logsigmoid(x)


class Softsign(_Activation):
    """y = x / (1 + |x|)."""

    def function(self, x):
        return F.softsign(x)


class Tanhshrink(_Activation):
    """y = x - tanh(x)."""

    def function(self, x):
        return F.tanhshrink(x)


class Softmin(_Activation):
    """y = softmax(-x) along `dim`."""

    settings = ("dim",)

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def function(self, x, dim):
        return F.softmin(x, dim)


class GLU(Softmin):
    """y = a * sigmoid(b), a and b the halves of x along `dim`."""

    def __init__(self, dim=-1):
        super().__init__(dim)

    def function(self, x, dim):
        return F.glu(x, dim)


class PReLU(Module):
    """y = x for x > 0, weight * x otherwise, with a learned weight: one
    for all channels, or one per channel (dim 1), initialised to `init`."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        from ...tensor import empty
        self.weight = Parameter(empty(num_parameters, device=device, dtype=dtype))
        self.init_value = init
        self.reset_parameters()

    def reset_parameters(self):
        init.constant_(self.weight, self.init_value)

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"
