"""Pooling: max_pool2d, avg_pool2d and adaptive_avg_pool2d (PyTorch's).

Shapes: input x (N, C, H, W) (or one image (C, H, W)), output
(N, C, OH, OW). A window of KH x KW taps slides over x with a stride, over
padding, as in convolution (see ``_window.py``); with ``ceil_mode`` the
output size rounds up instead of down.

Every op here works tap by tap: for tap (i, j) of the window, the elements
it reads for all output positions form one strided slice of the padded
input, so each step is a whole-array operation. Their gradients come in
pairs of ops that are each other's adjoint (gather / scatter, sum / spread),
so backward of backward works.
"""
import numpy as np

from ... import kernels
from ...autograd.function import Function
from ...backend import get_array_module
from ...tensor import Tensor, tensor
from . import _pool_kernels  # noqa: F401  (registers the max-pool kernels)
from ._im2col import pad_to_cover
from ._window import (as_batch, check_non_negative, check_positive, pair,
                      padded_extent, pool_output_size, window_slice)


class _Window:
    """Kernel size, stride, padding, dilation: the pairs every op needs."""

    def __init__(self, kernel_size, stride, padding, dilation):
        self.kernel_size, self.stride = kernel_size, stride
        self.padding, self.dilation = padding, dilation

    def tap_slices(self, output_size):
        """((i, j), index) for each tap: the slice of the padded input that
        tap (i, j) reads for every output position."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.stride, \
            self.dilation
        oh, ow = output_size
        for i in range(kh):
            for j in range(kw):
                yield (i, j), (slice(None), slice(None),
                               window_slice(i * dh, oh, sh),
                               window_slice(j * dw, ow, sw))

    def padded_zeros(self, x_shape, output_size, dtype, xp):
        """Zeros the size of the padded input, to add taps' values into."""
        n, c, h, w = x_shape
        (ph, pw) = self.padding
        eh, ew = padded_extent(output_size, self.kernel_size, self.stride,
                               self.dilation)
        return xp.zeros((n, c, max(eh, ph + h), max(ew, pw + w)), dtype=dtype)

    def crop(self, padded, input_size):
        """The input part of a padded array, as a new contiguous array."""
        (ph, pw), (h, w) = self.padding, input_size
        if (ph, pw) == (0, 0) and padded.shape[2:] == (h, w):
            return padded
        xp = get_array_module(padded)
        return xp.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w])


# -- max pooling --------------------------------------------------------------

class MaxPool2d(Function):
    """y = the largest element of each window (padding reads as -inf).

    x (N, C, H, W) -> y (N, C, OH, OW). dy/dx is 1 at the element each
    window chose (the first of equal maxima, as PyTorch) and 0 elsewhere:
    dx = MaxPool2dScatter(gy).
    """

    def __init__(self, window, output_size):
        self.window, self.output_size = window, output_size

    def forward(self, x):
        w = self.window
        forward = kernels.get("max_pool2d_forward", get_array_module(x))
        values, self.taps = forward(x, w.kernel_size, w.stride, w.padding,
                                    w.dilation, self.output_size)
        self.input_size = x.shape[2:]
        return values

    def backward(self, gy):
        return MaxPool2dScatter(self.window, self.taps, self.input_size)(gy)


class MaxPool2dScatter(Function):
    """dx = each window's gradient added at the element it chose.

    g (N, C, OH, OW) -> (N, C, H, W). Linear in g; its adjoint, hence its
    gradient, is MaxPool2dGather.
    """

    def __init__(self, window, taps, input_size):
        self.window, self.taps, self.input_size = window, taps, input_size

    def forward(self, g):
        w = self.window
        backward = kernels.get("max_pool2d_backward", get_array_module(g))
        return backward(g, self.taps, self.input_size, w.kernel_size,
                        w.stride, w.padding, w.dilation)

    def backward(self, gg):
        return MaxPool2dGather(self.window, self.taps, self.input_size)(gg)


class MaxPool2dGather(Function):
    """y = the element of each window that the forward chose (its tap).

    x (N, C, H, W) -> (N, C, OH, OW). Linear in x; its gradient is
    MaxPool2dScatter.
    """

    def __init__(self, window, taps, input_size):
        self.window, self.taps, self.input_size = window, taps, input_size

    def forward(self, x):
        xp = get_array_module(x)
        output_size = self.taps.shape[2:]
        kw = self.window.kernel_size[1]
        extent = padded_extent(output_size, self.window.kernel_size,
                               self.window.stride, self.window.dilation)
        padded = pad_to_cover(x, self.window.padding, extent, 0)
        y = xp.zeros(self.taps.shape, dtype=x.dtype)
        for (i, j), index in self.window.tap_slices(output_size):
            xp.copyto(y, padded[index], where=self.taps == i * kw + j)
        return y

    def backward(self, gy):
        return MaxPool2dScatter(self.window, self.taps, self.input_size)(gy)


