"""Element-wise functions of one tensor, and where/maximum/minimum/clamp."""
from .. import backend
from ..autograd.function import Function
from ..backend import get_array_module, move_array
from ..tensor import Tensor, tensor
from .arithmetic import promote, sum_to_shape


class Exp(Function):
    """y = exp(x).  dy/dx = y."""

    def to_save(self, inputs, outputs):
        return outputs

    def forward(self, x):
        return get_array_module(x).exp(x)

    def backward(self, gy):
        y, = self.saved_tensors
        return gy * y


class Log(Function):
    """y = log(x).  dy/dx = 1 / x."""

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x):
        return get_array_module(x).log(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy / x


class Sqrt(Function):
    """y = sqrt(x).  dy/dx = 1 / (2 y)."""

    def to_save(self, inputs, outputs):
        return outputs

    def forward(self, x):
        return get_array_module(x).sqrt(x)

    def backward(self, gy):
        y, = self.saved_tensors
        return gy / (2 * y)


class Abs(Function):
    """y = |x|.  dy/dx = sign(x) (0 at 0, as PyTorch)."""

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x):
        return get_array_module(x).abs(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * sign(x)


class Tanh(Function):
    """y = tanh(x).  dy/dx = 1 - y^2."""

    def to_save(self, inputs, outputs):
        return outputs

    def forward(self, x):
        return get_array_module(x).tanh(x)

    def backward(self, gy):
        y, = self.saved_tensors
        return gy * (1 - y * y)


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x)).  dy/dx = y (1 - y).

    Computed as (1 + tanh(x/2)) / 2, which never overflows.
    """

    def to_save(self, inputs, outputs):
        return outputs

    def forward(self, x):
        xp = get_array_module(x)
        return (xp.tanh(x * 0.5) + 1) * 0.5

    def backward(self, gy):
        y, = self.saved_tensors
        return gy * y * (1 - y)


class ReLU(Function):
    """y = max(x, 0), any shape.

    dy/dx = 1 where y > 0, else 0 (0 at x = 0, as PyTorch), so
    dx = gy * (y > 0). The mask is read from the output, which the next
    layer keeps anyway, so relu costs no extra memory for backward.
    (``np.maximum`` is several times faster than ``np.where`` here.)
    """

    def to_save(self, inputs, outputs):
        return outputs

    def forward(self, x):
        return get_array_module(x).maximum(x, x.dtype.type(0))

    def backward(self, gy):
        y, = self.saved_tensors
        return MaskGradient(y.data > 0)(gy)


class MaskGradient(Function):
    """z = g * mask, for a constant boolean `mask` (ReLU's backward).

    dz/dg = mask, so this op's own gradient is the same masking. NumPy
    multiplies float32 by bool straight to float32, in one pass.
    """

    def __init__(self, mask):
        self.mask = mask

    def forward(self, g):
        return g * self.mask

    def backward(self, gz):
        return MaskGradient(self.mask)(gz)


class Where(Function):
    """z = where(condition, x, y).  dz/dx = condition, dz/dy = not condition.

    `condition` is a boolean array (no gradient), broadcast with x and y.
    """

    def __init__(self, condition):
        self.condition = condition

    def forward(self, x, y):
        self.shapes = x.shape, y.shape
        return get_array_module(x).where(self.condition, x, y)

    def backward(self, gz):
        zero = gz * 0
        gx = gy = None
        if self.needs_input_grad[0]:
            gx = sum_to_shape(where(self.condition, gz, zero), self.shapes[0])
        if self.needs_input_grad[1]:
            gy = sum_to_shape(where(self.condition, zero, gz), self.shapes[1])
        return gx, gy


class AsType(Function):
    """y = x converted to another dtype.  dx = gy converted back."""

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        self.input_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return astype(gy, self.input_dtype)


class ToDevice(Function):
    """y = x copied to another device.  dx = gy copied back."""

    def __init__(self, device):
        self.device = device

    def forward(self, x):
        from ..backend import device_of
        self.input_device = device_of(x)
        return move_array(x, self.device)

    def backward(self, gy):
        return to_device(gy, self.input_device)


class Clone(Function):
    """y = a copy of x.  dx = gy."""

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


def exp(x):
    return Exp()(x)


def log(x):
    return Log()(x)


def sqrt(x):
    return Sqrt()(x)


def abs(x):  # noqa: A001 (PyTorch's name)
    return Abs()(x)


def tanh(x):
    return Tanh()(x)


def sigmoid(x):
    return Sigmoid()(x)


def relu(x):
    """max(x, 0); the gradient is 1 where x > 0, else 0 (0 at x = 0, as
    PyTorch)."""
    return ReLU()(x)


def sign(x):
    """-1, 0 or 1 (no gradient)."""
    return Tensor(get_array_module(_data(x)).sign(_data(x)))


def where(condition, x, y):
    """Elements of x where `condition` is true, else of y.

    Python numbers take the dtype of the tensor operand (float32 when both
    are numbers).
    """
    if isinstance(condition, Tensor):
        condition = condition.data
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        x = tensor(x, device=backend.device_of(condition))
    return Where(condition)(*promote(x, y))


def maximum(x, y):
    """Element-wise max; the gradient goes to the larger input (half each at ties)."""
    return _max_or_min(x, y, take_larger=True)


def minimum(x, y):
    """Element-wise min; the gradient goes to the smaller input (half each at ties)."""
    return _max_or_min(x, y, take_larger=False)


def _max_or_min(x, y, take_larger):
    x, y = promote(x, y)
    pick_x = x.data > y.data if take_larger else x.data < y.data
    tie = x.data == y.data
    # Ties share the gradient equally between x and y, as PyTorch does.
    return where(pick_x, x, where(tie, (x + y) * 0.5, y))


def clamp(x, min=None, max=None):
    """x limited to [min, max]: minimum(maximum(x, min), max), so every
    element is max when min > max.

    The gradient follows PyTorch. With number bounds it is 1 strictly
    inside (min, max) and 0 elsewhere, the bounds included. Tensor bounds
    act as maximum and minimum: the gradient goes to whichever value is
    chosen, half each at ties.
    """
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    result = x
    if min is not None:
        result = maximum(result, min) if isinstance(min, Tensor) \
            else where(_data(result) > min, result, min)
    if max is not None:
        result = minimum(result, max) if isinstance(max, Tensor) \
            else where(_data(result) < max, result, max)
    return result


def astype(x, dtype):
    return AsType(dtype)(x)


def to_device(x, device):
    return ToDevice(device)(x)


def clone(x):
    return Clone()(x)


def _data(x):
    return x.data if hasattr(x, "grad_fn") else x
