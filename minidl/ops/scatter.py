"""Writing along a dim at integer positions: scatter, scatter_add,
scatter_reduce, index_select, index_add, index_copy, index_fill, take.

``index`` holds, for each of its elements, the position along `dim` in the
output where the matching `src` element goes (PyTorch's scatter). Sums are
IndexAdd, plain writes IndexPut (ops/indexing.py); prod and amax/amin have
Functions of their own below.
"""
from .. import kernels
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor, as_tensor, ones
from .indexing import IndexAdd, IndexPut, _along_axis_index, gather, getitem, index_put
from .reduction import normalize_dims


def _index_array(index, x, src, dim, op):
    xp = get_array_module(x.data)
    index = xp.asarray(index.data if isinstance(index, Tensor) else index)
    if index.dtype.kind not in "iu":
        raise ValueError(f"{op}: index must be an integer tensor, got {index.dtype}")
    if index.ndim != x.ndim and not (index.ndim <= 1 and x.ndim <= 1):
        raise ValueError(f"{op}: index of shape {index.shape} must have as many dims "
                         f"as the input of shape {x.shape}")
    index = index.reshape(index.shape if x.ndim else ())
    for d in range(index.ndim):
        limit = x.shape[d] if d != dim else None
        if limit is not None and index.shape[d] > limit or \
                src is not None and index.shape[d] > src.shape[d]:
            raise ValueError(f"{op}: index of shape {index.shape} is larger than the "
                             f"input {x.shape} or src {None if src is None else src.shape} "
                             f"outside dim {dim}")
    size = x.shape[dim] if x.ndim else 1
    if index.size and (int(index.min()) < -size or int(index.max()) >= size):
        raise IndexError(f"{op}: index values must be in [{-size}, {size}) for dim "
                         f"{dim} of shape {x.shape}")
    return index % size if size else index


def _src_part(src, index):
    """src cut to index's shape (src may be larger in any dim)."""
    if src.shape == index.shape:
        return src
    return src[tuple(slice(0, n) for n in index.shape)]


def _prepare(x, dim, index, src, op):
    dim = normalize_dims(dim, x.ndim, op)[0] if x.ndim else 0
    if src is not None and not isinstance(src, Tensor):
        src = None
    index = _index_array(index, x, src, dim, op)
    full = _along_axis_index(index, dim, get_array_module(x.data))
    return dim, index, full


def scatter(x, dim, index, src=None, value=None, reduce=None):
    """out = x, then out[index[i][j]][j] = src[i][j] (for dim=0); `src` may
    be a number. reduce='add' / 'multiply' combine instead of writing.

    Gradients: x gets gy except at the written positions; src gets gy
    gathered from them.
    """
    if src is None:
        src = value
    if reduce is not None:
        modes = {"add": "sum", "multiply": "prod"}
        if reduce not in modes:
            raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
        if not isinstance(src, Tensor):
            index_shape = _prepare(x, dim, index, None, "scatter")[1].shape
            src = as_tensor(src, like=x).to(dtype=x.dtype).expand(index_shape)
        return scatter_reduce(x, dim, index, src, modes[reduce])
    dim, index, full = _prepare(x, dim, index, src, "scatter")
    if isinstance(src, Tensor):
        values = _src_part(src, index).to(dtype=x.dtype)
    else:
        values = as_tensor(src, like=x)
    return IndexPut([full])(x, values)


def scatter_add(x, dim, index, src):
    """out = x, then out[index[i][j]][j] += src[i][j] (for dim=0)."""
    dim, index, full = _prepare(x, dim, index, src, "scatter_add")
    return x + IndexAdd(full, x.shape)(_src_part(src, index))


class ScatterProd(Function):
    """out = x * (product of the src elements scattered to each position).

    Each factor's gradient is gy times the product of the *other* factors
    at its position (x and the src elements there): out / factor when no
    factor is 0; otherwise the factors of each position are laid out as a
    row of a (positions, largest group) matrix padded with ones, and the
    products of the others come from exclusive cumulative products along
    the rows, exact at zeros and differentiable again.
    """

    def __init__(self, full):
        self.full = full

    def forward(self, x, src):
        return _by_position(x, src, self.full, 1, "prod")

    def to_save(self, inputs, outputs):
        return inputs[0], inputs[1], outputs[0]

    def backward(self, gy):
        x, src, out = self.saved_tensors
        if (x.data == 0).any() or (src.data == 0).any():
            others_x, others_src = _products_of_others(x, src, self.full)
        else:
            others_x, others_src = out / x, getitem(out, self.full) / src
        return gy * others_x, getitem(gy, self.full) * others_src


def _position_table(shape, full, xp):
    """Where the members of a scatter reduction sit: members are x's
    elements (flat) then src's; member m belongs to position group[m] with
    rank[m] among that position's members; table[p] lists position p's
    members, padded with the index one past the last member."""
    positions = 1
    for side in shape:
        positions *= side
    group = xp.concatenate([xp.arange(positions),
                            xp.ravel_multi_index(full, shape).reshape(-1)])
    order = xp.argsort(group, kind="stable")
    counts = xp.bincount(group, minlength=positions)
    starts = xp.cumsum(counts) - counts
    rank = xp.empty_like(order)
    rank[order] = xp.arange(order.size) - starts[group[order]]
    table = xp.full((positions, int(counts.max())), order.size)
    table[group, rank] = xp.arange(order.size)
    return table, group, rank


def _by_position(x, src, full, pad, reduce):
    """x combined with the src elements scattered to each position: the
    members of each position in a row (padded with `pad`), reduced along
    the row with prod / max / min."""
    xp = get_array_module(x)
    table = _position_table(x.shape, full, xp)[0]
    members = xp.concatenate([x.reshape(-1), src.reshape(-1),
                              xp.asarray([pad], dtype=x.dtype)])
    rows = members[table]
    combined = {"prod": rows.prod, "max": rows.max, "min": rows.min}[reduce](axis=1)
    return combined.reshape(x.shape).astype(x.dtype)


