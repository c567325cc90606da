"""Arithmetic with broadcasting: add, sub, mul, div, neg, pow.

Broadcasting copies an input along new or size-1 axes, so its gradient is
the output gradient summed back over those axes (``sum_to_shape``). That is
done here, in one place, for every binary op.
"""
import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor, as_tensor, float32


def promote(x, y, true_division=False):
    """x and y as Tensors of one dtype, by PyTorch's rule.

    Python numbers take the tensor's dtype (``x * 2.0`` stays float32). An
    integer or bool tensor meeting a floating one is converted to that
    floating dtype (NumPy would widen int64 + float32 to float64). Two
    integer tensors divide (``true_division``) as float32, as in PyTorch.
    """
    like = x if isinstance(x, Tensor) else y
    x, y = as_tensor(x, like=like), as_tensor(y, like=like)
    x_float, y_float = x.dtype.kind in "fc", y.dtype.kind in "fc"
    if x_float and not y_float:
        y = y.to(dtype=x.dtype)
    elif y_float and not x_float:
        x = x.to(dtype=y.dtype)
    elif not x_float and not y_float and true_division:
        x, y = x.to(dtype=float32), y.to(dtype=float32)
    return x, y


def sum_to_shape(grad, shape):
    """Sum `grad` (a Tensor) over the axes that broadcasting added to `shape`.

    (2, 3, 4) summed to (3, 1) sums axis 0 (added) and axis 2 (was size 1).
    """
    if grad.shape == tuple(shape):
        return grad
    from .reduction import sum as sum_
    added = grad.ndim - len(shape)
    axes = list(range(added))
    axes += [added + i for i, size in enumerate(shape)
             if size == 1 and grad.shape[added + i] != 1]
    result = sum_(grad, dim=tuple(axes), keepdim=True)
    return result.reshape(shape) if added else result


class Add(Function):
    """z = x + y.  dz/dx = 1, dz/dy = 1 (summed back to each shape)."""

    def forward(self, x, y):
        self.shapes = x.shape, y.shape
        return x + y

    def backward(self, gz):
        return (sum_to_shape(gz, self.shapes[0]) if self.needs_input_grad[0] else None,
                sum_to_shape(gz, self.shapes[1]) if self.needs_input_grad[1] else None)


class Sub(Function):
    """z = x - y.  dz/dx = 1, dz/dy = -1."""

    def forward(self, x, y):
        self.shapes = x.shape, y.shape
        return x - y

    def backward(self, gz):
        return (sum_to_shape(gz, self.shapes[0]) if self.needs_input_grad[0] else None,
                sum_to_shape(-gz, self.shapes[1]) if self.needs_input_grad[1] else None)


class Mul(Function):
    """z = x * y.  dz/dx = y, dz/dy = x."""

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x, y):
        return x * y

    def backward(self, gz):
        x, y = self.saved_tensors
        return (sum_to_shape(gz * y, x.shape) if self.needs_input_grad[0] else None,
                sum_to_shape(gz * x, y.shape) if self.needs_input_grad[1] else None)


class Div(Function):
    """z = x / y.  dz/dx = 1 / y, dz/dy = -x / y^2."""

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x, y):
        return x / y

    def backward(self, gz):
        x, y = self.saved_tensors
        gx = sum_to_shape(gz / y, x.shape) if self.needs_input_grad[0] else None
        gy = sum_to_shape(-gz * x / (y * y), y.shape) \
            if self.needs_input_grad[1] else None
        return gx, gy


class Neg(Function):
    """z = -x.  dz/dx = -1."""

    def forward(self, x):
        return -x

    def backward(self, gz):
        return -gz


class Pow(Function):
    """z = x ** y.  dz/dx = y x^(y-1), dz/dy = z log(x).

    log(x) exists only for x > 0. As in PyTorch, dz/dy is taken as 0 at
    x = 0 (z is 0 or 1 there for y >= 0) and is NaN for x < 0, where x ** y
    is defined only for integer y and is not differentiable in y.
    """

    def to_save(self, inputs, outputs):
        return inputs + outputs

    def forward(self, x, y):
        return x ** y

    def backward(self, gz):
        from .elementwise import log, where
        x, y, z = self.saved_tensors
        gx = gy = None
        if self.needs_input_grad[0]:
            gx = sum_to_shape(gz * y * x ** (y - 1), x.shape)
        if self.needs_input_grad[1]:
            positive = x.data > 0
            # log of 1 where x <= 0, so that no NaN enters the graph.
            log_x = log(where(positive, x, 1.0))
            gy = where(x.data < 0, np.nan, gz * z * log_x)
            gy = sum_to_shape(gy, y.shape)
        return gx, gy


def add(x, y):
    return Add()(*promote(x, y))


def sub(x, y):
    return Sub()(*promote(x, y))


def mul(x, y):
    return Mul()(*promote(x, y))


def div(x, y):
    return Div()(*promote(x, y, true_division=True))


def neg(x):
    return Neg()(x)


def pow(x, exponent):
    return Pow()(*promote(x, exponent))
