"""Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d over (N, C, H, W)."""
from .. import functional as F
from ..module import Module


class MaxPool2d(Module):
    """Maximum over each KH x KW window: (N, C, H, W) -> (N, C, OH, OW),
    OH = floor((H + 2 * padding - dilation * (KH - 1) - 1) / stride) + 1
    (ceil instead of floor with ``ceil_mode=True``). stride defaults to
    kernel_size."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, x):
        if self.return_indices:
            return F.max_pool2d(x, self.kernel_size, self.stride, self.padding,
                                self.dilation, ceil_mode=self.ceil_mode,
                                return_indices=True)
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding,
                            self.dilation, ceil_mode=self.ceil_mode)

    def extra_repr(self):
        return ("kernel_size={}, stride={}, padding={}, dilation={}, "
                "ceil_mode={}".format(self.kernel_size, self.stride,
                                      self.padding, self.dilation,
                                      self.ceil_mode))


class AvgPool2d(Module):
    """Mean over each KH x KW window (padding counted as zeros unless
    ``count_include_pad=False``). stride defaults to kernel_size."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding,
                            ceil_mode=self.ceil_mode,
                            count_include_pad=self.count_include_pad,
                            divisor_override=self.divisor_override)

    def extra_repr(self):
        return "kernel_size={}, stride={}, padding={}".format(
            self.kernel_size, self.stride, self.padding)


class AdaptiveAvgPool2d(Module):
    """Mean over windows chosen so the output is (N, C, *output_size);
    ``AdaptiveAvgPool2d(1)`` is global average pooling. A None in
    output_size keeps that input size."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return "output_size={}".format(self.output_size)
