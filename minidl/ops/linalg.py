"""Matrix product with batching and broadcasting."""
import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from .arithmetic import sum_to_shape


class MatMul(Function):
    """z = x @ y, shapes (..., n, k) @ (..., k, m) -> (..., n, m).

    dz/dx = gz @ y^T and dz/dy = x^T @ gz, summed over broadcast batch dims.
    1-d operands are treated as a row (x) or a column (y), as NumPy does.
    """

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x, y):
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError("matmul: both operands need at least 1 dim, got "
                             "shapes {} and {}".format(x.shape, y.shape))
        k_x = x.shape[-1]
        k_y = y.shape[-2] if y.ndim > 1 else y.shape[0]
        if k_x != k_y:
            raise ValueError("matmul: shapes {} and {} do not fit ({} != {})"
                             .format(x.shape, y.shape, k_x, k_y))
        try:
            np.broadcast_shapes(x.shape[:-2], y.shape[:-2])
        except ValueError:
            raise ValueError("matmul: the batch dims of shapes {} and {} do not "
                             "broadcast".format(x.shape, y.shape)) from None
        return get_array_module(x, y).matmul(x, y)

    def backward(self, gz):
        x, y = self.saved_tensors
        # Work with at least 2-d operands, then drop the added dims again.
        x2 = x.unsqueeze(0) if x.ndim == 1 else x
        y2 = y.unsqueeze(-1) if y.ndim == 1 else y
        # Put back the dims of size 1 that the output dropped: m (last) for
        # a 1-d y first, then n (second to last) for a 1-d x.
        gz2 = gz
        if y.ndim == 1:
            gz2 = gz2.unsqueeze(-1)
        if x.ndim == 1:
            gz2 = gz2.unsqueeze(-2)
        gx = gy = None
        if self.needs_input_grad[0]:
            gx = sum_to_shape(matmul(gz2, y2.transpose(-1, -2)), x2.shape)
            gx = gx.reshape(x.shape)
        if self.needs_input_grad[1]:
            gy = sum_to_shape(matmul(x2.transpose(-1, -2), gz2), y2.shape)
            gy = gy.reshape(y.shape)
        return gx, gy


def matmul(x, y):
    return MatMul()(x, y)
