"""Linear (y = x W^T + b) and Identity (y = x)."""

from ... import backend
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter


def _empty(shape, device, dtype):
    """A new uninitialised Parameter of `shape` (float32 by default)."""
    device = backend.Device(device) if device is not None \
        else backend.default_device()
    with device:
        array = device.xp.empty(shape, dtype=dtype or "float32")
    return Parameter(array)


class Identity(Module):
    """y = x (a placeholder; any constructor arguments are ignored)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Linear(Module):
    """y = x W^T + b: input (*, in_features) -> output (*, out_features).

    weight has shape (out_features, in_features), bias (out_features,), both
    drawn from U(-1/sqrt(in_features), 1/sqrt(in_features)), as PyTorch
    does (kaiming_uniform_ with a = sqrt(5) gives that bound for the weight).
    """

    def __init__(self, in_features, out_features, bias=True, device=None,
                 dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = _empty((out_features, in_features), device, dtype)
        if bias:
            self.bias = _empty((out_features,), device, dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, x):
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError("Linear(in_features={}, out_features={}): expected "
                             "input of shape (*, {}), got {}".format(
                                 self.in_features, self.out_features,
                                 self.in_features, x.shape))
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return "in_features={}, out_features={}, bias={}".format(
            self.in_features, self.out_features, self.bias is not None)
