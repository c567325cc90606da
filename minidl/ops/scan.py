"""Products and cumulative ops along one dim: prod, cumsum, cumprod,
cummax/cummin, logcumsumexp.

Zeros make products tricky: the gradient of a product with respect to one
factor is the product of the *other* factors, which cannot be computed as
product / factor when that factor is 0. Both Prod and CumProd take the
division route when there is no zero and an exact route otherwise.
"""
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor, ones
from .reduction import _ValuesIndices, normalize_dims


def _integer_result(x, dtype):
    """Sums and products of integers and bools are int64, as in PyTorch."""
    if dtype is not None:
        return dtype
    return "int64" if x.dtype.kind in "biu" else None


def running(combine, x, axis):
    """The inclusive scan of `combine` (maximum, minimum, logaddexp: an
    associative element-wise function) along axis, with whole-array calls
    only (Hillis-Steele doubling: log2(n) steps), so NumPy and CuPy both
    run it."""
    xp = get_array_module(x)
    result = xp.moveaxis(x, axis, -1).copy()
    n, shift = result.shape[-1], 1
    while shift < n:
        result[..., shift:] = combine(result[..., shift:], result[..., :n - shift].copy())
        shift *= 2
    return xp.moveaxis(result, -1, axis)


def _reverse_cumsum(g, dim):
    """r[k] = sum over j >= k of g[j] along dim."""
    from .rearrange import flip
    return flip(cumsum(flip(g, dim), dim), dim)


class CumSum(Function):
    """y[j] = sum over k <= j of x[k] along dim.

    dx[k] = sum over j >= k of gy[j]: a cumulative sum run backwards.
    """

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        return get_array_module(x).cumsum(x, axis=self.dim, dtype=x.dtype)

    def backward(self, gy):
        return _reverse_cumsum(gy, self.dim)


class CumProd(Function):
    """y[j] = product over k <= j of x[k] along dim.

    dx[k] = sum over j >= k of gy[j] * prod(x[i] for i <= j, i != k).
    Without zeros that is reverse_cumsum(gy * y)[k] / x[k]. With a zero the
    inner products are formed directly: a (..., n, n) matrix whose row k is x
    with x[k] replaced by 1, cumulated along its last dim, so the cost is
    n^2 along that dim (only where a zero occurs).
    """

    def __init__(self, dim):
        self.dim = dim

    def to_save(self, inputs, outputs):
        return inputs[0], outputs[0]

    def forward(self, x):
        return get_array_module(x).cumprod(x, axis=self.dim)

    def backward(self, gy):
        x, y = self.saved_tensors
        if x.shape[self.dim] == 0:
            return gy
        if not (x.data == 0).any():
            return _reverse_cumsum(gy * y, self.dim) / x
        from .elementwise import where
        from .rearrange import movedim
        xp = get_array_module(x.data)
        n = x.shape[self.dim]
        xl, gl = movedim(x, self.dim, -1), movedim(gy, self.dim, -1)
        rows = xl.unsqueeze(-2).expand(xl.shape[:-1] + (n, n))
        eye = xp.eye(n, dtype=bool)
        others = cumprod(where(eye, 1.0, rows), -1)  # [k, j]: prod i<=j, i!=k
        later = xp.triu(xp.ones((n, n), dtype=bool))  # j >= k
        terms = where(later, others * gl.unsqueeze(-2), 0.0)
        return movedim(terms.sum(-1), -1, self.dim)


class Prod(Function):
    """y = product of x along dim.

    dx[k] = gy * prod(x[i] for i != k): y / x[k] without zeros; otherwise
    the product of the factors before k times the product of those after
    (exclusive cumulative products, exact at zeros).
    """

    def __init__(self, dim, keepdim):
        self.dim, self.keepdim = dim, keepdim

    def to_save(self, inputs, outputs):
        return inputs[0], outputs[0]

    def forward(self, x):
        return get_array_module(x).prod(x, axis=self.dim, keepdims=self.keepdim)

    def backward(self, gy):
        x, y = self.saved_tensors
        if not self.keepdim:
            gy, y = gy.unsqueeze(self.dim), y.unsqueeze(self.dim)
        if not (x.data == 0).any():
            return gy * y / x
        return gy * _exclusive_products(x, self.dim)


def _exclusive_products(x, dim):
    """p[k] = prod(x[i] for i != k) along dim, without division."""
    from .rearrange import flip
    from .shape import cat
    n = x.shape[dim]
    head = (slice(None),) * dim
    one = ones(x.shape[:dim] + (1,) + x.shape[dim + 1:], dtype=x.dtype,
               device=x.device)
    before = cumprod(cat([one, x[head + (slice(0, n - 1),)]], dim), dim)
    after = flip(cumprod(flip(cat([x[head + (slice(1, n),)], one], dim), dim),
                         dim), dim)
    return before * after


class CumMaxMin(Function):
    """values[j] = max (min) of x[k] for k <= j; indices[j] = the last k
    where that value occurs (PyTorch's choice at ties). A NaN spreads to
    every later value, with its own position as the index.

    dx = gy added at the indices.
    """

    def __init__(self, dim, largest):
        self.dim, self.largest = dim, largest

    def forward(self, x):
        xp = get_array_module(x)
        values = running(xp.maximum if self.largest else xp.minimum, x, self.dim)
        shape = [1] * x.ndim
        shape[self.dim] = x.shape[self.dim]
        positions = xp.arange(x.shape[self.dim]).reshape(shape)
        hit = x == values
        if x.dtype.kind == "f":  # NaN spreads, and its position is the index
            hit = hit | xp.isnan(x)
        hits = xp.where(hit, positions, 0)
        self.indices = running(xp.maximum, hits, self.dim).astype("int64")
        return values, self.indices

    def backward(self, g_values, g_indices):
        from .indexing import scatter_along
        return scatter_along(g_values, self.indices, self.dim, g_values.shape)


