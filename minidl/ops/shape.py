"""Ops that move elements around without changing them.

reshape/view, flatten, permute/transpose, unsqueeze/squeeze, expand, cat,
stack, pad. The gradient of each moves the output gradient back: reshape it,
permute it back, sum what expand copied, split what cat joined, crop what pad
added.
"""
from ..autograd.function import Function
from ..backend import get_array_module
from .reduction import normalize_dims


class Reshape(Function):
    """y = x with a new shape.  dx = gy reshaped to x's shape."""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.input_shape = x.shape
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ValueError("reshape: cannot view shape {} ({} elements) as {}"
                             .format(x.shape, x.size, self.shape)) from None

    def backward(self, gy):
        return gy.reshape(self.input_shape)


class Permute(Function):
    """y = x with axes reordered.  dx = gy with the inverse order."""

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        inverse = [0] * len(self.axes)
        for position, axis in enumerate(self.axes):
            inverse[axis] = position
        return gy.permute(*inverse)


class Expand(Function):
    """y = x broadcast to `shape`.  dx = gy summed over the broadcast axes."""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.input_shape = x.shape
        xp = get_array_module(x)
        try:
            return xp.broadcast_to(x, self.shape)
        except ValueError:
            raise ValueError("expand: cannot broadcast shape {} to {}".format(
                x.shape, self.shape)) from None

    def backward(self, gy):
        from .arithmetic import sum_to_shape
        return sum_to_shape(gy, self.input_shape)


class Cat(Function):
    """y = inputs joined along `dim`.  Each dx_i = its slice of gy."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, *xs):
        xp = get_array_module(*xs)
        others = {x.shape[:self.dim] + x.shape[self.dim + 1:] for x in xs
                  if x.ndim == xs[0].ndim}
        if len(others) > 1 or len({x.ndim for x in xs}) > 1:
            raise ValueError("cat: shapes {} differ outside dim {}".format(
                [x.shape for x in xs], self.dim))
        self.sizes = [x.shape[self.dim] for x in xs]
        return xp.concatenate(xs, axis=self.dim)

    def backward(self, gy):
        grads, start = [], 0
        for size in self.sizes:
            index = (slice(None),) * self.dim + (slice(start, start + size),)
            grads.append(gy[index])
            start += size
        return tuple(grads)


class Pad(Function):
    """y = x with constant borders.  dx = the centre of gy (borders cropped).

    `pad` is PyTorch's: (left, right) for the last dim, then (top, bottom)
    for the one before, and so on.
    """

    def __init__(self, pad, value):
        if len(pad) % 2:
            raise ValueError("pad: expected an even number of sizes, got {}"
                             .format(pad))
        self.pad, self.value = tuple(pad), value

    def widths(self, ndim):
        pairs = [(0, 0)] * ndim
        for i in range(len(self.pad) // 2):
            pairs[ndim - 1 - i] = (self.pad[2 * i], self.pad[2 * i + 1])
        return pairs

    def forward(self, x):
        if len(self.pad) // 2 > x.ndim:
            raise ValueError("pad: {} sizes for a tensor of shape {}".format(
                self.pad, x.shape))
        if any(p < 0 for p in self.pad):
            raise ValueError("pad: negative padding {} is not supported".format(
                self.pad))
        xp = get_array_module(x)
        return xp.pad(x, self.widths(x.ndim), mode="constant",
                      constant_values=self.value)

    def backward(self, gy):
        index = tuple(slice(before, size - after) for (before, after), size
                      in zip(self.widths(gy.ndim), gy.shape))
        return gy[index]


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def reshape(x, *shape):
    shape = _shape_arg(shape)
    if shape == x.shape:
        return x
    return Reshape(shape)(x)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one."""
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = start_dim % x.ndim, end_dim % x.ndim
    merged = 1
    for size in x.shape[start:end + 1]:
        merged *= size
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


def permute(x, *axes):
    axes = _shape_arg(axes)
    in_range = all(-x.ndim <= a < x.ndim for a in axes)
    if not in_range or sorted(a % x.ndim for a in axes) != list(range(x.ndim)):
        raise ValueError("permute: {} is not an order of the {} dims of shape {}"
                         .format(axes, x.ndim, x.shape))
    return Permute(tuple(a % x.ndim for a in axes))(x)


