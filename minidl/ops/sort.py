"""Ordering: sort, argsort, msort, topk, kthvalue, median, mode.

Each finds integer positions with the array library (a stable argsort),
then takes the values with ``gather``: the gradient of every one is gy
added back at the chosen positions, and the values are exactly x's.
"""
from ..backend import get_array_module
from ..tensor import Tensor
from .reduction import _ValuesIndices, normalize_dims


def _order(data, dim, descending):
    """A stable argsort along dim; descending keeps equal elements in their
    original order (as PyTorch's stable sort). NaN counts as the largest."""
    xp = get_array_module(data)
    if data.dtype.kind in "bu":
        data = data.astype("int64")
    if not descending:
        return xp.argsort(data, axis=dim, kind="stable")
    if data.dtype.kind == "f":
        key = xp.where(xp.isnan(data), -xp.inf, -data)
    else:
        key = -data
    return xp.argsort(key, axis=dim, kind="stable")


def _index_tensor(array):
    return Tensor(array.astype("int64"))


def _dim(x, dim, op):
    return normalize_dims(dim, x.ndim, op)[0]


def sort(x, dim=-1, descending=False, stable=False):
    """(values, indices) of x sorted along dim; always a stable sort."""
    from .indexing import gather
    if x.ndim == 0:
        return _ValuesIndices((x.clone(), _index_tensor(get_array_module(x.data).zeros(()))))
    dim = _dim(x, dim, "sort")
    indices = _index_tensor(_order(x.data, dim, descending))
    return _ValuesIndices((gather(x, dim, indices), indices))


def argsort(x, dim=-1, descending=False, stable=False):
    if x.ndim == 0:
        return _index_tensor(get_array_module(x.data).zeros(()))
    return _index_tensor(_order(x.data, _dim(x, dim, "argsort"), descending))


def msort(x):
    return sort(x, 0)[0]


def topk(x, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the k largest (or smallest) elements along dim,
    in order."""
    from .indexing import gather
    if x.ndim == 0:
        if k not in (0, 1):
            raise ValueError(f"topk: k={k} is out of range for a 0-d tensor")
        return sort(x)
    dim = _dim(x, dim, "topk")
    if not 0 <= k <= x.shape[dim]:
        raise ValueError(f"topk: k={k} is out of range for dim {dim} of size "
                         f"{x.shape[dim]} (shape {x.shape})")
    order = _order(x.data, dim, descending=largest)
    index = (slice(None),) * dim + (slice(0, k),)
    indices = _index_tensor(order[index])
    return _ValuesIndices((gather(x, dim, indices), indices))


def _pick_sorted(x, dim, keepdim, position, op, nan_first=False):
    """The element at `position` of x sorted along dim, and its index.
    With nan_first, a slice holding NaN gives its first NaN instead (NaN
    sorts last), as PyTorch's median does."""
    from .indexing import gather
    if x.ndim == 0:
        return _ValuesIndices((x.clone(), _index_tensor(get_array_module(x.data).zeros(()))))
    xp = get_array_module(x.data)
    dim = _dim(x, dim, op)
    order = _order(x.data, dim, descending=False)
    positions = xp.full(x.shape[:dim] + (1,) + x.shape[dim + 1:], position)
    if nan_first and x.dtype.kind == "f":
        nans = xp.isnan(x.data)
        count = (~nans).sum(axis=dim, keepdims=True)
        positions = xp.where(nans.any(axis=dim, keepdims=True), count, positions)
    indices = _index_tensor(xp.take_along_axis(order, positions, axis=dim))
    values = gather(x, dim, indices)
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return _ValuesIndices((values, indices))


def kthvalue(x, k, dim=-1, keepdim=False):
    """(values, indices) of the k-th smallest element along dim (k from 1)."""
    size = x.shape[_dim(x, dim, "kthvalue")] if x.ndim else 1
    if not 1 <= k <= size:
        raise ValueError(f"kthvalue: k={k} is out of range for a dim of size {size}")
    return _pick_sorted(x, dim, keepdim, k - 1, "kthvalue")


def median(x, dim=None, keepdim=False):
    """The lower median ((n - 1) // 2-th smallest, as PyTorch; NaN where
    the slice holds NaN); with dim, (values, indices)."""
    if dim is None:
        if x.numel() == 0:
            raise ValueError("median: cannot take the median of an empty tensor")
        flat = x.reshape(-1)
        return _pick_sorted(flat, 0, False, (flat.shape[0] - 1) // 2, "median",
                            nan_first=True)[0]
    size = x.shape[_dim(x, dim, "median")] if x.ndim else 1
    return _pick_sorted(x, dim, keepdim, (size - 1) // 2, "median", nan_first=True)


def mode(x, dim=-1, keepdim=False):
    """(values, indices): the most frequent value along dim (the smallest
    one at ties) and the last position where it occurs."""
    import numpy as np
    from ..backend import to_numpy, move_array, device_of
    from .indexing import gather
    if x.ndim == 0:
        return _pick_sorted(x, dim, keepdim, 0, "mode")
    dim = _dim(x, dim, "mode")
    data = np.moveaxis(to_numpy(x.data), dim, -1)
    rows = data.reshape(-1, data.shape[-1])
    picks = np.empty(rows.shape[0], dtype=np.int64)
    for r, row in enumerate(rows):
        values, counts = np.unique(row, return_counts=True)
        best = values[np.argmax(counts)]
        picks[r] = np.nonzero(row == best)[0][-1]
    picks = picks.reshape(data.shape[:-1] + (1,))
    indices = _index_tensor(move_array(np.moveaxis(picks, -1, dim), device_of(x.data)))
    values = gather(x, dim, indices)
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return _ValuesIndices((values, indices))
