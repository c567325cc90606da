"""Conv2d and ConvTranspose2d: 2-d convolution layers over (N, C, H, W) inputs."""
from .. import functional as F
from .. import init
from ..module import Module
from ..functional._window import pair
from .linear import _weight_and_bias


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
        _weight_and_bias(self, (out_channels, in_channels // groups)
                         + self.kernel_size, out_channels, bias, device, dtype)

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


class ConvTranspose2d(Module):
    """(N, C_in, H, W) -> (N, C_out, OH, OW): the gradient of a Conv2d with
    respect to its input, used as a layer that upsamples, with
    OH = (H - 1) * stride - 2 * padding + dilation * (KH - 1)
         + output_padding + 1 (same for W).

    weight has shape (C_in, C_out / groups, KH, KW), bias (C_out,), as in
    PyTorch, and the same initialisation as PyTorch's (fan_in from
    weight's second dim). ``forward(x, output_size)`` picks the
    output_padding that gives that size, as PyTorch does.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1,
                 padding=0, output_padding=0, groups=1, bias=True, dilation=1,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(f"ConvTranspose2d: in_channels ({in_channels}) and "
                             f"out_channels ({out_channels}) must both be "
                             f"divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"ConvTranspose2d: padding_mode {padding_mode!r} "
                             f"is not supported (only 'zeros', as PyTorch)")
        op = "ConvTranspose2d"
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, "kernel_size", op)
        self.stride = pair(stride, "stride", op)
        self.padding = pair(padding, "padding", op)
        self.output_padding = pair(output_padding, "output_padding", op)
        self.dilation = pair(dilation, "dilation", op)
        self.groups = groups
        self.padding_mode = padding_mode
        _weight_and_bias(self, (in_channels, out_channels // groups)
                         + self.kernel_size, out_channels, bias, device, dtype)

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def output_padding_for(self, x, output_size):
        """The output_padding that makes the output `output_size` (the last
        two entries are (OH, OW)); an error outside the reachable sizes."""
        if output_size is None:
            return self.output_padding
        wanted = tuple(output_size)[-2:]
        padding = []
        for axis, size in enumerate(wanted):
            smallest = ((x.shape[-2 + axis] - 1) * self.stride[axis]
                        - 2 * self.padding[axis]
                        + self.dilation[axis] * (self.kernel_size[axis] - 1) + 1)
            largest = smallest + self.stride[axis] - 1
            if not smallest <= size <= largest:
                raise ValueError(f"ConvTranspose2d: output_size {wanted} is "
                                 f"not reachable from input {x.shape}; each "
                                 f"side must lie in [{smallest}, {largest}] "
                                 f"for axis {axis}")
            padding.append(size - smallest)
        return tuple(padding)

    def forward(self, x, output_size=None):
        if x.ndim not in (3, 4) or x.shape[-3] != self.in_channels:
            raise ValueError(f"ConvTranspose2d({self.in_channels}, "
                             f"{self.out_channels}): expected input of shape "
                             f"(N, {self.in_channels}, H, W) or "
                             f"({self.in_channels}, H, W), got {x.shape}")
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride,
                                  self.padding,
                                  self.output_padding_for(x, output_size),
                                  self.groups, self.dilation)

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size="
                f"{self.kernel_size}, stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text
