"""interpolate (upsample/downsample) with PyTorch's index rules.

Every mode is separable: it resizes one spatial dim at a time, from the
last to the first (W, then H, then D), which is also the order in which
PyTorch's kernels nest their sums, so the values match to the last bit in
most cases. Along one dim:

* nearest: out[i] = x[min(floor(i * scale), in - 1)] (PyTorch's 2-d kernel
  copies a dim that keeps its size and takes x[i // 2] for one that doubles);
* nearest-exact: out[i] = x[min(floor((i + 0.5) * scale), in - 1)];
* linear: out[i] = l0 * x[i0] + l1 * x[i1], with the source coordinate
  s = scale * (i + 0.5) - 0.5 (clamped at 0), or s = scale * i with
  align_corners, i0 = floor(s), i1 = min(i0 + 1, in - 1), l1 = s - i0
  (a dim that keeps its size is copied, as PyTorch does);
* cubic: four taps i0 - 1 .. i0 + 2 (clamped to the edges) with Keys'
  cubic convolution weights (A = -0.75), s not clamped.

scale is in / out, or 1 / scale_factor when scale_factor is given and
recompute_scale_factor is not True; with align_corners it is
(in - 1) / (out - 1). Each step is integer indexing (GetItem) plus
multiplications by constant weights, so the gradients (of every order)
are those of indexing: gy times the weights, added back at the taps.
"""
import math

import numpy as np

from ...backend import get_array_module
from ...tensor import Tensor

_MODES = {"nearest": None, "nearest-exact": None, "linear": 1, "bilinear": 2,
          "trilinear": 3, "bicubic": 2, "area": None}


def _work_dtype(dtype):
    """PyTorch computes float32 (and half) coordinates in float32, float64
    ones in float64."""
    return np.float64 if dtype == np.float64 else np.float32


def _scale(in_size, out_size, scale_factor, align_corners, dtype):
    if align_corners:
        return dtype(in_size - 1) / dtype(out_size - 1) if out_size > 1 else dtype(0)
    if scale_factor is not None and scale_factor > 0:
        return dtype(1.0 / scale_factor)
    return dtype(in_size) / dtype(out_size)


def _nearest_index(in_size, out_size, scale_factor, exact, spatial):
    out = np.arange(out_size)
    if spatial == 2 and not exact:  # PyTorch's 2-d nearest kernel only
        if out_size == in_size:
            return out
        if out_size == 2 * in_size:
            return out >> 1
    scale = _scale(in_size, out_size, scale_factor, False, np.float32)
    position = (out.astype(np.float32) + np.float32(0.5)) * scale if exact \
        else out.astype(np.float32) * scale
    return np.minimum(np.floor(position).astype(np.int64), in_size - 1)


def _linear_taps(in_size, out_size, scale_factor, align_corners, dtype):
    """(indices, weights), each a list of arrays of length out_size."""
    work = _work_dtype(dtype)
    scale = _scale(in_size, out_size, scale_factor, align_corners, work)
    out = np.arange(out_size).astype(work)
    if align_corners:
        source = scale * out
    else:
        source = np.maximum(scale * (out + work(0.5)) - work(0.5), work(0))
    i0 = np.minimum(np.floor(source).astype(np.int64), in_size - 1)
    lambda1 = np.clip(source - i0.astype(work), work(0), work(1)).astype(work)
    lambda0 = (work(1) - lambda1).astype(work)
    i1 = i0 + (i0 < in_size - 1)
    return [i0, i1], [lambda0, lambda1]


def _cubic_taps(in_size, out_size, scale_factor, align_corners, dtype):
    work = _work_dtype(dtype)
    a = work(-0.75)
    scale = _scale(in_size, out_size, scale_factor, align_corners, work)
    out = np.arange(out_size).astype(work)
    source = scale * out if align_corners else scale * (out + work(0.5)) - work(0.5)
    floor = np.floor(source)
    t = (source - floor).astype(work)
    floor = floor.astype(np.int64)

    def near(x):  # |x| <= 1
        return ((a + work(2)) * x - (a + work(3))) * x * x + work(1)

    def far(x):  # 1 < |x| < 2
        return ((a * x - work(5) * a) * x + work(8) * a) * x - work(4) * a
    weights = [far(t + work(1)), near(t), near(work(1) - t), far(work(2) - t)]
    indices = [np.clip(floor + k, 0, in_size - 1) for k in (-1, 0, 1, 2)]
    return indices, [w.astype(work) for w in weights]