def _flat_indices(taps, window, input_size):
    """PyTorch's indices from the taps: h * W + w of the chosen element."""
    xp = get_array_module(taps)
    (kw, (sh, sw), (ph, pw), (dh, dw)) = (window.kernel_size[1], window.stride,
                                          window.padding, window.dilation)
    oh, ow = taps.shape[2:]
    i, j = taps // kw, taps % kw
    rows = (xp.arange(oh) * sh - ph).reshape(oh, 1) + i * dh
    cols = (xp.arange(ow) * sw - pw) + j * dw
    return (rows * input_size[1] + cols).astype(np.int64)


# -- average pooling ----------------------------------------------------------

def _window_sum(x, window, output_size):
    """Sum of each window of x, padding counting as 0: (N, C, OH, OW)."""
    extent = padded_extent(output_size, window.kernel_size, window.stride,
                           window.dilation)
    padded = pad_to_cover(x, window.padding, extent, 0)
    total = None
    for _, index in window.tap_slices(output_size):
        if total is None:
            total = padded[index].copy()
        else:
            total += padded[index]
    return total


def _spread(g, window, input_size):
    """Each g (N, C, OH, OW) added onto every element of its window: the
    adjoint of _window_sum. Returns (N, C, H, W)."""
    xp = get_array_module(g)
    output_size = g.shape[2:]
    padded = window.padded_zeros(g.shape[:2] + tuple(input_size), output_size,
                                 g.dtype, xp)
    for _, index in window.tap_slices(output_size):
        padded[index] += g
    return window.crop(padded, input_size)


def _avg_divisor(input_size, window, output_size, count_include_pad,
                 divisor_override):
    """What each window's sum is divided by: (OH, OW) float64, PyTorch's rule.

    Along each axis a window runs from start = o*S - P to
    end = min(start + K, size + P) (never past the end padding). With
    count_include_pad the divisor counts all of that; without, only the
    part inside the input. The window's count is the product of its row
    and column counts.
    """
    if divisor_override is not None:
        return np.full(output_size, float(divisor_override))
    counts = []
    for size, k, s, p, out in zip(input_size, window.kernel_size,
                                  window.stride, window.padding, output_size):
        start = np.arange(out) * s - p
        end = np.minimum(start + k, size + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, size)
        counts.append((end - start).astype(np.float64))
    return np.outer(counts[0], counts[1])


class AvgPool2d(Function):
    """y = (sum of each window) / divisor, divisor (OH, OW) as PyTorch's.

    x (N, C, H, W) -> y (N, C, OH, OW). Linear in x: dx = AvgPool2dSpread(gy)
    (each gy / divisor added onto its window).
    """

    def __init__(self, window, output_size, divisor):
        self.window, self.output_size, self.divisor = window, output_size, \
            divisor

    def forward(self, x):
        self.input_size = x.shape[2:]
        divisor = get_array_module(x).asarray(self.divisor, dtype=x.dtype)
        return _window_sum(x, self.window, self.output_size) / divisor

    def backward(self, gy):
        return AvgPool2dSpread(self.window, self.input_size,
                               self.divisor)(gy)


class AvgPool2dSpread(Function):
    """dx = each g / divisor added onto every element of its window: the
    adjoint of AvgPool2d, which is therefore its gradient."""

    def __init__(self, window, input_size, divisor):
        self.window, self.input_size, self.divisor = window, input_size, \
            divisor

    def forward(self, g):
        divisor = get_array_module(g).asarray(self.divisor, dtype=g.dtype)
        return _spread(g / divisor, self.window, self.input_size)

    def backward(self, gg):
        return AvgPool2d(self.window, tuple(self.divisor.shape),
                         self.divisor)(gg)


# -- the public functions -----------------------------------------------------

