"""Boolean questions about elements: all, any, count_nonzero, nonzero,
argwhere, masked_select.

Only masked_select is differentiable: it is ``x[mask]`` (a GetItem), whose
gradient puts gy back at the selected positions.
"""
from ..backend import get_array_module
from ..tensor import Tensor, as_tensor
from .reduction import normalize_dims


def _truth_reduction(x, dim, keepdim, axis, reduce, op):
    dim = axis if dim is None else dim
    dims = normalize_dims(dim, x.ndim, op)
    data = x.data != 0 if x.dtype.kind != "b" else x.data
    result = reduce(data, axis=dims, keepdims=keepdim)
    xp = get_array_module(x.data)
    if x.dtype == "uint8":  # PyTorch keeps uint8 for all/any of uint8
        result = result.astype("uint8")
    return Tensor(xp.asarray(result))


def all(x, dim=None, keepdim=False, axis=None):  # noqa: A001 (PyTorch's name)
    """True where every element (over dim) is nonzero."""
    return _truth_reduction(x, dim, keepdim, axis, get_array_module(x.data).all, "all")


def any(x, dim=None, keepdim=False, axis=None):  # noqa: A001
    """True where some element (over dim) is nonzero."""
    return _truth_reduction(x, dim, keepdim, axis, get_array_module(x.data).any, "any")


def count_nonzero(x, dim=None):
    """How many elements (over dim) are nonzero, as int64."""
    dims = normalize_dims(dim, x.ndim, "count_nonzero")
    count = (x.data != 0).sum(axis=dims)
    return Tensor(get_array_module(x.data).asarray(count).astype("int64"))


def nonzero(x, as_tuple=False):
    """The positions of nonzero elements: an (n, ndim) int64 tensor, or
    (with as_tuple) one 1-d tensor per dim."""
    xp = get_array_module(x.data)
    data = x.data.reshape(1) if x.ndim == 0 else x.data
    positions = [p.astype("int64") for p in xp.nonzero(data)]
    if as_tuple:
        return tuple(Tensor(p) for p in positions)
    if x.ndim == 0:
        return Tensor(xp.zeros((int(positions[0].size), 0), "int64"))
    return Tensor(xp.stack(positions, axis=1))


def argwhere(x):
    return nonzero(x)


def masked_select(x, mask):
    """The elements of x where mask is true (both broadcast), as a 1-d
    tensor in row-major order."""
    import numpy as np
    mask_array = mask.data if isinstance(mask, Tensor) else mask
    if mask_array.dtype.kind != "b":
        raise ValueError(f"masked_select: expected a bool mask, got {mask_array.dtype}")
    shape = np.broadcast_shapes(x.shape, mask_array.shape)
    xp = get_array_module(x.data)
    return x.expand(shape)[xp.broadcast_to(mask_array, shape)]


def bincount(x, weights=None, minlength=0):
    """How often each value 0, 1, ... occurs in the 1-d non-negative integer
    tensor x (summing `weights` instead of counting, if given)."""
    if x.ndim != 1 or x.dtype.kind not in "iu":
        raise ValueError(f"bincount: expected a 1-d integer tensor, got shape {x.shape} "
                         f"and dtype {x.dtype}")
    if x.numel() and int(x.data.min()) < 0:
        raise ValueError("bincount: the values must be non-negative")
    xp = get_array_module(x.data)
    if weights is None:
        return Tensor(xp.bincount(x.data, minlength=minlength).astype("int64"))
    data = weights.data if isinstance(weights, Tensor) else xp.asarray(weights)
    counts = xp.bincount(x.data, weights=data, minlength=minlength)
    return Tensor(counts.astype(data.dtype if data.dtype.kind == "f" else "float64"))


def searchsorted(sorted_sequence, values, right=False, side=None, out_int32=False):
    """For each value, the index where it would be inserted into the 1-d
    sorted_sequence to keep it sorted (the first such index, or the last
    with right=True / side='right')."""
    if sorted_sequence.ndim != 1:
        raise ValueError(f"searchsorted: only a 1-d sorted_sequence is supported, got "
                         f"shape {sorted_sequence.shape}")
    values = as_tensor(values, like=sorted_sequence)
    side = side or ("right" if right else "left")
    xp = get_array_module(sorted_sequence.data)
    result = xp.searchsorted(sorted_sequence.data, values.data, side=side)
    return Tensor(xp.asarray(result).astype("int32" if out_int32 else "int64"))


def bucketize(input, boundaries, out_int32=False, right=False):
    """The bucket of each element among the 1-d sorted boundaries (torch's
    convention: right=False gives boundaries[i-1] < x <= boundaries[i])."""
    return searchsorted(boundaries, input, side="left" if not right else "right",
                        out_int32=out_int32)