class LogCumSumExp(Function):
    """y[j] = log(sum over k <= j of exp(x[k])), computed stably as a
    running logaddexp.

    dx[k] = sum over j >= k of gy[j] * exp(x[k] - y[j]); each exponent is
    <= 0 (y[j] >= x[k]), so nothing overflows. The terms form an (n, n)
    matrix along dim: the cost is n^2 in the length of dim.
    """

    def __init__(self, dim):
        self.dim = dim

    def to_save(self, inputs, outputs):
        return inputs[0], outputs[0]

    def forward(self, x):
        return running(get_array_module(x).logaddexp, x, self.dim)

    def backward(self, gy):
        from .elementwise import exp, where
        from .rearrange import movedim
        x, y = self.saved_tensors
        n = x.shape[self.dim]
        if n == 0:
            return gy
        xp = get_array_module(x.data)
        xl, yl, gl = (movedim(t, self.dim, -1) for t in (x, y, gy))
        later = xp.triu(xp.ones((n, n), dtype=bool))  # [k, j]: j >= k
        exponent = where(later, xl.unsqueeze(-1) - yl.unsqueeze(-2), -float("inf"))
        terms = exp(exponent) * gl.unsqueeze(-2)
        return movedim(terms.sum(-1), -1, self.dim)


def _scan_dim(x, dim, axis, op):
    dim = axis if dim is None else dim
    if dim is None:
        raise TypeError(f"{op}: missing the dim argument")
    return normalize_dims(dim, x.ndim, op)[0]


def _as_scan_input(x, dtype):
    """0-d inputs scan as one element; integer inputs accumulate in int64."""
    target = _integer_result(x, dtype)
    if target is not None and x.dtype != target:
        x = x.to(dtype=target)
    return x


def cumsum(x, dim=None, dtype=None, axis=None):
    """Running sums along dim (int64 for integer and bool inputs)."""
    dim = _scan_dim(x, dim, axis, "cumsum")
    x = _as_scan_input(x, dtype)
    if x.ndim == 0:
        return x.clone()
    return CumSum(dim)(x)


def cumprod(x, dim=None, dtype=None, axis=None):
    """Running products along dim; the gradient is exact at zeros."""
    dim = _scan_dim(x, dim, axis, "cumprod")
    x = _as_scan_input(x, dtype)
    if x.ndim == 0:
        return x.clone()
    return CumProd(dim)(x)


def _cum_max_min(x, dim, axis, largest):
    op = "cummax" if largest else "cummin"
    dim = _scan_dim(x, dim, axis, op)
    if x.ndim == 0:
        xp = get_array_module(x.data)
        return _ValuesIndices((x.clone(), Tensor(xp.zeros((), "int64"))))
    values, indices = CumMaxMin(dim, largest)(x)
    return _ValuesIndices((values, indices))


def cummax(x, dim=None, axis=None):
    """(values, indices): running maxima along dim and where they occur."""
    return _cum_max_min(x, dim, axis, largest=True)


def cummin(x, dim=None, axis=None):
    return _cum_max_min(x, dim, axis, largest=False)


def logcumsumexp(x, dim=None, axis=None):
    """log(cumsum(exp(x))) along dim, without overflow or underflow."""
    dim = _scan_dim(x, dim, axis, "logcumsumexp")
    if x.dtype.kind not in "fc":
        raise TypeError(f"logcumsumexp: expected a floating-point tensor, got {x.dtype}")
    if x.ndim == 0:
        return x.clone()
    return LogCumSumExp(dim)(x)


def prod(x, dim=None, keepdim=False, dtype=None, axis=None):
    """The product of all elements, or along one dim (int64 for integer and
    bool inputs, as in PyTorch)."""
    dim = axis if dim is None else dim
    x = _as_scan_input(x, dtype)
    if dim is None:
        result = Prod(0, False)(x.reshape(-1))
        return result.reshape((1,) * x.ndim) if keepdim else result
    if not isinstance(dim, int):
        raise TypeError(f"prod: dim must be one int, got {dim!r}")
    dim = normalize_dims(dim, x.ndim, "prod")[0]
    if x.ndim == 0:
        return x.clone()
    return Prod(dim, keepdim)(x)


def diff(x, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along dim: out[i] = x[i + 1] - x[i],
    applied n times, after joining prepend and append (as torch.diff).
    Slices and a subtraction: the gradient comes from theirs."""
    from .shape import cat
    dim = normalize_dims(dim, x.ndim, "diff")[0]
    parts = [t for t in (prepend, x, append) if t is not None]
    if len(parts) > 1:
        x = cat(parts, dim)
    head = (slice(None),) * dim
    for _ in range(n):
        later, earlier = x[head + (slice(1, None),)], x[head + (slice(None, -1),)]
        x = later != earlier if x.dtype.kind == "b" else later - earlier  # bool: xor
    return x