def _resize_dim(x, dim, indices, weights):
    """sum over taps of weights[k] * x[..., indices[k], ...] along dim."""
    xp = get_array_module(x.data)
    shape = [1] * x.ndim
    shape[dim] = -1
    head = (slice(None),) * dim
    result = None
    for index, weight in zip(indices, weights):
        term = x[head + (xp.asarray(index),)]
        if weight is not None:
            term = term * Tensor(xp.asarray(weight.astype(x.dtype).reshape(shape)))
        result = term if result is None else result + term
    return result


def _output_sizes(x, size, scale_factor, spatial, op):
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor "
                         f"(got size={size}, scale_factor={scale_factor})")
    in_sizes = x.shape[2:]
    if size is not None:
        sizes = (size,) * spatial if isinstance(size, int) else tuple(size)
        if len(sizes) != spatial:
            raise ValueError(f"{op}: size {size} for {spatial} spatial dims "
                             f"(input shape {x.shape})")
        return tuple(int(s) for s in sizes), (None,) * spatial
    factors = (scale_factor,) * spatial if isinstance(scale_factor, (int, float)) \
        else tuple(scale_factor)
    if len(factors) != spatial:
        raise ValueError(f"{op}: scale_factor {scale_factor} for {spatial} spatial "
                         f"dims (input shape {x.shape})")
    sizes = tuple(int(math.floor(float(n) * float(f))) for n, f in zip(in_sizes, factors))
    return sizes, tuple(float(f) for f in factors)


def interpolate(input, size=None, scale_factor=None, mode="nearest",
                align_corners=None, recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of (N, C, *spatial) `input` (PyTorch's
    F.interpolate): modes nearest, nearest-exact, linear (1 spatial dim),
    bilinear and bicubic (2), trilinear (3), area (adaptive average)."""
    op = "interpolate"
    if mode not in _MODES:
        raise ValueError(f"{op}: mode {mode!r} is not supported (one of "
                         f"{sorted(_MODES)})")
    if antialias:
        raise ValueError(f"{op}: antialias=True is not supported")
    spatial = input.ndim - 2
    if spatial < 1 or spatial > 3:
        raise ValueError(f"{op}: expected a 3-D, 4-D or 5-D input (N, C, ...), got "
                         f"shape {input.shape}")
    if _MODES[mode] is not None and _MODES[mode] != spatial:
        raise ValueError(f"{op}: mode {mode!r} needs a {_MODES[mode] + 2}-D input, got "
                         f"shape {input.shape}")
    if align_corners is not None and mode not in ("linear", "bilinear", "trilinear",
                                                  "bicubic"):
        raise ValueError(f"{op}: align_corners only applies to linear, bilinear, "
                         f"trilinear and bicubic modes, not {mode!r}")
    sizes, factors = _output_sizes(input, size, scale_factor, spatial, op)
    if any(s <= 0 for s in sizes):
        raise ValueError(f"{op}: the output size {sizes} must be positive (input "
                         f"shape {input.shape})")
    if recompute_scale_factor:
        factors = (None,) * spatial
    if mode == "area":
        from .conv_nd import adaptive_avg_pool
        return adaptive_avg_pool(input, sizes, "interpolate")
    result = input
    for axis in reversed(range(spatial)):
        dim = axis + 2
        in_size, out_size, factor = input.shape[dim], sizes[axis], factors[axis]
        if mode in ("nearest", "nearest-exact"):
            index = _nearest_index(in_size, out_size, factor, mode == "nearest-exact",
                                   spatial)
            result = _resize_dim(result, dim, [index], [None])
        elif mode == "bicubic":
            result = _resize_dim(result, dim, *_cubic_taps(
                in_size, out_size, factor, bool(align_corners), input.dtype))
        elif in_size != out_size:  # PyTorch copies a dim that keeps its size
            result = _resize_dim(result, dim, *_linear_taps(
                in_size, out_size, factor, bool(align_corners), input.dtype))
    return result


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, "nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, "bilinear", align_corners=True)
