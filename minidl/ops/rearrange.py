"""Shape ops built from indexing, reshape and cat: flip, roll, repeat,
repeat_interleave, split/chunk, unbind, narrow, movedim, unflatten, unfold,
broadcast_to, atleast_nd, meshgrid, masked_fill, take_along_dim.

None of them needs a Function of its own: each is a composition of exact
ops (getitem with slices or integer arrays, reshape, expand, cat, where),
so its gradient (and every higher one) comes from theirs. Slicing and
integer indexing move elements without arithmetic, so the values are
exactly those of PyTorch.
"""
import builtins
import numbers

import numpy as np

from ..backend import get_array_module
from ..tensor import Tensor, as_tensor
from .reduction import normalize_dims
from .shape import _shape_arg, cat, expand, reshape


def _one_dim(dim, ndim, op):
    return normalize_dims(dim, ndim, op)[0]


def _dims_arg(dims):
    if isinstance(dims, numbers.Integral):
        return (int(dims),)
    return tuple(dims)


def flip(x, *dims):
    """x with the order of elements reversed along `dims` (a slice with step
    -1 on each). The gradient is gy flipped back."""
    dims = _shape_arg(dims)
    dims = normalize_dims(dims, x.ndim, "flip") if dims else ()
    if x.ndim == 0 or not dims:
        return x[...]
    index = tuple(slice(None, None, -1) if d in dims else slice(None)
                  for d in range(x.ndim))
    return x[index]


def fliplr(x):
    if x.ndim < 2:
        raise ValueError(f"fliplr: expected a tensor of at least 2 dims, got shape {x.shape}")
    return flip(x, 1)


def flipud(x):
    if x.ndim < 1:
        raise ValueError(f"flipud: expected a tensor of at least 1 dim, got shape {x.shape}")
    return flip(x, 0)


def roll(x, shifts, dims=None):
    """Elements shifted by `shifts` along `dims`, wrapping around; with
    dims=None the tensor is flattened, rolled and reshaped back."""
    if dims is None:
        if not isinstance(shifts, numbers.Integral):
            shifts = _dims_arg(shifts)
            if len(shifts) != 1:
                raise ValueError(f"roll: without dims, expected one shift, got {shifts}")
            shifts = shifts[0]
        return reshape(roll(reshape(x, -1), shifts, 0), x.shape)
    shifts, dims = _dims_arg(shifts), _dims_arg(dims)
    if len(shifts) != len(dims):
        raise ValueError(f"roll: shifts {shifts} and dims {dims} must have the "
                         f"same length")
    result = x
    for shift, dim in zip(shifts, dims):
        dim = _one_dim(dim, x.ndim, "roll")
        size = x.shape[dim]
        if size == 0 or shift % size == 0:
            continue
        cut = size - shift % size
        head = (slice(None),) * dim
        result = cat([result[head + (slice(cut, None),)],
                      result[head + (slice(None, cut),)]], dim)
    return result


def repeat(x, *sizes):
    """x tiled `sizes` times along each dim (PyTorch's Tensor.repeat):
    broadcast each dim to (count, side), then merge. The gradient sums the
    copies (expand's backward)."""
    sizes = _shape_arg(sizes)
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: {len(sizes)} repeat counts {sizes} for a tensor "
                         f"of shape {x.shape}; expected at least {x.ndim}")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    interleaved, target, final = [], [], []
    for count, side in zip(sizes, shape):
        interleaved += [1, side]
        target += [count, side]
        final.append(count * side)
    return reshape(expand(reshape(x, tuple(interleaved)), tuple(target)), tuple(final))


def tile(x, dims):
    dims = _dims_arg(dims)
    dims = (1,) * (x.ndim - len(dims)) + dims
    return repeat(x, dims)


def repeat_interleave(x, repeats=None, dim=None, output_size=None):
    """Each element repeated `repeats` times along `dim` (flattened when dim
    is None): x[index] with index = [0]*r0 + [1]*r1 + ...

    ``repeat_interleave(counts)`` alone gives that index (0 repeated
    counts[0] times, 1 counts[1] times, ...), as in PyTorch."""
    if repeats is None:
        xp = get_array_module(x.data)
        return Tensor(xp.repeat(xp.arange(x.shape[0]), x.data))
    if dim is None:
        x, dim = reshape(x, -1), 0
    dim = _one_dim(dim, x.ndim, "repeat_interleave")
    size = x.shape[dim]
    xp = get_array_module(x.data)
    counts = repeats.data if isinstance(repeats, Tensor) else repeats
    counts = np.asarray(counts.get() if hasattr(counts, "get") else counts)
    if counts.ndim == 0:
        counts = np.full(size, int(counts))
    if counts.ndim != 1 or counts.size != size or (counts < 0).any():
        raise ValueError(f"repeat_interleave: repeats must be a non-negative int "
                         f"or a 1-d tensor with one count per element of dim {dim} "
                         f"(size {size}); got {counts.tolist()}")
    index = xp.asarray(np.repeat(np.arange(size), counts))
    return x[(slice(None),) * dim + (index,)]


