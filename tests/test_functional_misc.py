"""minidl.nn.functional: linear, relu, gelu, erf, dropout and the wrappers
softmax, log_softmax, sigmoid, tanh, pad (PyTorch parity, derivatives,
float32 behaviour, edge cases, bad inputs)."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minidl
import minidl.nn.functional as F
from minidl.autograd import gradcheck, gradgradcheck
from conftest import assert_close, assert_matches_torch

small_shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)


def _tensor(array, requires_grad=False):
    return minidl.tensor(array, requires_grad=requires_grad)


def _compare_with_torch(torch, function, torch_function, arrays, rtol=1e-10,
                        atol=1e-12):
    """conftest.assert_matches_torch with this file's default bounds."""
    assert_matches_torch(torch, function, torch_function, arrays, rtol, atol)


# -- linear ----------------------------------------------------------------------

@given(leading=st.lists(st.integers(1, 3), max_size=2).map(tuple),
       in_features=st.integers(1, 4), out_features=st.integers(1, 3),
       with_bias=st.booleans(), seed=st.integers(0, 2**16))
def test_linear_matches_torch_with_gradcheck(torch, leading, in_features,
                                             out_features, with_bias, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(leading + (in_features,)),
              rng.standard_normal((out_features, in_features))]
    if with_bias:
        arrays.append(rng.standard_normal(out_features))
    _compare_with_torch(torch, F.linear, torch.nn.functional.linear, arrays)
    inputs = [_tensor(a, True) for a in arrays]
    assert gradcheck(F.linear, inputs)
    assert gradgradcheck(F.linear, inputs)


def test_linear_float32_and_bad_shapes():
    x, w, b = minidl.randn(5, 4), minidl.randn(3, 4), minidl.randn(3)
    assert F.linear(x, w, b).dtype == np.float32
    with pytest.raises(ValueError, match=r"linear: input of shape \(5, 4\) does "
                                         r"not fit weight of shape \(3, 2\)"):
        F.linear(x, minidl.randn(3, 2))
    with pytest.raises(ValueError, match=r"linear: bias of shape \(2,\) for "
                                         r"weight of shape \(3, 4\)"):
        F.linear(x, w, minidl.randn(2))


# -- relu -------------------------------------------------------------------------

def _away_from_zero(rng, shape):
    """Values with |x| >= 0.1, where relu is smooth enough for finite
    differences."""
    values = rng.standard_normal(shape)
    return np.where(np.abs(values) < 0.1, 0.5, values)


@given(shape=small_shapes, seed=st.integers(0, 2**16))
def test_relu_matches_torch_with_gradcheck(torch, shape, seed):
    x = _away_from_zero(np.random.default_rng(seed), shape)
    _compare_with_torch(torch, F.relu, torch.nn.functional.relu, [x])
    assert gradcheck(F.relu, [_tensor(x, True)])
    assert gradgradcheck(F.relu, [_tensor(x, True)])


def test_relu_gradient_at_zero_is_zero_and_inplace_works():
    x = _tensor(np.array([-1.0, 0.0, 2.0]), True)
    F.relu(x).sum().backward()
    assert_close(x.grad, [0.0, 0.0, 1.0])
    y = minidl.tensor([-1.0, 3.0])
    assert F.relu(y, inplace=True) is y
    assert_close(y, [0.0, 3.0])
    assert F.relu(minidl.randn(3)).dtype == np.float32


# -- erf and gelu -------------------------------------------------------------------

def test_erf_is_accurate_against_math_erf():
    values = np.concatenate([np.linspace(-7, 7, 20001),
                             [1e-300, -1e-10, 1.999999999, 2.0, 2.000000001,
                              5.9, 6.0, 30.0, -30.0]])
    ours = F.erf(_tensor(values)).numpy()
    reference = np.array([math.erf(v) for v in values])
    relative = np.abs(ours - reference) / np.maximum(np.abs(reference), 1e-300)
    assert relative.max() < 1e-13, "worst at x = {}".format(
        values[np.argmax(relative)])
    specials = F.erf(_tensor(np.array([np.inf, -np.inf, np.nan]))).numpy()
    assert specials[0] == 1.0 and specials[1] == -1.0 and np.isnan(specials[2])
    as_float32 = F.erf(_tensor(values.astype(np.float32)))
    assert as_float32.dtype == np.float32
    assert_close(as_float32, reference.astype(np.float32), rtol=1e-6, atol=1e-7)


@given(shape=small_shapes, seed=st.integers(0, 2**16))
def test_erf_gradcheck(shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape) * 2
    assert gradcheck(F.erf, [_tensor(x, True)])
    assert gradgradcheck(F.erf, [_tensor(x, True)])


@given(shape=small_shapes, approximate=st.sampled_from(["none", "tanh"]),
       seed=st.integers(0, 2**16))
