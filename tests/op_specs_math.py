"""The spec table of the math ops and activations (trig, exp/log, rounding,
remainders, lerp, the activations of nn.functional), in the form of
``op_specs.SPECS``; ``test_ops_math.py`` runs gradcheck, gradgradcheck and
the comparison with PyTorch over it.

Values stay away from the points where an op is not differentiable or
not defined: asin/acos/atanh inside (-1, 1), acosh above 1, tan away from
pi/2, the step functions (floor, round, ...) and the remainders away from
their jumps, the kinks of the piecewise activations away from 0 and from
their bounds.
"""
import numpy as np
from hypothesis import strategies as st

from op_specs import OpSpec, a_dim, broadcast_shapes, shapes, values


def _rng(data):
    return np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="seed"))


def uniform(low, high, allow_empty=True):
    """One input, uniform in [low, high]."""
    def draw(data):
        shape = shapes(data, allow_empty=allow_empty)
        return [_rng(data).uniform(low, high, shape)], {}
    return draw


def off_grid(lowest=0.1, highest=0.4):
    """One input whose distance to the nearest multiple of 1/2 lies in
    [lowest, highest] / 2: away from the jumps of floor, ceil, trunc and
    round, and from the kinks at 0, 1 and -1."""
    def draw(data):
        shape = shapes(data, allow_empty=True)
        rng = _rng(data)
        whole = rng.integers(-3, 3, shape) * 0.5
        part = rng.uniform(lowest, highest, shape) * 0.5
        return [whole + part], {}
    return draw


def uniform_pair(low_x, high_x, low_y, high_y, nonzero=False):
    """Two broadcasting inputs, uniform in their ranges; with `nonzero`,
    each value's sign is random and its magnitude in the range."""
    def draw(data):
        shape_x, shape_y = broadcast_shapes(data)
        rng = _rng(data)
        x = rng.uniform(low_x, high_x, shape_x)
        y = rng.uniform(low_y, high_y, shape_y)
        if nonzero:
            x = x * rng.choice([-1.0, 1.0], shape_x)
            y = y * rng.choice([-1.0, 1.0], shape_y)
        return [x, y], {}
    return draw


def draw_remainder_pair(data):
    """x = (k + u) * y with u in [0.15, 0.85]: x / y is never near an
    integer, where fmod and remainder jump. Same shapes (x is built from y)."""
    shape = shapes(data, allow_empty=True)
    rng = _rng(data)
    y = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    quotient = rng.integers(-3, 3, shape) + rng.uniform(0.15, 0.85, shape)
    return [quotient * y, y], {}


def draw_remainder_scalar(data):
    """x / divisor is never near an integer; the divisor a Python number."""
    shape = shapes(data, allow_empty=True)
    rng = _rng(data)
    divisor = data.draw(st.sampled_from([1.5, -0.75, 2.0]), label="divisor")
    quotient = rng.integers(-3, 3, shape) + rng.uniform(0.15, 0.85, shape)
    return [quotient * divisor], {"divisor": divisor}


def draw_lerp(data):
    """start, end and a weight tensor, broadcast together."""
    shape_s, shape_e, shape_w = broadcast_shapes(data, num_shapes=3)
    return [values(data, shape_s), values(data, shape_e),
            values(data, shape_w)], {}


def draw_lerp_scalar(data):
    shape_s, shape_e = broadcast_shapes(data)
    weight = data.draw(st.sampled_from([0.25, 0.5, 0.8, 1.0, -0.3]), label="w")
    return [values(data, shape_s), values(data, shape_e)], {"weight": weight}


def draw_round_decimals(data):
    """Values at least 0.01 * 10^-decimals from a rounding jump."""
    decimals = data.draw(st.sampled_from([-1, 1, 2]), label="decimals")
    [x], _ = off_grid()(data)
    return [x * 2 * 10.0 ** -decimals], {"decimals": decimals}


def draw_clamp_bounds(name):
    """x on a grid of step 0.25 (plus noise), the bound on a grid line."""
    def draw(data):
        shape = shapes(data, allow_empty=True)
        rng = _rng(data)
        x = (rng.integers(-8, 8, shape) + 0.5) * 0.25 + rng.uniform(-0.05, 0.05, shape)
        bound = data.draw(st.sampled_from([-0.5, 0.0, 1.0]), label=name)
        return [x], {name: bound}
    return draw


def draw_softmin(data):
    shape = shapes(data, min_dims=1)
    return [values(data, shape)], {"dim": a_dim(data, len(shape))}