def _split_sizes(size, split_size_or_sections, op):
    if isinstance(split_size_or_sections, numbers.Integral):
        step = int(split_size_or_sections)
        if step <= 0 and size:
            raise ValueError(f"{op}: split size must be positive, got {step}")
        if size == 0:
            return [0]
        return [builtins.min(step, size - start) for start in range(0, size, step)]
    sizes = [int(s) for s in split_size_or_sections]
    if builtins.sum(sizes) != size:
        raise ValueError(f"{op}: sizes {sizes} add up to {builtins.sum(sizes)}, "
                         f"expected the dim's size {size}")
    return sizes


def _pieces(x, dim, sizes):
    head = (slice(None),) * dim
    pieces, start = [], 0
    for size in sizes:
        pieces.append(x[head + (slice(start, start + size),)])
        start += size
    return tuple(pieces)


def split(x, split_size_or_sections, dim=0):
    """Pieces of `split_size_or_sections` elements along dim (the last one
    smaller), or pieces of the listed sizes."""
    dim = _one_dim(dim, x.ndim, "split")
    return _pieces(x, dim, _split_sizes(x.shape[dim], split_size_or_sections, "split"))


def chunk(x, chunks, dim=0):
    """At most `chunks` pieces of ceil(size / chunks) elements along dim."""
    if chunks <= 0:
        raise ValueError(f"chunk: expected a positive number of chunks, got {chunks}")
    dim = _one_dim(dim, x.ndim, "chunk")
    size = x.shape[dim]
    step = builtins.max(-(-size // chunks), 1)
    return split(x, step, dim)


def tensor_split(x, indices_or_sections, dim=0):
    """Like numpy.array_split: n pieces whose sizes differ by at most one
    (the first ones larger), or pieces cut at the given indices."""
    dim = _one_dim(dim, x.ndim, "tensor_split")
    size = x.shape[dim]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, numbers.Integral):
        n = int(indices_or_sections)
        if n <= 0:
            raise ValueError(f"tensor_split: expected a positive number of "
                             f"sections, got {n}")
        sizes = [size // n + (1 if i < size % n else 0) for i in range(n)]
        return _pieces(x, dim, sizes)
    head = (slice(None),) * dim
    bounds = [0] + [int(i) for i in indices_or_sections] + [size]
    return tuple(x[head + (slice(a, builtins.max(a, b)),)]
                 for a, b in zip(bounds[:-1], bounds[1:]))


def hsplit(x, sections):
    return tensor_split(x, sections, 1 if x.ndim > 1 else 0)


def vsplit(x, sections):
    return tensor_split(x, sections, 0)


def unbind(x, dim=0):
    """The slices x[..., i, ...] along dim, as a tuple."""
    dim = _one_dim(dim, x.ndim, "unbind")
    head = (slice(None),) * dim
    return tuple(x[head + (i,)] for i in range(x.shape[dim]))


def narrow(x, dim, start, length):
    """x[..., start:start + length, ...] along dim."""
    dim = _one_dim(dim, x.ndim, "narrow")
    size = x.shape[dim]
    start = int(start)
    if start < 0:
        start += size
    if not (0 <= start <= size and 0 <= length <= size - start):
        raise IndexError(f"narrow: start {start} and length {length} are out of "
                         f"range for dim {dim} of size {size}")
    return x[(slice(None),) * dim + (slice(start, start + length),)]


def movedim(x, source, destination):
    """x with dims `source` moved to positions `destination`."""
    source, destination = _dims_arg(source), _dims_arg(destination)
    if len(source) != len(destination):
        raise ValueError(f"movedim: source {source} and destination "
                         f"{destination} must have the same length")
    source = [_one_dim(d, x.ndim, "movedim") for d in source]
    destination = [_one_dim(d, x.ndim, "movedim") for d in destination]
    if len(set(source)) != len(source) or len(set(destination)) != len(destination):
        raise ValueError(f"movedim: repeated dims in {source} or {destination}")
    order = [None] * x.ndim
    for s, d in zip(source, destination):
        order[d] = s
    rest = iter(d for d in range(x.ndim) if d not in source)
    order = [next(rest) if o is None else o for o in order]
    return x.permute(*order) if x.ndim else x


def swapaxes(x, axis0, axis1):
    return x.transpose(axis0, axis1)


def unflatten(x, dim, sizes):
    """Dim `dim` split into `sizes` (one of them may be -1)."""
    dim = _one_dim(dim, x.ndim, "unflatten")
    sizes = tuple(sizes)
    known = 1
    for s in sizes:
        if s != -1:
            known *= s
    if sizes.count(-1) > 1 or (-1 not in sizes and known != x.shape[dim]) or \
            (-1 in sizes and (known == 0 or x.shape[dim] % known)):
        raise ValueError(f"unflatten: sizes {sizes} do not multiply to the size "
                         f"{x.shape[dim]} of dim {dim} (shape {x.shape})")
    sizes = tuple(x.shape[dim] // known if s == -1 else s for s in sizes)
    return reshape(x, x.shape[:dim] + sizes + x.shape[dim + 1:])


def unfold(x, dimension, size, step):
    """Tensor.unfold: the windows x[..., i*step : i*step + size, ...] along
    `dimension`, as a new last dim of length `size`: x[index] with an
    integer index of shape (windows, size)."""
    if x.ndim == 0:
        x = reshape(x, 1)
    dim = _one_dim(dimension, x.ndim, "unfold")
    length = x.shape[dim]
    if size > length or size < 0 or step <= 0:
        raise ValueError(f"unfold: window size {size} with step {step} does not "
                         f"fit dim {dim} of size {length} (shape {x.shape})")
    xp = get_array_module(x.data)
    windows = (length - size) // step + 1
    index = xp.arange(windows)[:, None] * step + xp.arange(size)[None, :]
    result = x[(slice(None),) * dim + (index,)]  # (..., windows, size, ...)
    return movedim(result, dim + 1, -1)


def broadcast_to(x, shape):
    return expand(x, tuple(shape))


def broadcast_tensors(*tensors):
    shape = np.broadcast_shapes(*[t.shape for t in tensors])
    return tuple(expand(t, shape) for t in tensors)


def expand_as(x, other):
    return expand(x, other.shape)


def view_as(x, other):
    return reshape(x, other.shape)


def reshape_as(x, other):
    return reshape(x, other.shape)


def _atleast(tensors, ndim):
    shaped = []
    for t in tensors:
        if ndim >= 1 and t.ndim == 0:
            t = reshape(t, 1)
        if ndim >= 2 and t.ndim == 1:
            t = reshape(t, (1,) + t.shape)
        if ndim >= 3 and t.ndim == 2:
            t = reshape(t, t.shape + (1,))
        shaped.append(t)
    return shaped


def _atleast_call(tensors, ndim):
    single = len(tensors) == 1 and not isinstance(tensors[0], (list, tuple))
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shaped = _atleast(tensors, ndim)
    return shaped[0] if single else tuple(shaped)


def atleast_1d(*tensors):
    return _atleast_call(tensors, 1)


def atleast_2d(*tensors):
    return _atleast_call(tensors, 2)


def atleast_3d(*tensors):
    return _atleast_call(tensors, 3)


def meshgrid(*tensors, indexing="ij"):
    """Grids from 1-d tensors: output i varies along dim i ('ij'); 'xy'
    transposes the first two dims of every grid, as NumPy and PyTorch do."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in tensors:
        if t.ndim > 1:
            raise ValueError(f"meshgrid: expected 0-d or 1-d tensors, got shape {t.shape}")
    tensors = [reshape(t, -1) for t in tensors]
    shape = tuple(t.shape[0] for t in tensors)
    grids = []
    for i, t in enumerate(tensors):
        view = [1] * len(tensors)
        view[i] = shape[i]
        grids.append(expand(reshape(t, tuple(view)), shape))
    if indexing == "xy" and len(grids) >= 2:
        grids = [g.transpose(0, 1) for g in grids]
    return tuple(grids)


def masked_fill(x, mask, value):
    """x with `value` where mask is true (mask broadcasts to x). The gradient
    is gy where the mask is false; a tensor value gets the sum of gy under
    the mask."""
    from .elementwise import where
    mask_array = mask.data if isinstance(mask, Tensor) else mask
    if getattr(mask_array, "dtype", None) is None or mask_array.dtype.kind != "b":
        raise ValueError(f"masked_fill: expected a bool mask, got "
                         f"{getattr(mask_array, 'dtype', type(mask))}")
    if np.broadcast_shapes(mask_array.shape, x.shape) != x.shape:
        raise ValueError(f"masked_fill: mask of shape {mask_array.shape} does not "
                         f"broadcast to the input's shape {x.shape}")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"masked_fill: value must be a 0-d tensor, got shape "
                             f"{value.shape}")
        value = value.to(dtype=x.dtype)
    else:
        value = as_tensor(value, like=x).to(dtype=x.dtype)
    return where(mask_array, value, x)


def take_along_dim(x, indices, dim=None):
    """x's elements at `indices` along dim (indices broadcast against x in
    the other dims); with dim=None, over the flattened x."""
    from .indexing import gather
    if dim is None:
        return gather(reshape(x, -1), 0, reshape(indices, -1))
    dim = _one_dim(dim, x.ndim, "take_along_dim")
    index_shape = list(indices.shape)
    x_shape = list(x.shape)
    index_shape[dim] = x_shape[dim] = 1
    common = np.broadcast_shapes(tuple(index_shape), tuple(x_shape))
    x_target = list(common)
    x_target[dim] = x.shape[dim]
    i_target = list(common)
    i_target[dim] = indices.shape[dim]
    return gather(expand(x, tuple(x_target)), dim, expand(indices, tuple(i_target)))


__all__ = ["atleast_1d", "atleast_2d", "atleast_3d", "broadcast_tensors",
           "broadcast_to", "chunk", "expand_as", "flip", "fliplr", "flipud",
           "hsplit", "masked_fill", "meshgrid", "movedim", "narrow", "repeat",
           "repeat_interleave", "reshape_as", "roll", "split",
           "swapaxes", "take_along_dim", "tensor_split", "tile", "unbind",
           "unflatten", "unfold", "view_as", "vsplit"]
