"""Vector norms: norm, vector_norm (and minidl.linalg's matrix norms).

||x||_p = (sum |x|^p)^(1/p) over dims; p = inf is max |x|, p = -inf min |x|,
p = 0 counts the nonzero elements. At x = 0 a p-norm has no derivative;
PyTorch's convention, kept here, is a zero gradient there.
"""
import math

from ..autograd.function import Function
from ..backend import get_array_module
from .reduction import _kept_shape, normalize_dims


class VectorNorm(Function):
    """y = (sum over dims of |x|^p)^(1/p), for finite p != 0.

    dx = gy * x * |x|^(p-2) / y^(p-1)  (p = 2: gy * x / y; p = 1:
    gy * sign(x)), and 0 where y = 0 or (for p < 2) where x = 0.
    """

    def __init__(self, p, dims, keepdim):
        self.p, self.dims, self.keepdim = p, dims, keepdim

    def to_save(self, inputs, outputs):
        return inputs[0], outputs[0]

    def forward(self, x):
        xp = get_array_module(x)
        magnitude = xp.abs(x)
        if self.p == 1:
            return magnitude.sum(axis=self.dims, keepdims=self.keepdim)
        if self.p == 2:
            return xp.sqrt((magnitude * magnitude).sum(axis=self.dims,
                                                        keepdims=self.keepdim))
        total = (magnitude ** self.p).sum(axis=self.dims, keepdims=self.keepdim)
        return total ** (1.0 / self.p)

    def backward(self, gy):
        from .elementwise import abs, sign, where
        x, y = self.saved_tensors
        if not self.keepdim:
            shape = _kept_shape(x.shape, self.dims)
            gy, y = gy.reshape(shape), y.reshape(shape)
        if self.p == 1:
            return gy * sign(x)
        zero = y.data == 0
        safe_y = where(zero, 1.0, y)
        if self.p == 2:
            return where(zero, 0.0, gy * x / safe_y)
        magnitude = abs(x)
        safe_magnitude = where(magnitude.data == 0, 1.0, magnitude)
        scale = where(magnitude.data == 0, 0.0, safe_magnitude ** (self.p - 2))
        return where(zero, 0.0, gy * x * scale / safe_y ** (self.p - 1))


def vector_norm(x, ord=2, dim=None, keepdim=False, dtype=None):
    """The p-norm of x over dim (all dims when None), as torch.linalg.vector_norm."""
    from .elementwise import abs
    from .reduction import amax, amin, sum
    if x.dtype.kind not in "fc":
        raise TypeError(f"vector_norm: expected a floating-point tensor, got {x.dtype}")
    if dtype is not None:
        x = x.to(dtype=dtype)
    if isinstance(dim, int):
        dim = (dim,)
    dims = normalize_dims(dim, x.ndim, "vector_norm")
    p = float(ord)
    if x.ndim == 0:
        x, dims, zero_d = x.reshape(1), (0,), True
    else:
        zero_d = False
    if p == math.inf:
        result = amax(abs(x), dims, keepdim)
    elif p == -math.inf:
        result = amin(abs(x), dims, keepdim)
    elif p == 0:
        result = sum((x != 0).to(dtype=x.dtype), dims, keepdim)
    else:
        result = VectorNorm(p, dims, keepdim)(x)
    return result.reshape(()) if zero_d and not keepdim else result


def norm(x, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm: the 2-norm ('fro') or p-norm of x over dim (all dims by
    default), as a vector norm of the selected elements."""
    if p == "nuc":
        raise ValueError("norm: the nuclear norm ('nuc') is not supported")
    if p == "fro" or p is None:
        p = 2
    return vector_norm(x, p, dim, keepdim, dtype)


def matrix_norm(x, ord="fro", dim=(-2, -1), keepdim=False):
    """Matrix norms over two dims: 'fro', 1 / -1 (max / min column sum of
    |x|), inf / -inf (max / min row sum)."""
    from .elementwise import abs
    from .reduction import amax, amin, sum
    if x.ndim < 2:
        raise ValueError(f"matrix_norm: expected at least 2 dims, got shape {x.shape}")
    rows, cols = normalize_dims(dim[0], x.ndim, "matrix_norm")[0], \
        normalize_dims(dim[1], x.ndim, "matrix_norm")[0]
    if ord == "fro":
        return vector_norm(x, 2, (rows, cols), keepdim)
    if ord in (1, -1, math.inf, -math.inf):
        summed, other = (rows, cols) if ord in (1, -1) else (cols, rows)
        sums = sum(abs(x), summed, keepdim=True)
        pick = amax if ord > 0 else amin
        result = pick(sums, other, keepdim=True)
        if not keepdim:
            result = result.squeeze((rows, cols))
        return result
    raise ValueError(f"matrix_norm: ord {ord!r} is not supported (use 'fro', 1, "
                     f"-1, inf or -inf)")


def linalg_norm(x, ord=None, dim=None, keepdim=False, dtype=None):
    """torch.linalg.norm: a vector norm for 1-d x or one dim, a matrix norm
    for 2-d x or two dims; ord=None is the 2-norm / Frobenius norm."""
    if dtype is not None:
        x = x.to(dtype=dtype)
    if isinstance(dim, int):
        dim = (dim,)
    if ord is None:
        return vector_norm(x, 2, dim, keepdim)
    if dim is None:
        if x.ndim == 1:
            return vector_norm(x, ord, None, keepdim)
        if x.ndim == 2:
            return matrix_norm(x, ord, (0, 1), keepdim)
        raise ValueError(f"linalg.norm: ord {ord!r} needs dim for a tensor of "
                         f"shape {x.shape}")
    if len(dim) == 1:
        return vector_norm(x, ord, dim, keepdim)
    return matrix_norm(x, ord, tuple(dim), keepdim)