def segments(*ranges):
    """One input, each value uniform in one of the `ranges` (chosen with
    probability proportional to its length): the gaps hold the kinks."""
    lengths = np.array([high - low for low, high in ranges])

    def draw(data):
        shape = shapes(data, allow_empty=True)
        rng = _rng(data)
        which = rng.choice(len(ranges), size=shape, p=lengths / lengths.sum())
        lows = np.array([low for low, _ in ranges])[which]
        return [lows + rng.uniform(0, 1, shape) * lengths[which]], {}
    return draw


def with_param(draw_values, name, choices):
    """draw_values plus one keyword parameter drawn from `choices`."""
    def draw(data):
        arrays, params = draw_values(data)
        params[name] = data.draw(st.sampled_from(choices), label=name)
        return arrays, params
    return draw


def draw_glu(data):
    shape = list(shapes(data, min_dims=1))
    dim = a_dim(data, len(shape))
    shape[dim] *= 2
    return [values(data, tuple(shape))], {"dim": dim}


def draw_prelu(data):
    """x of shape (N, C, *) away from 0, and one weight or one per channel."""
    shape = shapes(data, min_dims=2)
    per_channel = data.draw(st.booleans(), label="per channel?")
    weight_shape = (shape[1],) if per_channel else (1,)
    return [values(data, shape, "nonzero"), values(data, weight_shape)], {}


AROUND_0 = uniform(-3, 3)
KINKED_AT_0 = segments((-3.0, -0.2), (0.2, 3.0))


def draw_mixed_index(data):
    """x[i, :, idx] and friends: an integer and an integer array apart,
    which PyTorch (and minidl) index differently from NumPy."""
    shape = tuple(data.draw(st.integers(1, 3), label="side") for _ in range(3))
    rng = _rng(data)
    form = data.draw(st.sampled_from(["int : array", "array : int", ": int array"]),
                     label="form")
    count = data.draw(st.integers(1, 4), label="count")
    if form == "int : array":
        index = (int(rng.integers(0, shape[0])), slice(None),
                 rng.integers(0, shape[2], count))
    elif form == "array : int":
        index = (rng.integers(0, shape[0], count), slice(None),
                 int(rng.integers(0, shape[2])))
    else:
        index = (slice(None), int(rng.integers(0, shape[1])),
                 rng.integers(0, shape[2], count))
    return [values(data, shape)], {"index": index}


def _index_with_tensors(lib, index):
    return tuple(lib.tensor(item) if isinstance(item, np.ndarray) else item
                 for item in index)


def _torch_div_trunc(torch, x, y):
    return torch.div(x, y, rounding_mode="trunc")


