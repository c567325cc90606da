"""Arithmetic with broadcasting: add, sub, mul, div, neg, pow.

Broadcasting copies an input along new or size-1 axes, so its gradient is
the output gradient summed back over those axes (``sum_to_shape``). That is
done here, in one place, for every binary op.
"""
import numbers

import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor, as_tensor, float32
from .elementwise_chunks import run_elementwise, worth_splitting


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


def require_kind(op, x, kinds, expected):
    """Refuse a tensor whose dtype kind is not in `kinds` ("b" bool, "i"
    and "u" integers, "f" floats), as PyTorch refuses it: a
    NotImplementedError (a RuntimeError) naming the op and the dtype."""
    if x.dtype.kind not in kinds:
        raise NotImplementedError(f"{op}: not implemented for {x.dtype} "
                                  f"tensors (expected {expected}, as PyTorch)")


def floating(x):
    """x as a floating tensor: integer and bool tensors become float32
    (PyTorch's default dtype), as ``sin`` of an int64 tensor does in
    PyTorch. Floating tensors pass through."""
    return x if x.dtype.kind in "fc" else x.to(dtype=float32)


def promote_floating(x, y):
    """x and y promoted (``promote``), then made floating (``floating``):
    the operands of a binary function that only floats have (atan2)."""
    x, y = promote(x, y)
    return floating(x), floating(y)


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
    """z = x + y.  dz/dx = 1, dz/dy = 1 (summed back to each shape).

    Two large float arrays of one shape and dtype (a residual connection)
    are added in chunks on minidl's threads, straight into the result
    (:mod:`minidl.ops.elementwise_chunks`).
    """

    def forward(self, x, y):
        self.shapes = x.shape, y.shape
        if (x.shape != y.shape or x.dtype != y.dtype or x.dtype.kind != "f"
                or not worth_splitting(x, y)):
            return x + y
        xp = get_array_module(x)

        def add_into(out, x_part, y_part):
            xp.add(x_part, y_part, out=out)

        return run_elementwise(add_into, xp.empty_like(x), x, y)

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

    At the points where these formulas give 0 * inf, the gradients follow
    PyTorch: dz/dx = 0 where y = 0 (x ** 0 is 1 for every x, 0 ** 0
    included), and dz/dy = 0 where x = 0 and y >= 0 (z is 0 or 1 there).
    For x = 0 and y < 0, dz/dy = z log(0) = -inf; for x < 0, where x ** y
    is defined only for integer y, dz/dy is NaN.

    Integer tensors to negative integer tensor powers give what PyTorch
    gives: 1 ** y = 1, (-1) ** y = +-1, and 0 for every other base.
    """

    def to_save(self, inputs, outputs):
        return inputs + outputs

    def forward(self, x, y):
        xp = get_array_module(x)
        if x.dtype.kind == "b" and y.dtype.kind == "b":
            return x | ~y  # True ** False is True; False ** True is False
        if x.dtype.kind in "iub" and y.dtype.kind in "iub" and (y < 0).any():
            return _integer_power(x, y, xp)
        return x ** y

    def backward(self, gz):
        from .elementwise import log, where
        x, y, z = self.saved_tensors
        gx = gy = None
        if self.needs_input_grad[0]:
            y_is_zero = y.data == 0
            # y - 1 replaced by 1 where y = 0, so that no 0 * inf enters
            # the graph; those elements get the gradient 0.
            exponent = where(y_is_zero, 1.0, y - 1)
            gx = where(y_is_zero, 0.0, gz * y * x ** exponent)
            gx = sum_to_shape(gx, x.shape)
        if self.needs_input_grad[1]:
            log_x = log(where(x.data > 0, x, 1.0))  # no NaN in the graph
            slope = where(x.data < 0, np.nan,
                          where(x.data == 0, -np.inf, z * log_x))
            zero_slope = (x.data == 0) & (y.data >= 0)
            gy = sum_to_shape(where(zero_slope, 0.0, gz * slope), y.shape)
        return gx, gy


def _integer_power(x, y, xp):
    """x ** y for integer arrays where some y < 0, as PyTorch computes it."""
    result = x ** xp.abs(y)
    odd = y % 2 == 1
    negative_power = xp.where(x == 1, 1, xp.where(x == -1, xp.where(odd, -1, 1), 0))
    return xp.where(y < 0, negative_power, result).astype(result.dtype)


def add(x, y, alpha=1):
    """x + alpha * y."""
    if alpha != 1:
        y = y * alpha
    return Add()(*promote(x, y))


def sub(x, y, alpha=1):
    """x - alpha * y."""
    if alpha != 1:
        y = y * alpha
    return Sub()(*promote(x, y))


def mul(x, y):
    return Mul()(*promote(x, y))


def div(x, y, rounding_mode=None):
    """x / y. As in PyTorch, integers divide to float32, and
    rounding_mode 'trunc' or 'floor' rounds the quotient (keeping integer
    dtypes; the gradient is then 0, see ``rounding.DivRounded``)."""
    if rounding_mode is not None:
        from .rounding import div_rounded
        return div_rounded(x, y, rounding_mode)
    return Div()(*promote(x, y, true_division=True))


true_divide = divide = div  # PyTorch's aliases


def addcmul(input, tensor1, tensor2, value=1):
    """input + value * tensor1 * tensor2 (made of Mul and Add)."""
    return add(input, mul(tensor1, tensor2), alpha=value)


def addcdiv(input, tensor1, tensor2, value=1):
    """input + value * tensor1 / tensor2 (made of Div and Add)."""
    return add(input, div(tensor1, tensor2), alpha=value)


def positive(input):
    """input itself (``+x``), as PyTorch."""
    return input


def neg(x):
    return Neg()(x)


def pow(x, exponent):
    """x ** exponent, broadcast (see :class:`Pow` for the gradients).

    As in PyTorch, an integer tensor to a negative Python integer power
    raises (the result would not be an integer).
    """
    base = x if isinstance(x, Tensor) else None
    if base is not None and base.dtype.kind in "iub" and \
            isinstance(exponent, numbers.Integral) and exponent < 0:
        raise RuntimeError("Integers to negative integer powers are not "
                           f"allowed. (pow: a {base.dtype} tensor to the "
                           f"power {exponent}; convert it with .float() first)")
    if base is not None and base.dtype.kind == "b" and \
            isinstance(exponent, Tensor) and exponent.dtype.kind == "b":
        require_kind("pow", exponent, "iufc", "a number exponent for a bool base")
    return Pow()(*promote(x, exponent))
