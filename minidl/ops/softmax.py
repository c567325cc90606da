"""softmax and log_softmax along one dim, each as a single stable op."""
from ..autograd.function import Function
from ..backend import get_array_module
from .reduction import normalize_dims


def _softmax_dim(dim, ndim, op):
    """The one axis softmax normalises over; None (the one element) for a
    0-d tensor, whose dim 0 or -1 PyTorch accepts."""
    dim = normalize_dims(dim, ndim, op)[0]
    return dim if ndim else None


class Softmax(Function):
    """y = exp(x - max) / sum(exp(x - max)) along `dim`.

    dx = y * (gy - sum(gy * y, dim)).
    """

    def __init__(self, dim):
        self.dim = dim

    def to_save(self, inputs, outputs):
        return outputs

    def forward(self, x):
        xp = get_array_module(x)
        e = xp.exp(x - x.max(axis=self.dim, keepdims=True))
        return e / e.sum(axis=self.dim, keepdims=True)

    def backward(self, gy):
        y, = self.saved_tensors
        return y * (gy - (gy * y).sum(self.dim, keepdim=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x) along `dim`.

    dx = gy - softmax(x) * sum(gy, dim), with softmax(x) = exp(y).
    """

    def __init__(self, dim):
        self.dim = dim

    def to_save(self, inputs, outputs):
        return outputs

    def forward(self, x):
        xp = get_array_module(x)
        shifted = x - x.max(axis=self.dim, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=self.dim, keepdims=True))

    def backward(self, gy):
        y, = self.saved_tensors
        return gy - y.exp() * gy.sum(self.dim, keepdim=True)


def softmax(x, dim):
    return Softmax(_softmax_dim(dim, x.ndim, "softmax"))(x)


def log_softmax(x, dim):
    return LogSoftmax(_softmax_dim(dim, x.ndim, "log_softmax"))(x)
