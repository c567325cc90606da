"""Rounding and the remainders of division: floor, ceil, round, trunc,
frac, fmod, remainder (``%``), floor_divide (``//``), div with a rounding
mode, and copysign.

The rounding functions are steps: flat between the jumps, so their
gradient is 0, as in PyTorch (not undefined). On integer tensors floor,
ceil, round and trunc return the values unchanged, in their dtype.
"""
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .arithmetic import promote, promote_floating, require_kind, sum_to_shape


class _StepFunction(Function):
    """Base: a piecewise constant function. Its gradient is 0 for every
    input (broadcast back to the input's shape)."""

    def forward(self, *arrays):
        self.shapes = [a.shape for a in arrays]
        return self.compute(get_array_module(arrays[0]), *arrays)

    def backward(self, gz):
        return tuple(sum_to_shape(gz * 0, shape) if needed else None
                     for needed, shape in zip(self.needs_input_grad, self.shapes))


class Floor(_StepFunction):
    """y = the largest integer <= x.  dy/dx = 0."""

    def compute(self, xp, x):
        return xp.floor(x)


class Ceil(_StepFunction):
    """y = the smallest integer >= x.  dy/dx = 0."""

    def compute(self, xp, x):
        return xp.ceil(x)


class Trunc(_StepFunction):
    """y = x rounded towards 0.  dy/dx = 0."""

    def compute(self, xp, x):
        return xp.trunc(x)


class Round(_StepFunction):
    """y = x rounded to `decimals` places, halves to even (as PyTorch).
    dy/dx = 0."""

    def __init__(self, decimals):
        self.decimals = decimals

    def compute(self, xp, x):
        if self.decimals == 0:
            return xp.rint(x)
        return xp.round(x, self.decimals)


class DivRounded(_StepFunction):
    """z = x / y rounded by `mode`: 'trunc' (towards 0) or 'floor'.
    dz/dx = dz/dy = 0 (as PyTorch). Integers divide exactly."""

    def __init__(self, mode):
        self.mode = mode

    def compute(self, xp, x, y):
        if self.mode == "floor":
            return xp.floor_divide(x, y)
        if x.dtype.kind in "fc":
            return xp.trunc(x / y)
        # Integers: divide the magnitudes, then give the quotient its sign.
        quotient = xp.abs(x) // xp.abs(y)
        return xp.where((x < 0) != (y < 0), -quotient, quotient)


class FloorDivide(Function):
    """z = floor(x / y) (``x // y``). PyTorch has no derivative for it, so
    backward raises, as PyTorch's does."""

    def forward(self, x, y):
        return get_array_module(x).floor_divide(x, y)

    def backward(self, gz):
        raise RuntimeError("floor_divide: the derivative is not implemented "
                           "(as in PyTorch); use div(x, y, rounding_mode="
                           "'floor'), whose gradient is 0, or (x / y).floor()")


class Frac(Function):
    """y = x - trunc(x) (the sign of x kept).  dy/dx = 1."""

    def forward(self, x):
        return x - get_array_module(x).trunc(x)

    def backward(self, gy):
        return gy


class Fmod(Function):
    """z = x - trunc(x / y) * y: the remainder with the sign of x (C's fmod).

    dz/dx = 1, dz/dy = -trunc(x / y).
    """

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x, y):
        return get_array_module(x).fmod(x, y)

    def backward(self, gz):
        x, y = self.saved_tensors
        gx = sum_to_shape(gz, x.shape) if self.needs_input_grad[0] else None
        gy = None
        if self.needs_input_grad[1]:
            gy = sum_to_shape(-gz * div_rounded(x, y, "trunc"), y.shape)
        return gx, gy


class Remainder(Function):
    """z = x - floor(x / y) * y: the remainder with the sign of y (Python's
    ``%``, PyTorch's remainder).

    dz/dx = 1, dz/dy = -floor(x / y).
    """

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x, y):
        return get_array_module(x).remainder(x, y)

    def backward(self, gz):
        x, y = self.saved_tensors
        gx = sum_to_shape(gz, x.shape) if self.needs_input_grad[0] else None
        gy = None
        if self.needs_input_grad[1]:
            gy = sum_to_shape(-gz * div_rounded(x, y, "floor"), y.shape)
        return gx, gy


