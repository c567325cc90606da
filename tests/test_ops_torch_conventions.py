"""Where minidl once differed from PyTorch: dtypes of maximum/minimum,
PyTorch's indexing rule for integers mixed with arrays, pow at base 0,
sign's gradient, reductions of 0-d tensors, integer negative powers.
"""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
from conftest import assert_close


def _both(torch, values, dtype="float64", grad=True):
    mine = minidl.tensor(np.asarray(values, dtype=dtype), requires_grad=grad)
    theirs = torch.tensor(np.asarray(values, dtype=dtype), requires_grad=grad)
    return mine, theirs


# -- maximum / minimum keep the dtype --------------------------------------------------
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_of_bool_and_int_keep_dtype_and_value(torch, name):
    cases = [([True, False, False], True, "bool"),
             ([2147483647, -5, 3], 2147483647, "int32"),
             ([1, 2, 3], 2, "int64"), ([0, 255, 7], 7, "uint8")]
    for x, y, dtype in cases:
        mine = getattr(minidl, name)(minidl.tensor(np.array(x, dtype)),
                                     minidl.tensor(np.array(y, dtype)))
        theirs = getattr(torch, name)(torch.tensor(np.array(x, dtype)),
                                      torch.tensor(np.array(y, dtype)))
        assert mine.dtype == np.dtype(dtype), (name, dtype, mine.dtype)
        assert mine.tolist() == theirs.tolist(), (name, dtype)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_ties_and_nans_share_the_gradient_like_torch(torch, name):
    x = [1.0, 2.0, 2.0, np.nan, 0.5]
    y = [0.0, 2.0, 3.0, 1.0, np.nan]
    weights = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    results = []
    for lib, (a, b) in ((minidl, (minidl.tensor(x, dtype=minidl.float64, requires_grad=True),
                                  minidl.tensor(y, dtype=minidl.float64, requires_grad=True))),
                        (torch, (torch.tensor(x, dtype=torch.float64, requires_grad=True),
                                 torch.tensor(y, dtype=torch.float64, requires_grad=True)))):
        out = getattr(lib, name)(a, b)
        (out * lib.tensor(weights)).sum().backward()
        results.append((out, a.grad, b.grad))
    for mine, theirs in zip(*results):
        assert_close(mine, theirs, name=name)


# -- indexing: PyTorch's rule for integers beside arrays --------------------------------
def test_an_integer_and_an_array_apart_index_as_in_torch(torch):
    x = np.arange(24.0).reshape(2, 3, 4)
    idx = np.array([0, 2])
    mine = minidl.tensor(x)[1, :, minidl.tensor(idx)]
    theirs = torch.tensor(x)[1, :, torch.tensor(idx)]
    assert mine.shape == (3, 2) == tuple(theirs.shape)
    assert_close(mine, theirs)


@st.composite
def mixed_indices(draw):
    """A shape and an index over it mixing ints, 0-d integer tensors,
    slices, None, Ellipsis, integer arrays (1-d or 2-d) and 1-d masks."""
    shape = draw(st.lists(st.integers(1, 3), min_size=1, max_size=4))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    index, dim, used_ellipsis = [], 0, False
    array_shape = draw(st.sampled_from([(2,), (1,), (2, 2)]))
    while dim < len(shape):
        kind = draw(st.sampled_from(["int", "int0d", "slice", "array", "mask",
                                     "none", "ellipsis", "stop"]))
        side = shape[dim]
        if kind == "stop":
            break
        if kind == "int":
            index.append(int(rng.integers(-side, side)))
        elif kind == "int0d":
            index.append(("int0d", int(rng.integers(0, side))))
        elif kind == "slice":
            start = draw(st.integers(0, side))
            index.append(slice(start, None, draw(st.sampled_from([None, 2]))))
        elif kind == "array":
            index.append(("array", rng.integers(-side, side, array_shape)))
        elif kind == "mask":
            index.append(("mask", rng.random(side) < 0.5))
        elif kind == "none":
            index.append(None)
            continue
        elif not used_ellipsis:
            index.append(Ellipsis)
            used_ellipsis = True
            dim = len(shape) - (len(shape) - dim) // 2  # leave some dims after
            continue
        else:
            continue
        dim += 1
    return tuple(shape), index


def _build_index(lib, index):
    built = []
    for item in index:
        if isinstance(item, tuple):
            kind, value = item
            built.append(lib.tensor(value))
        else:
            built.append(item)
    return tuple(built)


def _torch_result(torch, x, index):
    try:
        return torch.tensor(x)[_build_index(torch, index)]
    except (IndexError, RuntimeError):
        return None  # e.g. mask and array lengths that do not broadcast


@settings(max_examples=60)
@given(case=mixed_indices())
def test_getitem_with_mixed_index_kinds_matches_torch(torch, case):
    shape, index = case
    x = np.random.default_rng(0).standard_normal(shape)
    theirs = _torch_result(torch, x, index)
    if theirs is None:
        with pytest.raises((IndexError, ValueError)):
            minidl.tensor(x)[_build_index(minidl, index)]
        return
    x_mine = minidl.tensor(x, requires_grad=True)
    mine = x_mine[_build_index(minidl, index)]
    assert mine.shape == tuple(theirs.shape), index
    assert_close(mine, theirs, name=str(index))
    # The gradient adds the weights back where the elements came from.
    weights = np.random.default_rng(1).standard_normal(mine.shape)
    (mine * minidl.tensor(weights)).sum().backward()
    x_theirs = torch.tensor(x, requires_grad=True)
    (x_theirs[_build_index(torch, index)] * torch.tensor(weights)).sum().backward()
    assert_close(x_mine.grad, x_theirs.grad, name=str(index))


