"""Reductions: sum, mean, var, max/min (values and indices), amax/amin, logsumexp."""
import builtins

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor


def normalize_dims(dim, ndim, op="dim"):
    """`dim` (None, an int or a tuple, negatives allowed) as a sorted tuple.

    None and the empty tuple both mean every dim, as in PyTorch. `op` names
    the operation in error messages.
    """
    dims = () if dim is None else (dim,) if isinstance(dim, int) else tuple(dim)
    if not dims:
        return tuple(range(ndim))
    bound = builtins.max(ndim, 1)  # a 0-d tensor accepts dim 0 and -1
    result = []
    for d in dims:
        if not -bound <= d < bound:
            raise IndexError("{}: dim {} is out of range for a tensor with {} "
                             "dimensions (expected {} to {})".format(
                                 op, d, ndim, -bound, bound - 1))
        d = d % ndim if ndim else 0
        if d in result:
            raise ValueError("{}: dim {} appears more than once in {}".format(
                op, d, dim))
        result.append(d)
    return tuple(sorted(result))


def reduced_dims(dim, ndim, op):
    """The axes a reduction over `dim` works on: ``normalize_dims``, except
    that a 0-d tensor has none. As in PyTorch, dim 0 or -1 of a 0-d tensor
    is its one element, and reducing one element leaves it as it is."""
    dims = normalize_dims(dim, ndim, op)
    return dims if ndim else ()


def _kept_shape(shape, dims):
    """The shape of a reduction over `dims` with keepdim=True."""
    return tuple(1 if i in dims else size for i, size in enumerate(shape))


class Sum(Function):
    """y = sum of x over `dims`.  dy/dx = 1: the gradient is broadcast back."""

    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        self.input_shape = x.shape
        return x.sum(axis=self.dims, keepdims=self.keepdim)

    def backward(self, gy):
        if not self.keepdim:
            gy = gy.reshape(_kept_shape(self.input_shape, self.dims))
        return gy.expand(self.input_shape)


class MaxMin(Function):
    """values = max (or min) of x along one dim.

    d values / dx = 1 at the chosen element (the first one at ties, the one
    whose index is returned), 0 elsewhere.
    """

    def __init__(self, dim, keepdim, largest):
        self.dim, self.keepdim, self.largest = dim, keepdim, largest

    @property
    def name(self):
        return "max" if self.largest else "min"

    def forward(self, x):
        xp = get_array_module(x)
        if x.shape[self.dim] == 0:
            raise ValueError("{}: cannot reduce over dim {} of size 0 (shape "
                             "{})".format(self.name, self.dim, x.shape))
        pick = xp.argmax if self.largest else xp.argmin
        indices = xp.expand_dims(pick(x, axis=self.dim), self.dim)
        self.indices, self.input_shape = indices, x.shape
        values = xp.take_along_axis(x, indices, axis=self.dim)
        if not self.keepdim:
            values, indices = values.squeeze(self.dim), indices.squeeze(self.dim)
        return values, indices

    def backward(self, g_values, g_indices):
        from .indexing import scatter_along
        if not self.keepdim:
            g_values = g_values.unsqueeze(self.dim)
        return scatter_along(g_values, self.indices, self.dim, self.input_shape)


class AMaxMin(Function):
    """y = max (or min) of x over `dims` (several dims allowed).

    The gradient is shared equally among the elements that tie for the
    extreme value, as in PyTorch: dx = gy * share, with share = 1/count at
    the tied elements and 0 elsewhere. share is a constant, so the second
    derivative is 0, as it should be for a piecewise linear function.
    """

    def __init__(self, dims, keepdim, largest):
        self.dims, self.keepdim, self.largest = dims, keepdim, largest

    @property
    def name(self):
        return "amax" if self.largest else "amin"

    def forward(self, x):
        self.input_shape = x.shape
        best = x.max(axis=self.dims, keepdims=True) if self.largest \
            else x.min(axis=self.dims, keepdims=True)
        is_best = x == best
        self.share = (is_best / is_best.sum(axis=self.dims, keepdims=True)
                      ).astype(x.dtype)
        return best if self.keepdim else best.reshape(
            [size for i, size in enumerate(x.shape) if i not in self.dims])

    def backward(self, gy):
        if not self.keepdim:
            gy = gy.reshape(_kept_shape(self.input_shape, self.dims))
        return gy * Tensor(self.share)


