"""Convolution and pooling in 1 and 3 spatial dims, built on the 2-d ops,
plus max_unpool and adaptive average pooling in any number of dims.

* 1-d ops are the 2-d ones on a height-1 image: (N, C, L) -> (N, C, 1, L),
  kernel (1, K), stride (1, S), ... The values and gradients are exactly
  those of conv2d / max_pool2d / avg_pool2d.
* conv3d is a sum over the kernel's depth of 2-d convolutions: for each
  depth tap kd, the input planes od * SD + kd * DD (for every output depth
  od) go through conv2d with the weight's plane kd.
* avg_pool3d averages 2-d window means over the depth window.
* max_unpool writes each value back at its index in a zero tensor
  (IndexPut): the gradient is gy read at the indices.
"""
import numpy as np

from ...backend import get_array_module
from ...tensor import Tensor, zeros
from ._window import pair
from .conv import conv2d
from .pooling import _bin_matrix, avg_pool2d, max_pool2d


def _single(value, name, op):
    """An int or a 1-tuple as an int."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{op}: {name} must be an int or a 1-tuple, got {value!r}")
        value = value[0]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{op}: {name} must be an int, got {value!r}")
    return value


def _triple(value, name, op):
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * 3
    if isinstance(value, (tuple, list)) and len(value) == 3 and \
            all(isinstance(v, int) for v in value):
        return tuple(value)
    raise ValueError(f"{op}: {name} must be an int or a triple of ints, got {value!r}")


def _as_batch(input, ndim, op, layout):
    """input with a batch dim, and whether one was added."""
    if input.ndim == ndim - 1:
        return input.unsqueeze(0), True
    if input.ndim != ndim:
        raise ValueError(f"{op}: expected a {ndim}-D input {layout} or a "
                         f"{ndim - 1}-D one without N, got shape {input.shape}")
    return input, False


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution: input (N, C_in, L) or (C_in, L), weight
    (C_out, C_in / groups, K) -> (N, C_out, OL), OL = floor((L + 2P -
    D (K - 1) - 1) / S) + 1. conv2d on a height-1 image."""
    op = "conv1d"
    x, single = _as_batch(input, 3, op, "(N, C, L)")
    if weight.ndim != 3:
        raise ValueError(f"{op}: expected a 3-D weight (C_out, C_in / groups, K), got "
                         f"shape {weight.shape}")
    if not isinstance(padding, str):
        padding = (0, _single(padding, "padding", op))
    y = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias,
               (1, _single(stride, "stride", op)), padding,
               (1, _single(dilation, "dilation", op)), groups)
    y = y.squeeze(2)
    return y.squeeze(0) if single else y


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution: input (N, C_in, D, H, W), weight (C_out, C_in /
    groups, KD, KH, KW) -> (N, C_out, OD, OH, OW). A sum over the KD depth
    taps of conv2d's over the matching input planes."""
    from ...ops.shape import pad as pad_
    op = "conv3d"
    x, single = _as_batch(input, 5, op, "(N, C, D, H, W)")
    if weight.ndim != 5:
        raise ValueError(f"{op}: expected a 5-D weight, got shape {weight.shape}")
    stride, dilation = _triple(stride, "stride", op), _triple(dilation, "dilation", op)
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0, 0)
        elif padding == "same" and stride == (1, 1, 1):
            total = [d * (k - 1) for d, k in zip(dilation, weight.shape[2:])]
            x = pad_(x, [p for t in reversed(total) for p in (t // 2, t - t // 2)])
            padding = (0, 0, 0)
        else:
            raise ValueError(f"{op}: padding {padding!r} (stride {stride}) is not "
                             f"supported; use 'valid', 'same' with stride 1, or ints")
    padding = _triple(padding, "padding", op)
    n, c = x.shape[:2]
    kd = weight.shape[2]
    if padding[0]:
        x = pad_(x, (0, 0, 0, 0, padding[0], padding[0]))
    depth = x.shape[2]
    out_depth = (depth - dilation[0] * (kd - 1) - 1) // stride[0] + 1
    if out_depth < 1:
        raise ValueError(f"{op}: kernel depth {kd} (dilation {dilation[0]}) is larger "
                         f"than the padded input depth {depth} (input shape {input.shape})")
    starts = np.arange(out_depth) * stride[0]
    total = None
    for tap in range(kd):
        planes = x[:, :, starts + tap * dilation[0]]          # (N, C, OD, H, W)
        planes = planes.permute(0, 2, 1, 3, 4).reshape(n * out_depth, c, *x.shape[3:])
        part = conv2d(planes, weight[:, :, tap], None, stride[1:], padding[1:],
                      dilation[1:], groups)
        total = part if total is None else total + part
    y = total.reshape(n, out_depth, *total.shape[1:]).permute(0, 2, 1, 3, 4)
    if bias is not None:
        y = y + bias.reshape(1, -1, 1, 1, 1)
    return y.squeeze(0) if single else y


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode=False, return_indices=False):
    """Maximum over windows of (N, C, L) or (C, L): max_pool2d on a
    height-1 image. Indices are positions along L."""
    op = "max_pool1d"
    x, single = _as_batch(input, 3, op, "(N, C, L)")
    kernel = _single(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or stride == () else _single(stride, "stride", op)
    result = max_pool2d(x.unsqueeze(2), (1, kernel), (1, stride),
                        (0, _single(padding, "padding", op)),
                        (1, _single(dilation, "dilation", op)), ceil_mode,
                        return_indices)
    if return_indices:
        y, indices = result
        y, indices = y.squeeze(2), indices.squeeze(2)
        return (y.squeeze(0), indices.squeeze(0)) if single else (y, indices)
    y = result.squeeze(2)
    return y.squeeze(0) if single else y


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Mean over windows of (N, C, L) or (C, L): avg_pool2d on a height-1
    image."""
    op = "avg_pool1d"
    x, single = _as_batch(input, 3, op, "(N, C, L)")
    kernel = _single(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or stride == () else _single(stride, "stride", op)
    y = avg_pool2d(x.unsqueeze(2), (1, kernel), (1, stride),
                   (0, _single(padding, "padding", op)), ceil_mode,
                   count_include_pad).squeeze(2)
    return y.squeeze(0) if single else y


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over KD x KH x KW windows of (N, C, D, H, W): 2-d window means,
    then their mean over each depth window. Padding counts in the divisor
    (count_include_pad=True); ceil_mode and divisor_override are refused."""
    from ...ops.shape import pad as pad_
    op = "avg_pool3d"
    x, single = _as_batch(input, 5, op, "(N, C, D, H, W)")
    kernel = _triple(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or stride == () else _triple(stride, "stride", op)
    padding = _triple(padding, "padding", op)
    if ceil_mode or divisor_override is not None or \
            (not count_include_pad and any(padding)):
        raise ValueError(f"{op}: ceil_mode, divisor_override and count_include_pad="
                         f"False with padding are not supported")
    n, c, d, h, w = x.shape
    planes = avg_pool2d(x.reshape(n, c * d, h, w), kernel[1:], stride[1:], padding[1:])
    planes = planes.reshape(n, c, d, *planes.shape[2:])
    if padding[0]:
        planes = pad_(planes, (0, 0, 0, 0, padding[0], padding[0]))
    windows = planes.unfold(2, kernel[0], stride[0])  # (N, C, OD, OH, OW, KD)
    y = windows.mean(-1)
    return y.squeeze(0) if single else y


def adaptive_avg_pool(input, output_size, op):
    """The mean over bins covering each spatial dim (PyTorch's adaptive
    average pooling): one averaging matrix product per dim."""
    from ...ops.rearrange import movedim
    spatial = input.ndim - 2
    sizes = (output_size,) * spatial if isinstance(output_size, int) \
        else tuple(output_size)
    if len(sizes) != spatial:
        raise ValueError(f"{op}: output_size {output_size} for {spatial} spatial dims "
                         f"(input shape {input.shape})")
    y = input
    for axis, out in enumerate(sizes):
        dim = axis + 2
        if out is None or out == input.shape[dim]:
            continue
        if out <= 0 or input.shape[dim] == 0:
            raise ValueError(f"{op}: output size {out} for dim {dim} of input shape "
                             f"{input.shape}")
        y = movedim(movedim(y, dim, -1) @ _bin_matrix(input.shape[dim], out, y).T,
                    -1, dim)
    return y


def adaptive_avg_pool1d(input, output_size):
    x, single = _as_batch(input, 3, "adaptive_avg_pool1d", "(N, C, L)")
    y = adaptive_avg_pool(x, (_single(output_size, "output_size",
                                      "adaptive_avg_pool1d"),), "adaptive_avg_pool1d")
    return y.squeeze(0) if single else y


def adaptive_avg_pool3d(input, output_size):
    x, single = _as_batch(input, 5, "adaptive_avg_pool3d", "(N, C, D, H, W)")
    y = adaptive_avg_pool(x, output_size, "adaptive_avg_pool3d")
    return y.squeeze(0) if single else y


def _unpool(input, indices, output_spatial, op):
    """Zeros of shape (N, C, *output_spatial) with input written at the
    flat spatial positions `indices`."""
    from ...ops.indexing import index_put
    if input.shape != indices.shape:
        raise ValueError(f"{op}: input of shape {input.shape} and indices of shape "
                         f"{indices.shape} must match")
    n, c = input.shape[:2]
    size = int(np.prod(output_spatial))
    flat_indices = indices.data.reshape(n, c, -1)
    if flat_indices.size and (int(flat_indices.min()) < 0 or int(flat_indices.max()) >= size):
        raise ValueError(f"{op}: indices must be in [0, {size}) for an output of "
                         f"spatial size {tuple(output_spatial)}")
    xp = get_array_module(input.data)
    rows = xp.arange(n).reshape(n, 1, 1)
    channels = xp.arange(c).reshape(1, c, 1)
    base = zeros((n, c, size), dtype=input.dtype, device=input.device)
    result = index_put(base, (Tensor(xp.broadcast_to(rows, flat_indices.shape)),
                              Tensor(xp.broadcast_to(channels, flat_indices.shape)),
                              Tensor(flat_indices)), input.reshape(n, c, -1))
    return result.reshape(n, c, *output_spatial)


def _unpool_size(input, kernel, stride, padding, output_size, spatial, op):
    default = tuple((size - 1) * s - 2 * p + k for size, k, s, p in
                    zip(input.shape[2:], kernel, stride, padding))
    if output_size is None:
        return default
    output_size = tuple(output_size)[-spatial:]
    if len(output_size) != spatial:
        raise ValueError(f"{op}: output_size {output_size} for {spatial} spatial dims")
    return output_size


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0,
                 output_size=None):
    """The inverse of max_pool2d(return_indices=True): each value written
    back at its index h * W + w of a zero (N, C, H, W) tensor."""
    op = "max_unpool2d"
    x, single = _as_batch(input, 4, op, "(N, C, H, W)")
    index = indices.unsqueeze(0) if single else indices
    kernel = pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else pair(stride, "stride", op)
    padding = pair(padding, "padding", op)
    size = _unpool_size(x, kernel, stride, padding, output_size, 2, op)
    y = _unpool(x, index, size, op)
    return y.squeeze(0) if single else y


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0,
                 output_size=None):
    op = "max_unpool1d"
    x, single = _as_batch(input, 3, op, "(N, C, L)")
    index = indices.unsqueeze(0) if single else indices
    kernel = (_single(kernel_size, "kernel_size", op),)
    stride = kernel if stride is None else (_single(stride, "stride", op),)
    padding = (_single(padding, "padding", op),)
    size = _unpool_size(x, kernel, stride, padding, output_size, 1, op)
    y = _unpool(x, index, size, op)
    return y.squeeze(0) if single else y
