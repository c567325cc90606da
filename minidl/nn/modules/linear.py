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


def _weight_and_bias(module, weight_shape, bias_size, bias, device, dtype):
    """Give a Linear or convolution layer its ``weight`` of `weight_shape`
    and, with `bias`, a ``bias`` of `bias_size` (else a None bias), both
    initialised as PyTorch does (:func:`init.default_layer_init_`)."""
    module.weight = _empty(weight_shape, device, dtype)
    if bias:
        module.bias = _empty((bias_size,), device, dtype)
    else:
        module.register_parameter("bias", None)
    module.reset_parameters()


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
        _weight_and_bias(self, (out_features, in_features), out_features, bias,
                         device, dtype)

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