def _products_of_others(x, src, full):
    """For every factor of a scatter product (each element of x, each of
    src), the product of the other factors at its position."""
    from .scan import _exclusive_products
    from .shape import cat
    xp = get_array_module(x.data)
    positions = x.data.size
    table, group, rank = _position_table(x.shape, full, xp)
    factors = cat([x.reshape(-1), src.reshape(-1),
                   ones(1, dtype=x.dtype, device=x.device)])
    others = _exclusive_products(factors[Tensor(table)], 1)[Tensor(group), Tensor(rank)]
    return (others[:positions].reshape(x.shape),
            others[positions:].reshape(src.shape))


class ScatterExtreme(Function):
    """out = max (min) of x and the src elements scattered to each position.

    As in PyTorch, the gradient is shared equally among the elements that
    equal the result at a position (x counts if it takes part): gy / count
    to each of them, 0 to the others. The shares are constants, so the
    second derivative is 0.
    """

    def __init__(self, full, largest, include_self):
        self.full, self.largest, self.include_self = full, largest, include_self

    def forward(self, x, src):
        xp = get_array_module(x)
        takes_part = xp.ones(x.shape, dtype=bool)
        if not self.include_self:
            takes_part[self.full] = False
        neutral = _lowest(x.dtype, xp) if self.largest else _highest(x.dtype, xp)
        result = _by_position(xp.where(takes_part, x, neutral), src, self.full,
                              neutral, "max" if self.largest else "min")
        self.x_wins = (x == result) & takes_part
        self.src_wins = src == result[self.full]
        count = self.x_wins.astype(x.dtype)
        kernels.get("scatter_add", xp)(count, self.full, self.src_wins.astype(x.dtype))
        self.count = count
        return result

    def backward(self, gy):
        share = gy / Tensor(self.count)
        gx = share * Tensor(self.x_wins.astype(self.count.dtype))
        gsrc = getitem(share, self.full) * Tensor(self.src_wins.astype(self.count.dtype))
        return gx, gsrc


def _lowest(dtype, xp):
    return -xp.inf if dtype.kind == "f" else xp.iinfo(dtype).min


def _highest(dtype, xp):
    return xp.inf if dtype.kind == "f" else xp.iinfo(dtype).max


def scatter_reduce(x, dim, index, src, reduce, include_self=True):
    """Combine the src elements scattered to each position with `reduce`
    ('sum', 'prod', 'mean', 'amax', 'amin'); include_self=False leaves x's
    own value out wherever something is scattered."""
    reductions = ("sum", "prod", "mean", "amax", "amin")
    if reduce not in reductions:
        raise ValueError(f"scatter_reduce: reduce must be one of {reductions}, got "
                         f"{reduce!r}")
    dim, index, full = _prepare(x, dim, index, src, "scatter_reduce")
    src = _src_part(src, index).to(dtype=x.dtype)
    xp = get_array_module(x.data)
    hit = xp.zeros(x.shape, dtype=bool)
    hit[full] = True
    if reduce in ("amax", "amin"):
        return ScatterExtreme(full, reduce == "amax", include_self)(x, src)
    base = x
    if not include_self:  # x's value is replaced by the neutral element
        base = index_put(x, Tensor(hit), 0 if reduce != "prod" else 1)
    if reduce in ("sum", "mean"):
        total = base + IndexAdd(full, x.shape)(src)
        if reduce == "sum":
            return total
        count = xp.zeros(x.shape, dtype="int64")
        kernels.get("scatter_add", xp)(count, full, xp.ones(index.shape, dtype="int64"))
        count = count + (1 if include_self else 0)
        count = xp.maximum(count, 1)
        if x.dtype.kind in "iu":
            return Tensor(total.data // count.astype(x.dtype))
        return total / Tensor(count.astype(x.dtype))
    return ScatterProd(full)(base, src)


def _dim_index(x, dim, index, op):
    xp = get_array_module(x.data)
    index = xp.asarray(index.data if isinstance(index, Tensor) else index)
    if index.ndim > 1 or index.dtype.kind not in "iu":
        raise ValueError(f"{op}: index must be a 0-d or 1-d integer tensor, got shape "
                         f"{index.shape} and dtype {index.dtype}")
    dim = normalize_dims(dim, x.ndim, op)[0] if x.ndim else 0
    return dim, (slice(None),) * dim + (index.reshape(-1),)


def index_select(x, dim, index):
    """The slices x[..., index[k], ...] along dim, in index's order."""
    dim, where_ = _dim_index(x, dim, index, "index_select")
    if x.ndim == 0:
        return x.reshape(1)[where_[-1]].reshape(())
    return getitem(x, where_)


def index_add(x, dim, index, source, alpha=1):
    """x with source's slices added at positions index along dim."""
    dim, where_ = _dim_index(x, dim, index, "index_add")
    if alpha != 1:
        source = source * alpha
    return x + IndexAdd(where_, x.shape)(source)


def index_copy(x, dim, index, source):
    dim, where_ = _dim_index(x, dim, index, "index_copy")
    return IndexPut([where_])(x, source)


def index_fill(x, dim, index, value):
    dim, where_ = _dim_index(x, dim, index, "index_fill")
    return IndexPut([where_])(x, as_tensor(value, like=x).to(dtype=x.dtype))


def take(x, index):
    """x flattened, at `index` (any shape)."""
    return getitem(x.reshape(-1), index)


__all__ = ["gather", "index_add", "index_copy", "index_fill", "index_select",
           "scatter", "scatter_add", "scatter_reduce", "take"]
