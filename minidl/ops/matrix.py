"""Matrix-shaped ops: tril/triu, diag/diagonal/diag_embed, trace, and the
products mm, bmm, mv, dot, outer, addmm, baddbmm, addmv, cross, kron,
tensordot.

All are compositions: masks through ``where``, diagonals through integer
indexing (GetItem / IndexPut), products through ``matmul`` or broadcast
multiplication. Their gradients come from those ops.
"""
import numbers

import numpy as np

from ..backend import get_array_module
from ..tensor import zeros
from .linalg import matmul
from .reduction import normalize_dims


def _triangle_mask(x, diagonal, lower):
    xp = get_array_module(x.data)
    rows, cols = x.shape[-2:]
    i = xp.arange(rows)[:, None]
    j = xp.arange(cols)[None, :]
    return (j - i <= diagonal) if lower else (j - i >= diagonal)


def _check_matrix(x, op):
    if x.ndim < 2:
        raise ValueError(f"{op}: expected a tensor of at least 2 dims, got shape {x.shape}")


def tril(x, diagonal=0):
    """x with the elements above the `diagonal`-th diagonal set to 0."""
    from .elementwise import where
    _check_matrix(x, "tril")
    return where(_triangle_mask(x, diagonal, True), x, 0)


def triu(x, diagonal=0):
    """x with the elements below the `diagonal`-th diagonal set to 0."""
    from .elementwise import where
    _check_matrix(x, "triu")
    return where(_triangle_mask(x, diagonal, False), x, 0)


def _diagonal_positions(rows, cols, offset, xp):
    if offset >= 0:
        length = max(min(rows, cols - offset), 0)
        start_row, start_col = 0, offset
    else:
        length = max(min(rows + offset, cols), 0)
        start_row, start_col = -offset, 0
    steps = xp.arange(length)
    return steps + start_row, steps + start_col


def diagonal(x, offset=0, dim1=0, dim2=1):
    """The elements x[..., i, i + offset] of the dims dim1 and dim2, as a new
    last dim (the other dims keep their order)."""
    from .rearrange import movedim
    _check_matrix(x, "diagonal")
    dim1 = normalize_dims(dim1, x.ndim, "diagonal")[0]
    dim2 = normalize_dims(dim2, x.ndim, "diagonal")[0]
    if dim1 == dim2:
        raise ValueError(f"diagonal: dim1 and dim2 must differ, both are {dim1}")
    moved = movedim(x, (dim1, dim2), (-2, -1))
    rows, cols = moved.shape[-2:]
    r, c = _diagonal_positions(rows, cols, offset, get_array_module(x.data))
    return moved[(Ellipsis, r, c)]


def diag_embed(x, offset=0, dim1=-2, dim2=-1):
    """A tensor whose (dim1, dim2) planes have x's last dim on their
    `offset`-th diagonal, zeros elsewhere."""
    from .indexing import index_put
    from .rearrange import movedim
    if x.ndim == 0:
        raise ValueError("diag_embed: expected a tensor of at least 1 dim")
    n = x.shape[-1]
    side = n + abs(offset)
    base = zeros(x.shape[:-1] + (side, side), dtype=x.dtype, device=x.device)
    r, c = _diagonal_positions(side, side, offset, get_array_module(x.data))
    result = index_put(base, (Ellipsis, r, c), x)
    ndim = x.ndim + 1
    dim1 = normalize_dims(dim1, ndim, "diag_embed")[0]
    dim2 = normalize_dims(dim2, ndim, "diag_embed")[0]
    if dim1 == dim2:
        raise ValueError(f"diag_embed: dim1 and dim2 must differ, both are {dim1}")
    return movedim(result, (-2, -1), (dim1, dim2))


def diag(x, diagonal=0):
    """1-d x: the square matrix with x on its `diagonal`-th diagonal;
    2-d x: that diagonal as a 1-d tensor."""
    if x.ndim == 1:
        return diag_embed(x, diagonal)
    if x.ndim == 2:
        return globals()["diagonal"](x, diagonal)
    raise ValueError(f"diag: expected a 1-d or 2-d tensor, got shape {x.shape}")


def diagflat(x, offset=0):
    return diag_embed(x.reshape(-1), offset)


def trace(x):
    if x.ndim != 2:
        raise ValueError(f"trace: expected a 2-d tensor, got shape {x.shape}")
    return diagonal(x).sum()


def _check_dims(x, ndim, op, name="input"):
    if x.ndim != ndim:
        raise ValueError(f"{op}: expected {name} to be {ndim}-d, got shape {x.shape}")


def mm(x, y):
    _check_dims(x, 2, "mm", "self")
    _check_dims(y, 2, "mm", "mat2")
    return matmul(x, y)


def bmm(x, y):
    _check_dims(x, 3, "bmm", "self")
    _check_dims(y, 3, "bmm", "mat2")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"bmm: batch sizes differ: shapes {x.shape} and {y.shape}")
    return matmul(x, y)