def test_gelu_matches_torch_with_gradcheck(torch, shape, approximate, seed):
    x = np.random.default_rng(seed).standard_normal(shape) * 3

    def function(x):
        return F.gelu(x, approximate=approximate)

    def torch_function(x):
        return torch.nn.functional.gelu(x, approximate=approximate)

    _compare_with_torch(torch, function, torch_function, [x], rtol=1e-12,
                        atol=1e-14)
    assert gradcheck(function, [_tensor(x, True)])
    assert gradgradcheck(function, [_tensor(x, True)])


def test_gelu_float32_and_bad_option(torch):
    x = np.linspace(-8, 8, 101).astype(np.float32)
    for approximate in ("none", "tanh"):
        y = F.gelu(_tensor(x), approximate=approximate)
        assert y.dtype == np.float32
        ty = torch.nn.functional.gelu(torch.tensor(x), approximate=approximate)
        assert_close(y, ty, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match=r"gelu: approximate must be 'none' or "
                                         r"'tanh', got 'exact'"):
        F.gelu(_tensor(x), approximate="exact")


# -- dropout -------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_preserves_the_mean_and_scales_what_it_keeps(p):
    x = minidl.ones(200, 500) * 3.0
    y = F.dropout(x, p=p).numpy()
    assert y.dtype == np.float32
    kept = y != 0
    # 100,000 Bernoulli draws: the kept fraction is within 5 standard
    # deviations of 1 - p, and kept elements are exactly 3 / (1 - p).
    std = math.sqrt(p * (1 - p) / kept.size)
    assert abs(kept.mean() - (1 - p)) < 5 * std
    assert_close(y[kept], np.full(kept.sum(), 3 / (1 - p), np.float32),
                 rtol=1e-6)
    assert abs(y.mean() - 3.0) < 5 * 3 / (1 - p) * std


def test_dropout_backward_uses_the_same_mask():
    x = minidl.randn(50, 40, requires_grad=True)
    y = F.dropout(x, p=0.3)
    y.sum().backward()
    mask = (y.numpy() != 0) | (x.detach().numpy() == 0)
    assert_close(x.grad, mask / np.float32(0.7), rtol=1e-6)
    assert x.grad.dtype == np.float32


def test_dropout_gradcheck_with_a_fixed_seed():
    x = _tensor(np.random.default_rng(0).standard_normal((3, 4)), True)

    def function(x):
        minidl.manual_seed(123)  # the same mask on every call
        return F.dropout(x, p=0.4)

    assert gradcheck(function, [x])
    assert gradgradcheck(function, [x])


def test_dropout_edge_cases():
    x = minidl.randn(4, 5, requires_grad=True)
    assert F.dropout(x, p=0.5, training=False) is x
    assert F.dropout(x, p=0.0) is x
    y = F.dropout(x, p=1.0)
    assert np.array_equal(y.numpy(), np.zeros((4, 5), np.float32))
    y.sum().backward()
    assert np.array_equal(x.grad.numpy(), np.zeros((4, 5), np.float32))
    minidl.manual_seed(7)
    first = F.dropout(minidl.ones(100), p=0.5).numpy()
    minidl.manual_seed(7)
    assert np.array_equal(F.dropout(minidl.ones(100), p=0.5).numpy(), first)
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"dropout: probability has to be "
                                             r"between 0 and 1"):
            F.dropout(x, p=p)


# -- the re-exported ops, with PyTorch's signatures -------------------------------------

@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple),
       seed=st.integers(0, 2**16), data=st.data())
def test_softmax_family_sigmoid_tanh_match_torch(torch, shape, seed, data):
    x = np.random.default_rng(seed).standard_normal(shape)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    tf = torch.nn.functional
    cases = [(lambda v: F.softmax(v, dim=dim), lambda v: tf.softmax(v, dim=dim)),
             (lambda v: F.log_softmax(input=v, dim=dim),
              lambda v: tf.log_softmax(v, dim=dim)),
             (F.sigmoid, torch.sigmoid), (F.tanh, torch.tanh)]
    for function, torch_function in cases:
        _compare_with_torch(torch, function, torch_function, [x])
        assert gradgradcheck(function, [_tensor(x, True)])


def test_pad_matches_torch(torch):
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    _compare_with_torch(torch, lambda v: F.pad(v, (1, 2, 0, 1), value=0.5),
                        lambda v: torch.nn.functional.pad(v, (1, 2, 0, 1),
                                                          value=0.5), [x])
    assert F.pad(minidl.randn(2, 3), (1, 1)).dtype == np.float32


def test_softmax_dtype_argument():
    y = F.softmax(minidl.randn(2, 3), dim=1, dtype=minidl.float64)
    assert y.dtype == np.float64