@settings(max_examples=60)
@given(case=mixed_indices())
def test_setitem_with_mixed_index_kinds_matches_torch(torch, case):
    shape, index = case
    x = np.random.default_rng(0).standard_normal(shape)
    picked = _torch_result(torch, x, index)
    if picked is None:
        return
    # Distinct positions only: with repeats, which write wins is unspecified.
    positions = torch.arange(int(np.prod(shape))).reshape(shape)
    chosen = positions[_build_index(torch, index)].reshape(-1)
    if len(set(chosen.tolist())) != chosen.numel():
        return
    values = np.random.default_rng(2).standard_normal(tuple(picked.shape))
    theirs = torch.tensor(x)
    theirs[_build_index(torch, index)] = torch.tensor(values)
    x_mine = minidl.tensor(x, requires_grad=True)
    v_mine = minidl.tensor(values, requires_grad=True)
    mine = x_mine.clone()
    mine[_build_index(minidl, index)] = v_mine
    assert_close(mine, theirs, name=str(index))
    mine.sum().backward()
    assert_close(v_mine.grad, np.ones(values.shape))
    assert x_mine.grad.sum().item() == x.size - values.size


# -- pow at base 0 ------------------------------------------------------------------------
POW_POINTS = [(0.0, 0.0), (0.0, -1.0), (0.0, 2.0), (0.0, 0.5), (0.0, -0.5),
              (-1.0, 2.0), (2.0, 0.0), (-2.0, 0.0), (1.5, -2.0)]


@pytest.mark.parametrize("base,exponent", POW_POINTS)
def test_pow_gradients_at_base_zero_are_torch_s(torch, base, exponent):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for tensor_exponent in (True, False):
            results = []
            for lib in (minidl, torch):
                x = lib.tensor(base, dtype=lib.float64, requires_grad=True)
                y = lib.tensor(exponent, dtype=lib.float64, requires_grad=True) \
                    if tensor_exponent else exponent
                (x ** y).backward()
                results.append((x.grad.item(), y.grad.item() if tensor_exponent
                                else 0.0))
            np.testing.assert_equal(results[0], results[1],
                                    err_msg=f"{base} ** {exponent}")


def test_integer_tensors_to_negative_powers_as_torch(torch):
    with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
        minidl.tensor([2, 3]) ** -1
    with pytest.raises(RuntimeError):
        torch.tensor([2, 3]) ** -1
    base, exponent = [0, 0, 5, -2, 1, -1, -1, 3], [-1, 0, -3, -2, -5, -3, -2, 2]
    mine = minidl.tensor(base) ** minidl.tensor(exponent)
    theirs = torch.tensor(base) ** torch.tensor(exponent)
    assert mine.tolist() == theirs.tolist() and mine.dtype == np.int64


# -- sign ---------------------------------------------------------------------------------
def test_sign_has_a_zero_gradient_like_torch(torch):
    mine, theirs = _both(torch, [-2.0, 0.0, 3.0])
    out_mine, out_theirs = minidl.sign(mine), torch.sign(theirs)
    assert out_mine.requires_grad and out_theirs.requires_grad
    (out_mine * 3).sum().backward()
    (out_theirs * 3).sum().backward()
    assert_close(out_mine, out_theirs.detach())
    assert_close(mine.grad, theirs.grad)
    assert_close(mine.sign(), theirs.detach().sign())


# -- reductions of a 0-d tensor ----------------------------------------------------------
ZERO_D_REDUCTIONS = {
    "sum": lambda lib, x, d: x.sum(d), "sum_keepdim": lambda lib, x, d: x.sum(d, keepdim=True),
    "sum_tuple": lambda lib, x, d: x.sum((d,)), "mean": lambda lib, x, d: x.mean(d),
    "amax": lambda lib, x, d: x.amax(d), "amin": lambda lib, x, d: lib.amin(x, d),
    "max": lambda lib, x, d: x.max(d)[0], "logsumexp": lambda lib, x, d: lib.logsumexp(x, d),
    "softmax": lambda lib, x, d: lib.softmax(x * 2, d) * x,
    "log_softmax": lambda lib, x, d: x.log_softmax(d) + x,
}


@pytest.mark.parametrize("name", sorted(ZERO_D_REDUCTIONS))
@pytest.mark.parametrize("dim", [0, -1])
def test_reductions_over_dim_0_of_a_0d_tensor_are_torch_s(torch, name, dim):
    fn = ZERO_D_REDUCTIONS[name]
    mine, theirs = _both(torch, 1.5)
    out_mine, out_theirs = fn(minidl, mine, dim), fn(torch, theirs, dim)
    assert out_mine.shape == tuple(out_theirs.shape) == ()
    assert_close(out_mine, out_theirs.detach(), name=name)
    g_mine, = minidl.autograd.grad([out_mine], [mine], create_graph=True)
    g_theirs, = torch.autograd.grad([out_theirs], [theirs], create_graph=True)
    assert_close(g_mine, g_theirs.detach(), name=name)