def _pool_window(x, kernel_size, stride, padding, dilation, ceil_mode, op):
    """Check the arguments; return the window and the output size."""
    kernel_size = pair(kernel_size, "kernel_size", op)
    stride = kernel_size if stride is None or stride == () or stride == [] \
        else pair(stride, "stride", op)
    padding, dilation = pair(padding, "padding", op), \
        pair(dilation, "dilation", op)
    check_positive(kernel_size, "kernel_size", op)
    check_positive(stride, "stride", op)
    check_positive(dilation, "dilation", op)
    check_non_negative(padding, "padding", op)
    if any(p > k // 2 for p, k in zip(padding, kernel_size)):
        raise ValueError("{}: padding {} must be at most half of kernel_size "
                         "{}".format(op, padding, kernel_size))
    input_size = x.shape[2:]
    output_size = pool_output_size(input_size, kernel_size, stride, padding,
                                   dilation, ceil_mode)
    if any(o < 1 for o in output_size):
        raise ValueError("{}: input of shape {} is too small for kernel_size "
                         "{}, stride {}, padding {}, dilation {}: the output "
                         "would be {}".format(op, x.shape, kernel_size, stride,
                                              padding, dilation, output_size))
    return _Window(kernel_size, stride, padding, dilation), output_size


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode=False, return_indices=False):
    """The maximum over each window (PyTorch's max_pool2d).

    input (N, C, H, W) or (C, H, W); kernel_size, stride (default:
    kernel_size), padding (at most half the kernel), dilation: an int or a
    pair. OH = floor((H + 2 PH - DH (KH - 1) - 1) / SH) + 1 (ceil with
    ceil_mode, dropping a last window that would start in the end padding).
    With return_indices, also returns int64 indices h * W + w of the chosen
    elements (PyTorch's).
    """
    op = "max_pool2d"
    x, single = as_batch(input, op)
    window, output_size = _pool_window(x, kernel_size, stride, padding,
                                       dilation, ceil_mode, op)
    function = MaxPool2d(window, output_size)
    y = function(x)
    if single:
        y = y.squeeze(0)
    if not return_indices:
        return y
    indices = _flat_indices(function.taps, window, x.shape[2:])
    return y, Tensor(indices[0] if single else indices)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """The mean over each window (PyTorch's avg_pool2d).

    input (N, C, H, W) or (C, H, W); kernel_size, stride (default:
    kernel_size), padding (at most half the kernel): an int or a pair.
    Each window sum is divided by its size counting the padding
    (count_include_pad) or not, or by divisor_override if given.
    """
    op = "avg_pool2d"
    x, single = as_batch(input, op)
    window, output_size = _pool_window(x, kernel_size, stride, padding, 1,
                                       ceil_mode, op)
    if divisor_override is not None and divisor_override == 0:
        raise ValueError("{}: divisor_override must not be 0".format(op))
    divisor = _avg_divisor(x.shape[2:], window, output_size,
                           count_include_pad, divisor_override)
    y = AvgPool2d(window, output_size, divisor)(x)
    return y.squeeze(0) if single else y


def _bin_matrix(size, out, like):
    """(out, size) matrix whose row i averages PyTorch's bin i:
    from floor(i * size / out) to ceil((i + 1) * size / out)."""
    matrix = np.zeros((out, size))
    for i in range(out):
        start = (i * size) // out
        end = -((-(i + 1) * size) // out)
        matrix[i, start:end] = 1.0 / (end - start)
    return tensor(matrix, dtype=like.dtype, device=like.device)


def adaptive_avg_pool2d(input, output_size):
    """Mean over OH x OW bins that cover the input (PyTorch's).

    input (N, C, H, W) or (C, H, W); output_size an int or a pair (None
    keeps that input size). Bin i along H spans rows floor(i H / OH) to
    ceil((i + 1) H / OH). Because a bin is a row range times a column
    range, y = P_H @ x @ P_W^T with P_H (OH, H) and P_W (OW, W) averaging
    matrices: two matrix products, whose gradients are matrix products too.
    """
    op = "adaptive_avg_pool2d"
    x, single = as_batch(input, op)
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        output_size = tuple(size if o is None else o
                            for o, size in zip(output_size, x.shape[2:]))
    oh, ow = pair(output_size, "output_size", op)
    check_positive((oh, ow), "output_size", op)
    h, w = x.shape[2:]
    if h == 0 or w == 0:
        raise ValueError("{}: input of shape {} is empty".format(op, x.shape))
    if (oh, ow) == (1, 1):
        # One bin: the plain mean (what ResNets end with), no matrices.
        y = x.mean(dim=(2, 3), keepdim=True)
    else:
        y = _bin_matrix(h, oh, x) @ (x @ _bin_matrix(w, ow, x).T)
    return y.squeeze(0) if single else y
