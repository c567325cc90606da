"""The math ops against PyTorch where gradients are not the question:
dtypes (integer inputs promote as in PyTorch; float32 stays float32),
the ops without gradients (logical, bitwise, isnan, isclose...), integer
arithmetic (remainder's sign rule, //, div's rounding modes), operators
and their in-place forms, and the conventions at special values.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import minidl
from conftest import assert_close

DTYPES = ["float32", "float64", "int64", "int32", "bool", "uint8", "int16"]


def _both(torch, array):
    return minidl.tensor(array), torch.tensor(array)


def _assert_same_tensor(mine, theirs, name, rtol=1e-6):
    """Same dtype, shape and values (floats within rtol of float32's
    rounding, and NaN where PyTorch has NaN)."""
    theirs = theirs.detach()
    assert str(theirs.dtype) == "torch." + str(mine.dtype), \
        f"{name}: dtype {mine.dtype} != {theirs.dtype}"
    a, b = mine.numpy(), theirs.numpy()
    assert a.shape == b.shape, f"{name}: shape {a.shape} != {b.shape}"
    if a.dtype.kind == "f":
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-3,
                                   equal_nan=True, err_msg=name)
    else:
        np.testing.assert_array_equal(a, b, err_msg=name)


def _array(data, shape, dtype, low=-5, high=5):
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="seed"))
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype in ("uint8",):
        return rng.integers(0, 20, shape).astype(dtype)
    if dtype.startswith("int"):
        return rng.integers(int(np.floor(low)), int(np.ceil(high)) + 1,
                            shape).astype(dtype)
    return rng.uniform(low, high, shape).astype(dtype)


def _shapes(data, count=2):
    return data.draw(hnp.mutually_broadcastable_shapes(
        num_shapes=count, max_dims=3, max_side=3), label="shapes").input_shapes


# -- unary float functions: values and dtypes for every input dtype --------------------
UNARY = {
    "sin": (-4, 4), "cos": (-4, 4), "tan": (-1, 1), "asin": (-1, 1),
    "acos": (-1, 1), "atan": (-4, 4), "sinh": (-3, 3), "cosh": (-3, 3),
    "asinh": (-4, 4), "acosh": (1, 4), "atanh": (-0.9, 0.9),
    "arcsin": (-1, 1), "arctan": (-4, 4), "exp2": (-4, 4), "expm1": (-3, 3),
    "log2": (1, 5), "log10": (1, 5), "log1p": (0, 5), "rsqrt": (1, 5),
    "erf": (-3, 3), "erfc": (-3, 3), "erfinv": (-1, 1), "reciprocal": (1, 5), "square": (-4, 4),
    "floor": (-4, 4), "ceil": (-4, 4), "trunc": (-4, 4), "round": (-4, 4),
    "sign": (-4, 4), "frac": (-4, 4), "nan_to_num": (-4, 4),
    "sigmoid": (-4, 4), "exp": (-3, 3), "sqrt": (1, 5), "abs": (-4, 4),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=10)
@given(data=st.data())
def test_unary_functions_and_methods_match_torch_for_every_dtype(torch, name, data):
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    low, high = UNARY[name]
    shape = _shapes(data, 1)[0]
    array = _array(data, shape, dtype, low, high)
    mine, theirs = _both(torch, array)
    try:
        expected = getattr(torch, name)(theirs)
    except (RuntimeError, TypeError) as error:  # e.g. frac of an integer
        with pytest.raises(type(error)):
            getattr(minidl, name)(mine)
        return
    _assert_same_tensor(getattr(minidl, name)(mine), expected, name)
    _assert_same_tensor(getattr(mine, name)(), expected, name + " method")


# -- binary functions: dtypes, broadcasting, scalars -------------------------------------
BINARY = {
    "atan2": (-3, 3), "hypot": (-3, 3), "logaddexp": (-3, 3),
    "logaddexp2": (-3, 3), "copysign": (-3, 3), "fmod": (1, 5),
    "remainder": (1, 5), "floor_divide": (1, 5), "maximum": (-3, 3),
    "minimum": (-3, 3), "pow": (0, 3), "xlogy": (1, 4),
    "logical_and": (-2, 2), "logical_or": (-2, 2), "logical_xor": (-2, 2),
    "bitwise_and": (-8, 8), "bitwise_or": (-8, 8), "bitwise_xor": (-8, 8),
    "bitwise_left_shift": (0, 4), "bitwise_right_shift": (0, 4),
    "true_divide": (1, 5), "isclose": (-2, 2), "float_power": (1, 3),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=12)
@given(data=st.data())
def test_binary_functions_match_torch_with_broadcasting(torch, name, data):
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    low, high = BINARY[name]
    shape_x, shape_y = _shapes(data)
    x, y = _array(data, shape_x, dtype, low, high), _array(data, shape_y, dtype, low, high)
    if name == "isclose":
        y = np.where(_array(data, shape_y, "bool"), y, y.dtype.type(1)) if dtype != "bool" else y
    (mx, tx), (my, ty) = _both(torch, x), _both(torch, y)
    try:
        expected = getattr(torch, name)(tx, ty)
    except (RuntimeError, TypeError) as error:  # bitwise on floats, ...
        with pytest.raises(type(error)):
            getattr(minidl, name)(mx, my)
        return
    _assert_same_tensor(getattr(minidl, name)(mx, my), expected, name)
    _assert_same_tensor(getattr(mx, name)(my), expected, name + " method")


SCALARS = [2, 3, -2, 1.5, -0.5, True]


@pytest.mark.parametrize("name", ["remainder", "fmod", "floor_divide", "atan2",
                                  "copysign", "bitwise_and", "logical_or",
                                  "maximum", "pow", "isclose"])
@pytest.mark.parametrize("dtype", ["float32", "int64", "int32", "bool"])
def test_binary_functions_with_a_python_number_match_torch(torch, name, dtype):
    array = np.array([-3, -1, 0, 2, 5]).astype(dtype)
    mine, theirs = _both(torch, array)
    for scalar in SCALARS:
        if name in ("maximum", "isclose"):  # PyTorch wants two tensors
            continue
        try:
            expected = getattr(torch, name)(theirs, scalar)
        except TypeError:
            continue  # PyTorch wants a tensor here; minidl takes the number
        except RuntimeError:
            with pytest.raises(RuntimeError):
                getattr(minidl, name)(mine, scalar)
            continue
        _assert_same_tensor(getattr(minidl, name)(mine, scalar), expected,
                            f"{name}({dtype}, {scalar!r})")


# -- operators, reflected and in place --------------------------------------------------
OPERATORS = {
    "%": lambda a, b: a % b, "//": lambda a, b: a // b,
    "&": lambda a, b: a & b, "|": lambda a, b: a | b, "^": lambda a, b: a ^ b,
    "<<": lambda a, b: a << b, ">>": lambda a, b: a >> b,
    "**": lambda a, b: a ** b,
}


@pytest.mark.parametrize("op", sorted(OPERATORS))
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "float32"])
def test_operators_reflected_and_in_place_match_torch(torch, op, dtype):
    fn = OPERATORS[op]
    x = np.array([-7, -3, 0, 2, 5, 9]).astype(dtype)
    y = np.array([3, -2, 1, 2, 3, 4]).astype(dtype)
    if dtype == "bool" and op in ("<<", ">>", "//", "%"):
        return  # PyTorch has no such ops on bools
    (mx, tx), (my, ty) = _both(torch, x), _both(torch, y)
    cases = [(mx, my, tx, ty), (mx, 2, tx, 2), (3, my, 3, ty)]
    if op in ("<<", ">>"):  # only non-negative shifts are defined
        cases = [(mx, abs(my), tx, abs(ty)), (mx, 2, tx, 2), (3, abs(my), 3, abs(ty))]
    for a, b, ta, tb in cases:
        try:
            expected = fn(ta, tb)
        except (RuntimeError, TypeError, ZeroDivisionError) as error:
            with pytest.raises(type(error) if not isinstance(error, ZeroDivisionError)
                               else RuntimeError):
                fn(a, b)
            continue
        _assert_same_tensor(fn(a, b), expected, f"{a!r} {op} {b!r}")
    # In place: x op= y keeps x's dtype, or fails like PyTorch.
    a, ta = minidl.tensor(x), torch.tensor(x)
    operand, torch_operand = (abs(my), abs(ty)) if op in ("<<", ">>") else (my, ty)
    try:
        ta_result = _in_place(op, ta, torch_operand)
    except (RuntimeError, ZeroDivisionError):
        with pytest.raises(RuntimeError):
            _in_place(op, a, operand)
        return
    result = _in_place(op, a, operand)
    assert result is a
    _assert_same_tensor(a, ta_result, f"{op}= on {dtype}")


def _in_place(op, a, b):
    if op == "%":
        a %= b
    elif op == "//":
        a //= b
    elif op == "&":
        a &= b
    elif op == "|":
        a |= b
    elif op == "^":
        a ^= b
    elif op == "<<":
        a <<= b
    elif op == ">>":
        a >>= b
    else:
        a **= b
    return a


def test_invert_and_logical_not_match_torch(torch):
    for array in (np.array([True, False]), np.array([5, -3, 0])):
        mine, theirs = _both(torch, array)
        _assert_same_tensor(~mine, ~theirs, "~")
        _assert_same_tensor(mine.bitwise_not(), theirs.bitwise_not(), "bitwise_not")
        _assert_same_tensor(minidl.logical_not(mine), torch.logical_not(theirs), "not")
    with pytest.raises(RuntimeError, match="bitwise_not.*float32"):
        ~minidl.tensor([1.0])


def test_bitwise_on_floats_is_refused_naming_op_and_dtype(torch):
    with pytest.raises(RuntimeError) as theirs:
        torch.tensor([1.0]) & torch.tensor([1.0])
    with pytest.raises(RuntimeError, match="bitwise_and: not implemented for float32"):
        minidl.tensor([1.0]) & minidl.tensor([1.0])
    assert theirs.type is NotImplementedError


def test_in_place_math_methods_keep_the_dtype_or_refuse(torch):
    mine, theirs = _both(torch, np.array([0.5, 1.5]))
    _assert_same_tensor(mine.sin_(), theirs.sin_(), "sin_")
    _assert_same_tensor(mine.clamp_min_(0.9), theirs.clamp_min_(0.9), "clamp_min_")
    _assert_same_tensor(mine.floor_(), theirs.floor_(), "floor_")
    with pytest.raises(RuntimeError, match="can't be cast"):
        minidl.tensor([1, 2]).sin_()
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).sin_()


def test_in_place_math_inside_a_graph_keeps_gradients_right():
    x = minidl.tensor([0.5, 1.0], dtype=minidl.float64, requires_grad=True)
    y = x * 2
    y.sin_()
    y.sum().backward()
    assert_close(x.grad, 2 * np.cos(2 * np.array([0.5, 1.0])))


# -- integer division: signs and rounding modes -----------------------------------------
def test_remainder_fmod_and_div_rounding_modes_follow_torch_signs(torch):
    x = np.array([-7, -6, -1, 0, 1, 6, 7])
    for dtype in ("int64", "int32", "float32", "float64"):
        for divisor in (3, -3, 2.5, -2.5):
            a, ta = minidl.tensor(x.astype(dtype)), torch.tensor(x.astype(dtype))
            if isinstance(divisor, float) and dtype.startswith("int"):
                continue
            for name, fn in [("remainder", lambda lib, t: lib.remainder(t, divisor)),
                             ("fmod", lambda lib, t: lib.fmod(t, divisor)),
                             ("%", lambda lib, t: t % divisor),
                             ("//", lambda lib, t: t // divisor),
                             ("rmod", lambda lib, t: divisor % (t + 10)),
                             ("trunc", lambda lib, t: lib.div(t, divisor, rounding_mode="trunc")),
                             ("floor", lambda lib, t: t.div(divisor, rounding_mode="floor")),
                             ("true", lambda lib, t: lib.div(t, divisor)),
                             ("true_divide", lambda lib, t: lib.true_divide(t, divisor))]:
                _assert_same_tensor(fn(minidl, a), fn(torch, ta),
                                    f"{name} {dtype} by {divisor}")


def test_integer_division_by_zero_raises_like_torch(torch):
    for name in ("remainder", "floor_divide", "fmod"):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            getattr(minidl, name)(minidl.tensor([3]), minidl.tensor([0]))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        torch.remainder(torch.tensor([3]), torch.tensor([0]))
    mine = minidl.remainder(minidl.tensor([3.0, -3.0]), 0.0)
    theirs = torch.remainder(torch.tensor([3.0, -3.0]), 0.0)
    _assert_same_tensor(mine, theirs, "float remainder by 0")


def test_div_rejects_an_unknown_rounding_mode():
    with pytest.raises(ValueError, match="rounding_mode must be None, 'trunc' or 'floor'"):
        minidl.div(minidl.tensor([1.0]), 2, rounding_mode="round")


def test_floor_divide_has_no_derivative_like_torch(torch):
    x = minidl.tensor([3.0, -2.5], requires_grad=True)
    with pytest.raises(RuntimeError, match="floor_divide: the derivative is not implemented"):
        (x // 2).sum().backward()
    t = torch.tensor([3.0, -2.5], requires_grad=True)
    with pytest.raises(RuntimeError, match="not implemented"):
        (t // 2).sum().backward()


# -- rounding -----------------------------------------------------------------------------
def test_round_halves_to_even_and_decimals_like_torch(torch):
    values = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 0.125, 1234.5678, -2.675, 1e-3])
    for dtype in ("float32", "float64"):
        mine, theirs = _both(torch, values.astype(dtype))
        for decimals in (0, 1, 2, -1, -2):
            _assert_same_tensor(minidl.round(mine, decimals=decimals),
                                torch.round(theirs, decimals=decimals),
                                f"round {dtype} decimals={decimals}")
    integers, torch_integers = _both(torch, np.array([15, 25, -35]))
    _assert_same_tensor(minidl.round(integers), torch.round(torch_integers), "int round")
    with pytest.raises(RuntimeError):  # NotImplementedError, like PyTorch
        minidl.round(integers, decimals=-1)


def test_rounding_functions_give_zero_gradients_like_torch(torch):
    values = np.array([-1.5, -0.3, 0.7, 2.5])
    for name in ("floor", "ceil", "trunc", "round", "sign", "fix"):
        mine = minidl.tensor(values, requires_grad=True)
        theirs = torch.tensor(values, requires_grad=True)
        out_mine, out_theirs = getattr(minidl, name)(mine), getattr(torch, name)(theirs)
        assert out_mine.requires_grad == out_theirs.requires_grad
        (out_mine * 3).sum().backward()
        (out_theirs * 3).sum().backward()
        assert_close(mine.grad, theirs.grad, name=name)


# -- floating-point checks and conventions at special values ------------------------------
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -2.5, 1e-30, 3e38])


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite", "isposinf",
                                  "isneginf", "sign", "floor", "round", "sqrt",
                                  "log1p", "expm1", "rsqrt", "reciprocal",
                                  "erf", "erfc", "erfinv", "sigmoid", "exp2", "atan",
                                  "nan_to_num", "square", "frac", "trunc"])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_special_values_like_torch(torch, name):
    for dtype in ("float32", "float64"):
        mine, theirs = _both(torch, SPECIAL.astype(dtype))
        _assert_same_tensor(getattr(minidl, name)(mine), getattr(torch, name)(theirs),
                            f"{name} {dtype}")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_to_num_values_and_gradient_like_torch(torch):
    results = []
    for lib in (minidl, torch):
        x = lib.tensor([np.nan, np.inf, -np.inf, 1.5], requires_grad=True)
        y = lib.nan_to_num(x, nan=0.5, posinf=7.0)
        (y * 2).sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy()))
        default = lib.nan_to_num(lib.tensor([np.inf, -np.inf], dtype=lib.float32))
        results.append((default.numpy(),))
    for mine, theirs in zip(results[:2], results[2:]):
        for a, b in zip(mine, theirs):
            np.testing.assert_array_equal(a, b)


def test_isclose_equal_nan_and_tolerances_like_torch(torch):
    a = np.array([1.0, np.nan, np.inf, 1.0, 0.0])
    b = np.array([1.00001, np.nan, np.inf, 1.1, 1e-9])
    for kwargs in ({}, {"equal_nan": True}, {"rtol": 0.2}, {"atol": 0.0}):
        (ma, ta), (mb, tb) = _both(torch, a), _both(torch, b)
        _assert_same_tensor(minidl.isclose(ma, mb, **kwargs),
                            torch.isclose(ta, tb, **kwargs), str(kwargs))
    assert minidl.equal(minidl.tensor([1, 2]), minidl.tensor([1, 2]))
    assert not minidl.equal(minidl.tensor([1, 2]), minidl.tensor([1, 3]))


def test_xlogy_at_zero_and_lerp_at_weight_one_like_torch(torch):
    x, y = np.array([0.0, 0.0, 2.0, 0.0]), np.array([0.0, 3.0, 0.5, np.nan])
    (mx, tx), (my, ty) = _both(torch, x), _both(torch, y)
    _assert_same_tensor(minidl.xlogy(mx, my), torch.xlogy(tx, ty), "xlogy")
    start, end = np.array([1e8, -3.0]), np.array([1.0, 7.0])
    (ms, ts), (me, te) = _both(torch, start), _both(torch, end)
    for weight in (1.0, 0.0, 0.5, 0.3, 0.7):
        _assert_same_tensor(minidl.lerp(ms, me, weight), torch.lerp(ts, te, weight),
                            f"lerp {weight}")
    with pytest.raises(TypeError, match="lerp: expected end of dtype"):
        minidl.lerp(minidl.tensor([1.0]), minidl.tensor([1.0], dtype=minidl.float64), 0.5)


def test_copysign_gradient_at_zero_and_negative_zero_like_torch(torch):
    x, y = np.array([0.0, 2.0, -3.0, 1.0]), np.array([-1.0, -0.0, 2.0, 0.0])
    results = []
    for lib in (minidl, torch):
        a = lib.tensor(x, requires_grad=True)
        out = lib.copysign(a, lib.tensor(y))
        (out * lib.tensor([1.0, 2.0, 3.0, 4.0], dtype=lib.float64)).sum().backward()
        results.append((out.detach().numpy(), a.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(np.signbit(a), np.signbit(b))


def test_clamp_keeps_nan_and_integer_dtypes_like_torch(torch):
    values = np.array([np.nan, -2.0, 0.0, 0.5, 1.0, 3.0])
    mine, theirs = _both(torch, values)
    for kwargs in ({"min": 0.0}, {"max": 1.0}, {"min": 0.0, "max": 1.0},
                   {"min": 2.0, "max": 1.0}):
        _assert_same_tensor(mine.clamp(**kwargs), theirs.clamp(**kwargs), str(kwargs))
        _assert_same_tensor(minidl.clip(mine, **kwargs), torch.clip(theirs, **kwargs),
                            "clip " + str(kwargs))
    integers, torch_integers = _both(torch, np.array([1, 5, -3]))
    for bounds in ((2, 3), (2, 3.5), (None, 0)):
        _assert_same_tensor(integers.clamp(*bounds), torch_integers.clamp(*bounds),
                            f"int clamp {bounds}")
    _assert_same_tensor(minidl.clamp_max(integers, 2), torch.clamp_max(torch_integers, 2),
                        "clamp_max")


def test_float32_stays_float32_beside_python_numbers():
    x = minidl.tensor([0.5, 1.5])
    results = [minidl.atan2(x, 2.0), minidl.hypot(x, 3), minidl.fmod(x, 0.7),
               x % 0.3, x // 0.2, minidl.copysign(x, -1.0), minidl.lerp(x, x, 0.5),
               minidl.logaddexp(x, 1.0), minidl.xlogy(x, 2.0), x.clamp_min(0.7),
               minidl.remainder(2.0, x), minidl.nn.functional.softplus(x, beta=2.0)]
    for result in results:
        assert result.dtype == minidl.float32, result


def test_special_namespace_and_erf_aliases(torch):
    values = np.linspace(-3, 3, 7)
    mine, theirs = _both(torch, values)
    for name in ("erf", "erfc", "expit", "expm1", "exp2", "log1p"):
        assert_close(getattr(minidl.special, name)(mine),
                     getattr(torch.special, name)(theirs), name=name)
    inside = np.array([-0.999999, -0.4, 1e-8, 0.6, 1 - 1e-12])
    assert_close(minidl.special.erfinv(minidl.tensor(inside)),
                 torch.special.erfinv(torch.tensor(inside)), rtol=1e-13,
                 name="erfinv")
    assert minidl.erf is minidl.special.erf is minidl.nn.functional.erf