def transpose(x, dim0, dim1):
    axes = list(range(x.ndim))
    dim0 = normalize_dims(dim0, x.ndim, "transpose")[0]
    dim1 = normalize_dims(dim1, x.ndim, "transpose")[0]
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return Permute(tuple(axes))(x)


def _new_dim(dim, ndim, caller):
    """`dim` as a position for a new dim among `ndim` (-ndim-1 <= dim <= ndim)."""
    if not -ndim - 1 <= dim <= ndim:
        raise IndexError("{}: dim {} is out of range for a new dim of a tensor "
                         "with {} dimensions (expected {} to {})".format(
                             caller, dim, ndim, -ndim - 1, ndim))
    return dim % (ndim + 1)


def unsqueeze(x, dim):
    dim = _new_dim(dim, x.ndim, "unsqueeze")
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def squeeze(x, dim=None):
    """Remove size-1 dims (only those in `dim`, if given)."""
    dims = normalize_dims(dim, x.ndim, "squeeze")
    shape = tuple(size for i, size in enumerate(x.shape)
                  if not (i in dims and size == 1))
    return reshape(x, shape)


def expand(x, *shape):
    """Broadcast to `shape`; -1 keeps a dim's size."""
    shape = list(_shape_arg(shape))
    offset = len(shape) - x.ndim
    if offset < 0:
        raise ValueError("expand: cannot expand shape {} to {}, which has fewer "
                         "dims".format(x.shape, tuple(shape)))
    for i in range(x.ndim):
        if shape[offset + i] == -1:
            shape[offset + i] = x.shape[i]
    shape = tuple(shape)
    if shape == x.shape:
        return x
    return Expand(shape)(x)


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    dim = normalize_dims(dim, tensors[0].ndim, "cat")[0]
    return Cat(dim)(*tensors)


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    if len({t.shape for t in tensors}) > 1:
        raise ValueError("stack: all tensors must have the same shape, got {}"
                         .format([t.shape for t in tensors]))
    dim = _new_dim(dim, tensors[0].ndim, "stack")
    return cat([unsqueeze(t, dim) for t in tensors], dim)


def pad(x, pad, mode="constant", value=0.0):
    """x with borders: constant `value`, or (mode 'reflect', 'replicate',
    'circular') elements of x itself. `pad` is PyTorch's: (left, right) for
    the last dim, then (top, bottom) for the one before, and so on."""
    if mode == "constant":
        return Pad(pad, 0.0 if value is None else value)(x)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError("pad: mode {!r} is not one of 'constant', 'reflect', "
                         "'replicate', 'circular'".format(mode))
    return _pad_by_indexing(x, tuple(pad), mode)


def _border_index(size, before, after, mode):
    """Which element of a dim of `size` each padded position copies."""
    import numpy as np
    position = np.arange(-before, size + after)
    if mode == "replicate":
        return np.clip(position, 0, size - 1)
    if mode == "circular":
        return position % size
    period = 2 * (size - 1)  # reflect: ... 2 1 | 0 1 2 3 | 2 1 ...
    if period == 0:
        return np.zeros_like(position)
    position = np.abs(position) % period
    return np.where(position >= size, period - position, position)


def _pad_by_indexing(x, pad, mode):
    """Reflect, replicate and circular padding: x indexed with a border
    index along each padded dim (so the gradient adds the copies back)."""
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError("pad: {} sizes for a tensor of shape {} (expected an "
                         "even number, at most 2 per dim)".format(pad, x.shape))
    xp = get_array_module(x.data)
    result = x
    for i in range(len(pad) // 2):
        dim = x.ndim - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        size = x.shape[dim]
        if before < 0 or after < 0:
            raise ValueError("pad: negative padding {} is not supported in mode "
                             "{!r}".format(pad, mode))
        limit = size - 1 if mode == "reflect" else size
        if mode != "replicate" and (before > limit or after > limit) or size == 0:
            raise ValueError("pad: padding ({}, {}) of dim {} of size {} in mode "
                             "{!r} must be at most {}".format(
                                 before, after, dim, size, mode, limit))
        if before == after == 0:
            continue
        index = xp.asarray(_border_index(size, before, after, mode))
        result = result[(slice(None),) * dim + (index,)]
    return result