MATH_SPECS = [
    # -- trigonometric and hyperbolic
    OpSpec("sin", AROUND_0, lambda lib, x: lib.sin(x)),
    OpSpec("cos", AROUND_0, lambda lib, x: x.cos()),
    OpSpec("tan", uniform(-1.2, 1.2), lambda lib, x: lib.tan(x)),
    OpSpec("asin", uniform(-0.9, 0.9), lambda lib, x: lib.asin(x)),
    OpSpec("arcsin", uniform(-0.9, 0.9), lambda lib, x: x.arcsin()),
    OpSpec("acos", uniform(-0.9, 0.9), lambda lib, x: lib.acos(x)),
    OpSpec("atan", AROUND_0, lambda lib, x: x.atan()),
    OpSpec("sinh", AROUND_0, lambda lib, x: lib.sinh(x)),
    OpSpec("cosh", AROUND_0, lambda lib, x: x.cosh()),
    OpSpec("asinh", AROUND_0, lambda lib, x: lib.asinh(x)),
    OpSpec("acosh", uniform(1.2, 3), lambda lib, x: lib.acosh(x)),
    OpSpec("atanh", uniform(-0.8, 0.8), lambda lib, x: lib.atanh(x)),
    OpSpec("atan2", uniform_pair(0.3, 2, 0.3, 2, nonzero=True),
           lambda lib, y, x: lib.atan2(y, x)),
    OpSpec("hypot", uniform_pair(0.3, 2, 0.3, 2, nonzero=True),
           lambda lib, x, y: lib.hypot(x, y)),
    # -- exponentials, logarithms, powers
    OpSpec("exp2", AROUND_0, lambda lib, x: lib.exp2(x)),
    OpSpec("expm1", AROUND_0, lambda lib, x: x.expm1()),
    OpSpec("log2", uniform(0.3, 3), lambda lib, x: lib.log2(x)),
    OpSpec("log10", uniform(0.3, 3), lambda lib, x: x.log10()),
    OpSpec("log1p", uniform(-0.7, 3), lambda lib, x: lib.log1p(x)),
    OpSpec("rsqrt", uniform(0.3, 3), lambda lib, x: lib.rsqrt(x)),
    OpSpec("square", AROUND_0, lambda lib, x: lib.square(x)),
    OpSpec("reciprocal", uniform_pair(0.3, 2, 0.3, 2, nonzero=True),
           lambda lib, x, y: x.reciprocal() * y),
    OpSpec("logaddexp", uniform_pair(-3, 3, -3, 3),
           lambda lib, x, y: lib.logaddexp(x, y)),
    OpSpec("logaddexp2", uniform_pair(-3, 3, -3, 3),
           lambda lib, x, y: x.logaddexp2(y)),
    OpSpec("xlogy", uniform_pair(-2, 2, 0.3, 3), lambda lib, x, y: lib.xlogy(x, y)),
    OpSpec("float_power", uniform_pair(0.3, 2, -2, 2),
           lambda lib, x, y: lib.float_power(x, y)),
    OpSpec("erf", AROUND_0, lambda lib, x: lib.erf(x)),
    OpSpec("erfc", uniform(-3, 5), lambda lib, x: lib.erfc(x)),
    OpSpec("erfinv", uniform(-0.95, 0.95), lambda lib, x: x.erfinv()),
    # -- rounding (zero gradients) and remainders
    OpSpec("floor", off_grid(), lambda lib, x: lib.floor(x) * x),
    OpSpec("ceil", off_grid(), lambda lib, x: x.ceil() * x),
    OpSpec("trunc", off_grid(), lambda lib, x: lib.trunc(x) + x),
    OpSpec("round", off_grid(), lambda lib, x: lib.round(x) * x),
    OpSpec("round_decimals", draw_round_decimals,
           lambda lib, x, decimals: lib.round(x, decimals=decimals) * x),
    OpSpec("frac", off_grid(), lambda lib, x: lib.frac(x)),
    OpSpec("sign_zero_gradient", off_grid(), lambda lib, x: lib.sign(x) * x),
    OpSpec("div_trunc", draw_remainder_pair,
           lambda lib, x, y: lib.div(x, y, rounding_mode="trunc") * x,
           torch_fn=lambda torch, x, y: _torch_div_trunc(torch, x, y) * x),
    OpSpec("div_floor", draw_remainder_pair,
           lambda lib, x, y: x.div(y, rounding_mode="floor") + y),
    OpSpec("fmod", draw_remainder_pair, lambda lib, x, y: lib.fmod(x, y)),
    OpSpec("remainder", draw_remainder_pair, lambda lib, x, y: lib.remainder(x, y)),
    OpSpec("mod_operator_scalar", draw_remainder_scalar,
           lambda lib, x, divisor: x % divisor),
    OpSpec("rmod_operator", draw_remainder_pair, lambda lib, x, y: x % y),
    OpSpec("copysign", uniform_pair(0.3, 2, 0.3, 2, nonzero=True),
           lambda lib, x, y: lib.copysign(x, y)),
    # -- interpolation, clamping, NaN replacement
    OpSpec("lerp", draw_lerp, lambda lib, s, e, w: lib.lerp(s, e, w)),
    OpSpec("lerp_scalar_weight", draw_lerp_scalar,
           lambda lib, s, e, weight: s.lerp(e, weight)),
    OpSpec("clamp_min", draw_clamp_bounds("min"),
           lambda lib, x, min: lib.clamp_min(x, min)),
    OpSpec("clamp_max", draw_clamp_bounds("max"),
           lambda lib, x, max: x.clamp_max(max)),
    OpSpec("clip", draw_clamp_bounds("min"),
           lambda lib, x, min: lib.clip(x, min=min, max=min + 1.0)),
    OpSpec("nan_to_num", AROUND_0, lambda lib, x: lib.nan_to_num(x) * x),
    # -- compositions
    OpSpec("addcmul", draw_lerp, lambda lib, x, a, b: lib.addcmul(x, a, b, value=0.5)),
    OpSpec("addcdiv", uniform_pair(0.3, 2, 0.3, 2, nonzero=True),
           lambda lib, x, y: x.addcdiv(y, y * y + 1, value=-2.0)),
    OpSpec("logit", uniform(0.1, 0.9), lambda lib, x: lib.logit(x)),
    OpSpec("logit_eps", uniform(0.05, 0.95), lambda lib, x: x.logit(eps=0.01)),
    OpSpec("deg2rad_rad2deg", AROUND_0, lambda lib, x: lib.deg2rad(x) * lib.rad2deg(x)),
    # -- indexing: an integer and an array apart (PyTorch's rule)
    OpSpec("getitem_int_and_array", draw_mixed_index,
           lambda lib, x, index: x[_index_with_tensors(lib, index)]),
]

