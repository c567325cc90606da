"""Element-wise functions of one tensor, and where/maximum/minimum/clamp."""
from .. import backend
from ..autograd.function import Function
from ..backend import get_array_module, move_array
from ..tensor import Tensor, as_tensor, tensor
from .arithmetic import floating, promote, require_kind, sum_to_shape
from .elementwise_chunks import run_elementwise
from .selection import nonzero


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


def sigmoid_array(x):
    """1 / (1 + exp(-x)) of an array, to full relative precision and
    without overflow: with e = exp(-|x|) <= 1, it is 1 / (1 + e) for
    x >= 0 and e / (1 + e) for x < 0 (so sigmoid(-30) keeps its digits)."""
    xp = get_array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x)).  dy/dx = y (1 - y).

    Computed by ``sigmoid_array``, which never overflows.
    """

    def to_save(self, inputs, outputs):
        return outputs

    def forward(self, x):
        return sigmoid_array(x)

    def backward(self, gy):
        y, = self.saved_tensors
        return gy * y * (1 - y)


class ReLU(Function):
    """y = max(x, 0), any shape.

    dy/dx = 1 where y > 0, else 0 (0 at x = 0, as PyTorch), so
    dx = gy * (y > 0), computed by :class:`ReLUBackward`. The mask is read
    from the output, which the next layer keeps anyway, so relu costs no
    extra memory for backward. (``np.maximum`` is several times faster
    than ``np.where`` here.) Large arrays are split into chunks that run on
    minidl's threads (:mod:`minidl.ops.elementwise_chunks`).
    """

    def to_save(self, inputs, outputs):
        return outputs

    def forward(self, x):
        xp = get_array_module(x)
        zero = x.dtype.type(0)

        def relu_into(out, x_part):
            xp.maximum(x_part, zero, out=out)

        return run_elementwise(relu_into, xp.empty_like(x), x)

    def backward(self, gy):
        y, = self.saved_tensors
        # detach() keeps y's version counter: if y is overwritten in place
        # before a second backward, ReLUBackward's own backward refuses.
        return ReLUBackward()(gy, y.detach())


class ReLUBackward(Function):
    """z = g * (y > 0): ReLU's backward, from its output y (a constant).

    Shapes: g and y alike; z like g. One op that reads g and y and writes
    z, with no pass of its own to make the mask; split over minidl's
    threads, each chunk makes its own small mask. dz/dg is the same masking,
    so this op's own backward is itself; y gets no gradient (the mask is
    constant: its derivative is 0 wherever it is defined).
    """

    def to_save(self, inputs, outputs):
        return inputs[1:]  # y

    def forward(self, g, y):
        xp = get_array_module(g)
        zero = y.dtype.type(0)

        def mask_into(out, g_part, y_part):
            xp.multiply(g_part, y_part > zero, out=out)

        return run_elementwise(mask_into, xp.empty_like(g), g, y)

    def backward(self, gz):
        y, = self.saved_tensors
        return ReLUBackward()(gz, y), None


class MaskGradient(Function):
    """z = g * mask, for a constant boolean `mask` (the backward of clamp,
    hardtanh, ...).

    dz/dg = mask, so this op's own gradient is the same masking. NumPy
    multiplies float32 by bool straight to float32, in one pass; large
    arrays are split into chunks on minidl's threads.
    """

    def __init__(self, mask):
        self.mask = mask

    def forward(self, g):
        xp = get_array_module(g)

        def mask_into(out, g_part, mask_part):
            xp.multiply(g_part, mask_part, out=out)

        if self.mask.shape != g.shape or g.dtype.kind != "f":
            return g * self.mask
        return run_elementwise(mask_into, xp.empty_like(g), g, self.mask)

    def backward(self, gz):
        return MaskGradient(self.mask)(gz)


class Clamp(Function):
    """y = x limited to [low, high] (numbers; either may be None).

    dy/dx = 1 where low < x < high, 0 elsewhere (the bounds and NaN
    included, as PyTorch): dx = MaskGradient(mask)(g), a constant mask.
    """

    def __init__(self, low, high):
        self.low, self.high = low, high

    def forward(self, x):
        xp = get_array_module(x)
        result = x
        inside = xp.ones(x.shape, dtype=bool)
        if self.low is not None:
            result = xp.maximum(result, x.dtype.type(self.low))
            inside &= x > self.low
        if self.high is not None:
            result = xp.minimum(result, x.dtype.type(self.high))
            inside &= x < self.high
        self.inside = inside
        return result

    def backward(self, gy):
        return MaskGradient(self.inside)(gy)


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


class Sign(Function):
    """y = sign(x) in {-1, 0, 1}, and 0 for NaN (as PyTorch).
    dy/dx = 0 (as PyTorch, also at 0)."""

    def forward(self, x):
        xp = get_array_module(x)
        result = xp.sign(x)
        if x.dtype.kind == "f":
            result = xp.where(xp.isnan(result), 0, result).astype(x.dtype)
        return result

    def backward(self, gy):
        return gy * 0


class MaximumMinimum(Function):
    """z = maximum(x, y) (or minimum), broadcast; the dtype is kept.

    dx = unbroadcast(g * wx), dy = unbroadcast(g * wy), with constant
    weights as in PyTorch: for maximum wx = 1 where x > y, 0 where x < y,
    1/2 at ties (ties share the gradient half and half), and wy likewise.
    Where x or y is NaN (the result is NaN) both get weight 1, as PyTorch.
    The weights are constants, so the second derivative is 0.
    """

    def __init__(self, take_larger):
        self.take_larger = take_larger

    @property
    def name(self):
        return "maximum" if self.take_larger else "minimum"

    def forward(self, x, y):
        xp = get_array_module(x)
        self.shapes = x.shape, y.shape
        result = xp.maximum(x, y) if self.take_larger else xp.minimum(x, y)
        if result.dtype.kind in "fc":
            x_loses = x < y if self.take_larger else x > y
            y_loses = x > y if self.take_larger else x < y
            half_at_ties = (x == y) * 0.5
            self.weights = [(1 - loses - half_at_ties).astype(result.dtype)
                            for loses in (x_loses, y_loses)]
        return result

    def backward(self, gz):
        grads = []
        for needed, weight, shape in zip(self.needs_input_grad, self.weights,
                                         self.shapes):
            grads.append(sum_to_shape(gz * Tensor(weight), shape) if needed
                         else None)
        return tuple(grads)


def exp(x):
    return Exp()(floating(x))


def log(x):
    return Log()(floating(x))


def sqrt(x):
    return Sqrt()(floating(x))


def abs(x):  # noqa: A001 (PyTorch's name)
    require_kind("abs", x, "iufc", "a number dtype, not bool")
    return Abs()(x)


def tanh(x):
    return Tanh()(floating(x))


def sigmoid(x):
    return Sigmoid()(floating(x))


def relu(x):
    """max(x, 0); the gradient is 1 where x > 0, else 0 (0 at x = 0, as
    PyTorch)."""
    return ReLU()(x)


def sign(x):
    """-1, 0 or 1 element-wise (a bool stays itself); the gradient is 0
    (as PyTorch)."""
    if x.dtype.kind == "b":
        return clone(x)
    return Sign()(x)


def where(condition, x=None, y=None):
    """Elements of x where `condition` is true, else of y.

    Python numbers take the dtype of the tensor operand (float32 when both
    are numbers). ``where(condition)`` alone is ``nonzero(condition,
    as_tuple=True)``, as in PyTorch.
    """
    if x is None and y is None:
        return nonzero(as_tensor(condition), as_tuple=True)
    if x is None or y is None:
        raise TypeError("where: give both x and y, or neither (the positions "
                        "where condition is true)")
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
    return MaximumMinimum(take_larger)(*promote(x, y))


def clamp(x, min=None, max=None):
    """x limited to [min, max]; every element is max when min > max, and
    NaN stays NaN (as PyTorch).

    The gradient follows PyTorch. With number bounds (:class:`Clamp`) it is
    1 strictly inside (min, max) and 0 elsewhere, the bounds and NaN
    included. Tensor bounds act as maximum and minimum: the gradient goes
    to whichever value is chosen, half each at ties.
    """
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        result = x
        if min is not None:
            result = maximum(result, min)
        if max is not None:
            result = minimum(result, max)
        return result
    if x.dtype.kind not in "fc" and any(isinstance(bound, float)
                                        for bound in (min, max)):
        x = x.to(dtype="float32")  # a float bound makes the result float
    return Clamp(min, max)(x)


def clamp_min(x, min):
    """clamp(x, min=min)."""
    return clamp(x, min=min)


def clamp_max(x, max):
    """clamp(x, max=max)."""
    return clamp(x, max=max)


clip = clamp  # PyTorch's alias


def astype(x, dtype):
    return AsType(dtype)(x)


def to_device(x, device):
    return ToDevice(device)(x)


def clone(x):
    return Clone()(x)


def _data(x):
    return x.data if hasattr(x, "grad_fn") else x