def mv(x, v):
    _check_dims(x, 2, "mv", "self")
    _check_dims(v, 1, "mv", "vec")
    return matmul(x, v)


def dot(x, y):
    _check_dims(x, 1, "dot", "self")
    _check_dims(y, 1, "dot", "tensor")
    if x.shape != y.shape:
        raise ValueError(f"dot: shapes {x.shape} and {y.shape} differ")
    return matmul(x, y)


vdot = dot


def inner(x, y):
    if x.ndim == 0 or y.ndim == 0:
        return x * y
    return tensordot(x, y, ([-1], [-1]))


def outer(x, y):
    """result[i, j] = x[i] * y[j]."""
    _check_dims(x, 1, "outer", "self")
    _check_dims(y, 1, "outer", "vec2")
    return x.reshape(-1, 1) * y.reshape(1, -1)


ger = outer


def _scaled_sum(input, product, beta, alpha):
    """beta * input + alpha * product; with beta = 0 input is ignored (its
    NaNs do not spread), as in PyTorch."""
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        shape = np.broadcast_shapes(input.shape, product.shape)
        return product.expand(shape)
    return (input if beta == 1 else input * beta) + product


def addmm(input, mat1, mat2, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2)."""
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


def baddbmm(input, batch1, batch2, beta=1, alpha=1):
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


def addbmm(input, batch1, batch2, beta=1, alpha=1):
    return _scaled_sum(input, bmm(batch1, batch2).sum(0), beta, alpha)


def addmv(input, mat, vec, beta=1, alpha=1):
    return _scaled_sum(input, mv(mat, vec), beta, alpha)


def addr(input, vec1, vec2, beta=1, alpha=1):
    return _scaled_sum(input, outer(vec1, vec2), beta, alpha)


def cross(x, y, dim=None):
    """The cross product of 3-vectors along dim (default: the first dim of
    size 3, as torch.cross)."""
    from .rearrange import broadcast_tensors
    from .shape import stack
    x, y = broadcast_tensors(x, y)
    if dim is None:
        sizes = [d for d, s in enumerate(x.shape) if s == 3]
        if not sizes:
            raise ValueError(f"cross: no dim of size 3 in shape {x.shape}")
        dim = sizes[0]
    dim = normalize_dims(dim, x.ndim, "cross")[0]
    if x.shape[dim] != 3:
        raise ValueError(f"cross: dim {dim} of shape {x.shape} must have size 3")
    head = (slice(None),) * dim
    a = [x[head + (i,)] for i in range(3)]
    b = [y[head + (i,)] for i in range(3)]
    parts = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
             a[0] * b[1] - a[1] * b[0]]
    return stack(parts, dim)


def kron(x, y):
    """The Kronecker product: result[i*ny + j] = x[i] * y[j] in every dim."""
    ndim = max(x.ndim, y.ndim)
    xs = (1,) * (ndim - x.ndim) + x.shape
    ys = (1,) * (ndim - y.ndim) + y.shape
    x_view, y_view, final = [], [], []
    for a, b in zip(xs, ys):
        x_view += [a, 1]
        y_view += [1, b]
        final.append(a * b)
    return (x.reshape(tuple(x_view)) * y.reshape(tuple(y_view))).reshape(tuple(final))


def tensordot(x, y, dims=2):
    """Sum over the last `dims` dims of x and the first of y, or over the
    listed pairs: a permute, a reshape to matrices, and one matmul."""
    if isinstance(dims, numbers.Integral):
        dims_x = list(range(x.ndim - dims, x.ndim))
        dims_y = list(range(dims))
    else:
        dims_x, dims_y = dims
        if isinstance(dims_x, numbers.Integral):
            dims_x, dims_y = [dims_x], [dims_y]
        dims_x = [normalize_dims(d, x.ndim, "tensordot")[0] for d in dims_x]
        dims_y = [normalize_dims(d, y.ndim, "tensordot")[0] for d in dims_y]
    if len(dims_x) != len(dims_y) or any(x.shape[a] != y.shape[b]
                                         for a, b in zip(dims_x, dims_y)):
        raise ValueError(f"tensordot: dims {dims_x} of shape {x.shape} and {dims_y} "
                         f"of shape {y.shape} do not match")
    free_x = [d for d in range(x.ndim) if d not in dims_x]
    free_y = [d for d in range(y.ndim) if d not in dims_y]
    k = 1
    for d in dims_x:
        k *= x.shape[d]
    a = x.permute(*(free_x + dims_x)).reshape(-1, k)
    b = y.permute(*(dims_y + free_y)).reshape(k, -1)
    shape = tuple(x.shape[d] for d in free_x) + tuple(y.shape[d] for d in free_y)
    return matmul(a, b).reshape(shape)