# The activations of nn.functional (lib.nn.functional is F in both).
ACTIVATION_SPECS = [
    OpSpec("silu", uniform(-6, 6), lambda lib, x: lib.nn.functional.silu(x)),
    OpSpec("leaky_relu", with_param(KINKED_AT_0, "slope", [0.01, 0.2, -0.5]),
           lambda lib, x, slope: lib.nn.functional.leaky_relu(x, slope)),
    OpSpec("elu", with_param(KINKED_AT_0, "alpha", [1.0, 0.5, 2.0]),
           lambda lib, x, alpha: lib.nn.functional.elu(x, alpha)),
    OpSpec("celu", with_param(KINKED_AT_0, "alpha", [1.0, 0.5, 2.0]),
           lambda lib, x, alpha: lib.nn.functional.celu(x, alpha)),
    OpSpec("selu", KINKED_AT_0, lambda lib, x: lib.nn.functional.selu(x)),
    OpSpec("relu6", segments((-2.0, -0.2), (0.2, 5.8), (6.2, 8.0)),
           lambda lib, x: lib.nn.functional.relu6(x)),
    OpSpec("hardtanh", with_param(segments((-3.0, -2.2), (-1.8, 0.8), (1.2, 3.0)),
                                  "bounds", [(-2.0, 1.0)]),
           lambda lib, x, bounds: lib.nn.functional.hardtanh(x, *bounds)),
    OpSpec("hardsigmoid", segments((-5.0, -3.2), (-2.8, 2.8), (3.2, 5.0)),
           lambda lib, x: lib.nn.functional.hardsigmoid(x),
           # PyTorch's hardsigmoid has no second derivative (and a float32
           # slope): compare with its definition.
           torch_fn=lambda torch, x: torch.nn.functional.relu6(x + 3) / 6),
    OpSpec("hardswish", segments((-5.0, -3.2), (-2.8, 2.8), (3.2, 5.0)),
           lambda lib, x: lib.nn.functional.hardswish(x)),
    OpSpec("softplus", with_param(uniform(-4, 4), "beta", [1.0, 2.0, 0.5]),
           lambda lib, x, beta: lib.nn.functional.softplus(x, beta=beta)),
    OpSpec("softplus_threshold", segments((-3.0, 1.8), (2.2, 4.0)),
           lambda lib, x: lib.nn.functional.softplus(x, threshold=2.0)),
    OpSpec("softsign", KINKED_AT_0, lambda lib, x: lib.nn.functional.softsign(x)),
    OpSpec("mish", uniform(-5, 5), lambda lib, x: lib.nn.functional.mish(x)),
    OpSpec("logsigmoid", uniform(-10, 10),
           lambda lib, x: lib.nn.functional.logsigmoid(x)),
    OpSpec("tanhshrink", uniform(-3, 3),
           lambda lib, x: lib.nn.functional.tanhshrink(x)),
    OpSpec("softmin", draw_softmin,
           lambda lib, x, dim: lib.nn.functional.softmin(x, dim=dim)),
    OpSpec("threshold", segments((-2.0, 0.3), (0.7, 2.0)),
           lambda lib, x: lib.nn.functional.threshold(x, 0.5, -1.5)),
    OpSpec("hardshrink", segments((-2.0, -0.7), (-0.3, 0.3), (0.7, 2.0)),
           lambda lib, x: lib.nn.functional.hardshrink(x, 0.5)),
    OpSpec("softshrink", segments((-2.0, -0.7), (-0.3, 0.3), (0.7, 2.0)),
           lambda lib, x: lib.nn.functional.softshrink(x, 0.5)),
    OpSpec("glu", draw_glu, lambda lib, x, dim: lib.nn.functional.glu(x, dim)),
    OpSpec("prelu", draw_prelu, lambda lib, x, w: lib.nn.functional.prelu(x, w)),
]

MATH_SPECS = MATH_SPECS + ACTIVATION_SPECS

SPEC_NAMES = [spec.name for spec in MATH_SPECS]