def sum(x, dim=None, keepdim=False, dtype=None):
    """The sum over `dim` (all dims by default); with `dtype`, of x cast to
    it first (as PyTorch)."""
    if dtype is not None:
        x = x.to(dtype=dtype)
    return Sum(reduced_dims(dim, x.ndim, "sum"), keepdim)(x)


def mean(x, dim=None, keepdim=False, dtype=None):
    """sum / count; the gradient is 1/count everywhere. With `dtype`, of x
    cast to it first (as PyTorch)."""
    if dtype is not None:
        x = x.to(dtype=dtype)
    dims = reduced_dims(dim, x.ndim, "mean")
    count = 1
    for d in dims:
        count *= x.shape[d]
    return sum(x, dims, keepdim) / count


def var(x, dim=None, unbiased=True, keepdim=False, correction=None):
    """mean((x - mean(x))^2) * n / (n - correction); correction 1 by default."""
    if correction is None:
        correction = 1 if unbiased else 0
    dims = reduced_dims(dim, x.ndim, "var")
    count = 1
    for d in dims:
        count *= x.shape[d]
    centred = x - mean(x, dims, keepdim=True)
    return sum(centred * centred, dims, keepdim) / builtins.max(count - correction, 0)


def std(x, dim=None, unbiased=True, keepdim=False, correction=None):
    from .elementwise import sqrt
    return sqrt(var(x, dim, unbiased, keepdim, correction))


class _ValuesIndices(tuple):
    """(values, indices), also readable as .values and .indices."""

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]


def _max_min(x, dim, keepdim, largest):
    from .elementwise import maximum, minimum
    if isinstance(dim, Tensor):  # max(x, y): the element-wise maximum
        return maximum(x, dim) if largest else minimum(x, dim)
    if dim is None:  # over everything: one value, no indices (as PyTorch)
        return amax(x) if largest else amin(x)
    dim = normalize_dims(dim, x.ndim, "max" if largest else "min")[0]
    if x.ndim == 0:
        return _ValuesIndices((x, Tensor(get_array_module(x.data).zeros((), "int64"))))
    values, indices = MaxMin(dim, keepdim, largest)(x)
    indices = Tensor(indices.data.astype("int64"))
    return _ValuesIndices((values, indices))


def max(x, dim=None, keepdim=False):
    """max(x): the largest value; max(x, dim): (values, indices) along dim."""
    return _max_min(x, dim, keepdim, largest=True)


def min(x, dim=None, keepdim=False):
    return _max_min(x, dim, keepdim, largest=False)


def amax(x, dim=None, keepdim=False):
    """Largest values over `dim` (several dims allowed).

    The gradient is shared equally among elements that tie for the maximum,
    as in PyTorch.
    """
    return _amax_amin(x, dim, keepdim, largest=True)


def amin(x, dim=None, keepdim=False):
    return _amax_amin(x, dim, keepdim, largest=False)


def _amax_amin(x, dim, keepdim, largest):
    op = "amax" if largest else "amin"
    return AMaxMin(reduced_dims(dim, x.ndim, op), keepdim, largest)(x)


def logsumexp(x, dim, keepdim=False):
    """log(sum(exp(x))) over `dim`, computed as m + log(sum(exp(x - m))).

    d/dx = softmax(x) along dim.
    """
    from .elementwise import exp, log
    dims = reduced_dims(dim, x.ndim, "logsumexp")
    xp = get_array_module(x.data)
    shift = x.data.max(axis=dims, keepdims=True)
    shift = xp.where(xp.isfinite(shift), shift, 0)
    shift = Tensor(shift)  # a constant: the result does not depend on it
    result = log(sum(exp(x - shift), dims, keepdim=True)) + shift
    return result if keepdim else result.squeeze(dims)


def var_mean(x, dim=None, unbiased=True, keepdim=False, correction=None):
    """(var, mean) over dim, as torch.var_mean."""
    return (var(x, dim, unbiased, keepdim, correction), mean(x, dim, keepdim))


def std_mean(x, dim=None, unbiased=True, keepdim=False, correction=None):
    """(std, mean) over dim, as torch.std_mean."""
    return (std(x, dim, unbiased, keepdim, correction), mean(x, dim, keepdim))
