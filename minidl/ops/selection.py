"""Boolean questions about elements: all, any, count_nonzero, nonzero,
argwhere, masked_select.

Only masked_select is differentiable: it is ``x[mask]`` (a GetItem), whose
gradient puts gy back at the selected positions.
"""
from ..backend import get_array_module
from .reduction import normalize_dims


def _truth_reduction(x, dim, keepdim, axis, reduce, op):
    from ..tensor import Tensor
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
    from ..tensor import Tensor
    dims = normalize_dims(dim, x.ndim, "count_nonzero")
    count = (x.data != 0).sum(axis=dims)
    return Tensor(get_array_module(x.data).asarray(count).astype("int64"))


def nonzero(x, as_tuple=False):
    """The positions of nonzero elements: an (n, ndim) int64 tensor, or
    (with as_tuple) one 1-d tensor per dim."""
    from ..tensor import Tensor
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
    from ..tensor import Tensor
    import numpy as np
    mask_array = mask.data if isinstance(mask, Tensor) else mask
    if mask_array.dtype.kind != "b":
        raise ValueError(f"masked_select: expected a bool mask, got {mask_array.dtype}")
    shape = np.broadcast_shapes(x.shape, mask_array.shape)
    xp = get_array_module(x.data)
    return x.expand(shape)[xp.broadcast_to(mask_array, shape)]
