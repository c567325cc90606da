"""Conv1d and Conv3d: the 1-d and 3-d convolution layers (built on conv2d,
see nn/functional/conv_nd.py)."""
from .. import functional as F
from .. import init
from ..module import Module
from .linear import _weight_and_bias


def _tuple(value, length, name, layer):
    if isinstance(value, int):
        return (value,) * length
    value = tuple(value)
    if len(value) != length or not all(isinstance(v, int) for v in value):
        raise ValueError(f"{layer}: {name} must be an int or {length} ints, got {value!r}")
    return value


class _ConvNd(Module):
    spatial = None
    function = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__()
        name = type(self).__name__
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must both be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"{name}: padding_mode {padding_mode!r} is not supported "
                             f"(only 'zeros')")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _tuple(kernel_size, self.spatial, "kernel_size", name)
        self.stride = _tuple(stride, self.spatial, "stride", name)
        self.dilation = _tuple(dilation, self.spatial, "dilation", name)
        self.padding = padding if isinstance(padding, str) else \
            _tuple(padding, self.spatial, "padding", name)
        self.padding_mode = padding_mode
        _weight_and_bias(self, (out_channels, in_channels // groups)
                         + self.kernel_size, out_channels, bias, device, dtype)

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, x):
        padding = self.padding if isinstance(self.padding, str) else \
            (self.padding[0] if self.spatial == 1 else self.padding)
        stride = self.stride[0] if self.spatial == 1 else self.stride
        dilation = self.dilation[0] if self.spatial == 1 else self.dilation
        return type(self).function(x, self.weight, self.bias, stride, padding, dilation,
                                   self.groups)

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
                f", stride={self.stride}")
        if self.padding != (0,) * self.spatial:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self.spatial:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Conv1d(_ConvNd):
    """(N, C_in, L) -> (N, C_out, OL), OL = (L + 2 padding - dilation (K - 1)
    - 1) // stride + 1; weight (C_out, C_in / groups, K)."""
    spatial = 1
    function = staticmethod(F.conv1d)


class Conv3d(_ConvNd):
    """(N, C_in, D, H, W) -> (N, C_out, OD, OH, OW); weight (C_out,
    C_in / groups, KD, KH, KW)."""
    spatial = 3
    function = staticmethod(F.conv3d)
