"""Indexing: x[index], and the scatter-adds that are its gradients.

``x[index]`` accepts what NumPy does: ints, slices, None, Ellipsis, integer
arrays or tensors, and boolean masks. Its gradient puts gy back where the
elements came from, adding up elements picked more than once (``x[[0, 0]]``).

Where an index mixes integers with arrays, PyTorch's rule differs from
NumPy's, and minidl follows PyTorch: the integers (Python ints and 0-d
integer tensors) select first, as plain indexing, and the arrays then index
what is left. So ``x[1, :, idx]`` on shape (2, 3, 4) with ``idx`` of length
2 is ``x[1][:, idx]``, of shape (3, 2); NumPy would count the 1 as an array
too, and, finding the two apart, put their dim first: (2, 3).
"""
from .. import kernels
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor, as_tensor


def _plain_index(index):
    """The index with Tensors replaced by their arrays and lists by arrays."""
    if not isinstance(index, tuple):
        index = (index,)
    plain = []
    for item in index:
        if isinstance(item, Tensor):
            item = item.data
        elif isinstance(item, list):
            import numpy as np
            item = np.asarray(item)
        plain.append(item)
    return tuple(plain)


def _is_basic(index):
    """True when the index has no arrays (so no element is picked twice)."""
    return all(item is None or item is Ellipsis or isinstance(item, (int, slice))
               for item in index)


def _is_integer_scalar(item):
    """A Python int (not a bool) or a 0-d integer array: PyTorch selects
    with these before it applies the array indices."""
    if isinstance(item, bool):
        return False
    if isinstance(item, int):
        return True
    return hasattr(item, "dtype") and getattr(item, "ndim", None) == 0 and \
        item.dtype.kind in "iu"


def _is_array(item):
    return isinstance(item, bool) or (hasattr(item, "dtype")
                                      and not _is_integer_scalar(item))


def torch_stages(index):
    """The index (a tuple, from ``_plain_index``) as the list of NumPy
    indices to apply one after the other to follow PyTorch's rule.

    One stage, the index itself, unless it mixes integers with arrays.
    Then the first stage takes the integers (and slices, None, Ellipsis),
    with every array replaced by a full slice per dim it covers; the
    second takes the arrays on what is left, with a full slice for every
    slice or None of the first.
    """
    if not (any(_is_integer_scalar(item) for item in index)
            and any(_is_array(item) for item in index)):
        return [index]
    integers_first, arrays_then = [], []
    for item in index:
        if _is_integer_scalar(item):
            integers_first.append(int(item))
        elif _is_array(item):
            integers_first.extend([slice(None)] * _dims_covered(item))
            arrays_then.append(item)
        elif item is Ellipsis:
            integers_first.append(item)
            arrays_then.append(item)
        else:  # a slice or None
            integers_first.append(item)
            arrays_then.append(slice(None))
    return [tuple(integers_first), tuple(arrays_then)]


def _dims_covered(array_index):
    """How many dims of the tensor an array index consumes: a boolean mask
    its own ndim (a Python bool none), an integer array one."""
    if isinstance(array_index, bool):
        return 0
    return array_index.ndim if array_index.dtype.kind == "b" else 1


def _on_device(index, xp):
    return tuple(xp.asarray(item) if hasattr(item, "dtype") else item
                 for item in index)


class GetItem(Function):
    """y = x[index].  dx = zeros like x, with gy added at index."""

    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.index = _on_device(self.index, get_array_module(x))
        self.input_shape = x.shape
        try:
            return x[self.index]
        except IndexError as error:
            raise IndexError("getitem: {} for a tensor of shape {}".format(
                error, x.shape)) from None

    def backward(self, gy):
        return IndexAdd(self.index, self.input_shape)(gy)


class IndexAdd(Function):
    """y = zeros(shape) with x added at index.  dx = gy[index]."""

    def __init__(self, index, shape):
        self.index, self.shape = index, shape

    def forward(self, x):
        xp = get_array_module(x)
        result = xp.zeros(self.shape, dtype=x.dtype)
        if _is_basic(self.index):
            result[self.index] = x  # each element at most once: a plain copy
        else:
            kernels.get("scatter_add", xp)(result, self.index, x)
        return result

    def backward(self, gy):
        return GetItem(self.index)(gy)


class IndexPut(Function):
    """y = x with y[index] = v.  dx = gy with zeros at index; dv = gy[index].

    `stages` are the indices that ``torch_stages`` splits the index into:
    the last is written through the views that the others select.
    """

    def __init__(self, stages):
        self.stages = stages

    def forward(self, x, values):
        xp = get_array_module(x)
        self.stages = [_on_device(stage, xp) for stage in self.stages]
        self.value_shape = values.shape
        result = x.copy()
        target = result
        for stage in self.stages[:-1]:
            target = target[stage]  # basic indexing: a view of result
        target[self.stages[-1]] = values
        return result

    def backward(self, gy):
        from .arithmetic import sum_to_shape
        gx = gv = None
        if self.needs_input_grad[0]:
            gx = IndexPut(self.stages)(gy, gy.data.dtype.type(0))
        if self.needs_input_grad[1]:
            picked = gy
            for stage in self.stages:
                picked = GetItem(stage)(picked)
            gv = sum_to_shape(picked, self.value_shape)
        return gx, gv


def _along_axis_index(indices, dim, xp):
    """The full fancy index that take_along_axis(x, indices, dim) uses."""
    index = []
    for axis, size in enumerate(indices.shape):
        if axis == dim:
            index.append(indices)
        else:
            shape = [1] * indices.ndim
            shape[axis] = size
            index.append(xp.arange(size).reshape(shape))
    return tuple(index)


def getitem(x, index):
    """x[index], with PyTorch's rule for integers mixed with arrays."""
    for stage in torch_stages(_plain_index(index)):
        x = GetItem(stage)(x)
    return x


def index_put(x, index, values):
    """x with x[index] = values (PyTorch's rule for integers and arrays)."""
    return IndexPut(torch_stages(_plain_index(index)))(x, as_tensor(values, like=x))


def gather(x, dim, index):
    """y[i][j] = x[i][index[i][j]] (for dim=1): PyTorch's gather.

    The gradient adds gy back at the gathered positions.
    """
    from .reduction import normalize_dims
    xp = get_array_module(x.data)
    index = xp.asarray(index.data if hasattr(index, "grad_fn") else index)
    if index.ndim != x.ndim or index.dtype.kind not in "iu":
        raise ValueError("gather: index must be an integer tensor with as many "
                         "dims as the input; got index of shape {} and dtype "
                         "{} for input of shape {}".format(
                             index.shape, index.dtype, x.shape))
    dim = normalize_dims(dim, x.ndim, "gather")[0]
    return GetItem(_along_axis_index(index, dim, xp))(x)


def scatter_along(values, indices, dim, shape):
    """zeros(shape) with `values` added at take_along_axis positions."""
    xp = get_array_module(values.data)
    return IndexAdd(_along_axis_index(indices, dim, xp), shape)(values)
