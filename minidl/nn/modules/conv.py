"""Conv2d: a 2-d convolution layer over (N, C_in, H, W) inputs."""
from .. import functional as F
from .. import init
from ..module import Module
from ..functional._window import pair
from .linear import _empty


class Conv2d(Module):
    """(N, C_in, H, W) -> (N, C_out, OH, OW), with
    OH = (H + 2 * padding - dilation * (KH - 1) - 1) // stride + 1 (same for W).

    weight has shape (C_out, C_in / groups, KH, KW), bias (C_out,); both are
    initialised as PyTorch does: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    fan_in = C_in / groups * KH * KW. `padding` is an int, a pair, 'valid'
    (no padding) or 'same' (output as large as the input; stride 1 only).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1,
                 padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError("Conv2d: in_channels ({}) and out_channels ({}) "
                             "must both be divisible by groups ({})".format(
                                 in_channels, out_channels, groups))
        if padding_mode != "zeros":
            raise ValueError("Conv2d: padding_mode {!r} is not supported (only "
                             "'zeros')".format(padding_mode))
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d")
        self.stride = pair(stride, "stride", "Conv2d")
        self.dilation = pair(dilation, "dilation", "Conv2d")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError("Conv2d: padding {!r} is not one of 'same', "
                                 "'valid'".format(padding))
            if padding == "same" and self.stride != (1, 1):
                raise ValueError("Conv2d: padding='same' is not supported for "
                                 "strided convolutions (stride {})".format(
                                     self.stride))
            self.padding = padding
        else:
            self.padding = pair(padding, "padding", "Conv2d")
        self.groups = groups
        self.padding_mode = padding_mode
        self.weight = _empty((out_channels, in_channels // groups)
                             + self.kernel_size, device, dtype)
        if bias:
            self.bias = _empty((out_channels,), device, dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, x):
        if x.ndim not in (3, 4) or x.shape[-3] != self.in_channels:
            raise ValueError("Conv2d({}, {}): expected input of shape "
                             "(N, {}, H, W) or ({}, H, W), got {}".format(
                                 self.in_channels, self.out_channels,
                                 self.in_channels, self.in_channels, x.shape))
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding,
                        self.dilation, self.groups)

    def extra_repr(self):
        text = "{}, {}, kernel_size={}, stride={}".format(
            self.in_channels, self.out_channels, self.kernel_size, self.stride)
        if self.padding != (0, 0):
            text += ", padding={}".format(self.padding)
        if self.dilation != (1, 1):
            text += ", dilation={}".format(self.dilation)
        if self.groups != 1:
            text += ", groups={}".format(self.groups)
        if self.bias is None:
            text += ", bias=False"
        return text