class Copysign(Function):
    """z = |x| with the sign of y (signed zeros included), broadcast.

    dz/dx = z / x, a constant +-1 (0 where x = 0, as PyTorch), so the
    second derivative is 0; dz/dy = 0.
    """

    def forward(self, x, y):
        xp = get_array_module(x)
        self.shapes = x.shape, y.shape
        z = xp.copysign(x, y)
        with_x_shape = xp.broadcast_to(x, z.shape)
        safe_x = xp.where(with_x_shape == 0, 1, with_x_shape)
        self.ratio = xp.where(with_x_shape == 0, 0, z / safe_x).astype(z.dtype)
        return z

    def backward(self, gz):
        gx = gy = None
        if self.needs_input_grad[0]:
            gx = sum_to_shape(gz * Tensor(self.ratio), self.shapes[0])
        if self.needs_input_grad[1]:
            gy = sum_to_shape(gz * 0, self.shapes[1])
        return gx, gy


def _keep_integers(x, function, op):
    """Integers are already whole: floor/ceil/round/trunc give them back
    (bools are refused, as PyTorch)."""
    require_kind(op, x, "iufc", "a number dtype, not bool")
    if x.dtype.kind in "iu":
        return x.clone()
    return function(x)


def floor(input):
    return _keep_integers(input, lambda x: Floor()(x), "floor")


def ceil(input):
    return _keep_integers(input, lambda x: Ceil()(x), "ceil")


def trunc(input):
    return _keep_integers(input, lambda x: Trunc()(x), "trunc")


fix = trunc  # PyTorch's alias


def round(input, decimals=0):  # noqa: A001 (PyTorch's name)
    """input rounded to `decimals` places (negative: tens, hundreds...),
    halves to even, as PyTorch."""
    if decimals != 0 and input.dtype.kind in "iub":
        raise NotImplementedError(
            f"round: decimals={decimals} is not supported for {input.dtype} "
            "tensors (as in PyTorch); convert with .float() first")
    return _keep_integers(input, lambda x: Round(decimals)(x), "round")


def frac(input):
    require_kind("frac", input, "fc", "a floating dtype")
    return Frac()(input)


def _check_integer_divisor(op, x, y):
    """Two bools are refused; an integer division by 0 raises (as
    PyTorch, where NumPy would give 0 with a warning)."""
    if x.dtype.kind == "b":
        require_kind(op, y, "iufc", "a number dtype, not bool")
    if y.dtype.kind in "iub" and x.dtype.kind in "iub" and \
            bool((y.data == 0).any()):
        raise RuntimeError(f"ZeroDivisionError: {op} of integer tensors "
                           "by 0")


def fmod(input, other):
    x, y = promote(input, other)
    _check_integer_divisor("fmod", x, y)
    return Fmod()(x, y)


def remainder(input, other):
    """input - floor(input / other) * other: the sign of `other`, as
    Python's % and PyTorch's remainder."""
    x, y = promote(input, other)
    _check_integer_divisor("remainder", x, y)
    return Remainder()(x, y)


def floor_divide(input, other):
    """floor(input / other) (``//``); integers stay integers."""
    x, y = promote(input, other)
    _check_integer_divisor("floor_divide", x, y)
    return FloorDivide()(x, y)


def div_rounded(input, other, rounding_mode):
    """div with rounding_mode 'trunc' or 'floor' (see ``arithmetic.div``)."""
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or "
                         f"'floor', got {rounding_mode!r}")
    x, y = promote(input, other)
    _check_integer_divisor("div", x, y)
    return DivRounded(rounding_mode)(x, y)


def copysign(input, other):
    """|input| with the sign of `other`; integers become float32."""
    return Copysign()(*promote_floating(input, other))

