"""Activation layers: elementwise nonlinearities, and softmax over a dim."""
from ... import ops
from .. import functional as F
from ..module import Module


class ReLU(Module):
    """y = max(x, 0).

    ``inplace`` is accepted for compatibility with PyTorch models (and
    shown in the repr), but the result is always a new tensor: autograd then
    never has to worry about an overwritten input.
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.relu(x)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class GELU(Module):
    """y = x * Phi(x) (Phi the standard normal CDF), or its tanh
    approximation with ``approximate='tanh'``."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError("GELU: approximate must be 'none' or 'tanh', got "
                             "{!r}".format(approximate))
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self):
        return "approximate={!r}".format(self.approximate)


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x))."""

    def forward(self, x):
        return ops.sigmoid(x)


class Tanh(Module):
    """y = tanh(x)."""

    def forward(self, x):
        return ops.tanh(x)


class Softmax(Module):
    """y = exp(x) / sum(exp(x)) along `dim`."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        if self.dim is None:
            raise ValueError("Softmax: give the dim to normalise over, e.g. "
                             "Softmax(dim=1)")
        return ops.softmax(x, self.dim)

    def extra_repr(self):
        return "dim={}".format(self.dim)


class LogSoftmax(Module):
    """y = x - logsumexp(x) along `dim`."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        if self.dim is None:
            raise ValueError("LogSoftmax: give the dim to normalise over, e.g. "
                             "LogSoftmax(dim=1)")
        return ops.log_softmax(x, self.dim)

    def extra_repr(self):
        return "dim={}".format(self.dim)
