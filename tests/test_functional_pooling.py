"""minidl.nn.functional max_pool2d, avg_pool2d, adaptive_avg_pool2d: PyTorch
parity (values, indices, gradients), gradient checks to second order, ties
and NaN, the max-pool kernels, float32 behaviour and bad inputs."""
import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import minidl
import minidl.nn.functional as F
from minidl import kernels
from minidl.autograd import gradcheck, gradgradcheck
from conftest import assert_close, assert_value_error

MANY = settings(max_examples=4 * settings().max_examples)


@st.composite
def pool_configs(draw, dilation=True, max_kernel=3, max_extra=4, max_batch=2,
                 max_channels=2):
    """A pooling window and an input it fits (PyTorch's rules)."""
    kernel = (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilations = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation \
        else (1, 1)
    size = tuple(max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, max_extra))
                 for k, d, p in zip(kernel, dilations, padding))
    return dict(shape=(draw(st.integers(1, max_batch)),
                       draw(st.integers(1, max_channels))) + size,
                kernel_size=kernel, stride=draw(st.sampled_from([None, stride])),
                padding=padding, dilation=dilations,
                ceil_mode=draw(st.booleans()))


def _has_window_of_padding_only(config):
    """True when some window (possible with dilation) reads no input."""
    from minidl.nn.functional._window import pool_output_size
    stride = config["stride"] or config["kernel_size"]
    sizes = config["shape"][2:]
    outputs = pool_output_size(sizes, config["kernel_size"], stride,
                               config["padding"], config["dilation"],
                               config["ceil_mode"])
    for size, k, s, p, d, out in zip(sizes, config["kernel_size"], stride,
                                     config["padding"], config["dilation"],
                                     outputs):
        for o in range(out):
            if not any(0 <= o * s - p + i * d < size for i in range(k)):
                return True
    return False


def _distinct_values(shape, rng):
    """Values without ties or near-ties (so max pooling's choice is stable
    under the small steps of a numerical gradient)."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 1.0


def _compare(torch, ours, theirs, x, seed, rtol=1e-10):
    mx = minidl.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    y, ty = ours(mx), theirs(tx)
    assert_close(y, ty, rtol=rtol, atol=1e-12, name="output")
    grad = np.random.default_rng(seed).standard_normal(ty.shape)
    y.backward(minidl.tensor(grad))
    ty.backward(torch.tensor(grad))
    assert_close(mx.grad, tx.grad, rtol=rtol, atol=1e-12, name="grad input")
    return y, ty


# -- max_pool2d ---------------------------------------------------------------

@MANY
@given(config=pool_configs(), seed=st.integers(0, 2**16))
def test_max_pool2d_matches_torch(torch, config, seed):
    x = np.random.default_rng(seed).standard_normal(config.pop("shape"))
    y, indices = F.max_pool2d(minidl.tensor(x), return_indices=True, **config)
    ty, t_indices = torch.nn.functional.max_pool2d(
        torch.tensor(x), return_indices=True, **config)
    assert_close(y, ty, rtol=0, atol=0, name="output")
    assert indices.dtype == np.int64
    real = np.isfinite(y.numpy())
    if not real.all():
        # A window that holds only padding (possible with dilation) is -inf;
        # PyTorch then points its index (and gradient) at an unrelated
        # element, where minidl sends the gradient nowhere.
        np.testing.assert_array_equal(indices.numpy()[real],
                                      t_indices.numpy()[real])
        return
    np.testing.assert_array_equal(indices.numpy(), t_indices.numpy())
    _compare(torch, lambda t: F.max_pool2d(t, **config),
             lambda t: torch.nn.functional.max_pool2d(t, **config), x, seed + 1)


def test_pool_output_sizes_and_refusals_match_torch_exhaustively(torch):
    """Every small (size, kernel, stride, padding, dilation, ceil_mode): the
    same output size as PyTorch, or an error where PyTorch raises one."""
    for size, k, s, p, d, ceil_mode in itertools.product(
            range(1, 8), range(1, 4), range(1, 4), range(3), (1, 2),
            (False, True)):
        kwargs = dict(kernel_size=(k, 1), stride=(s, 1), padding=(p, 0),
                      dilation=(d, 1), ceil_mode=ceil_mode)
        x = np.zeros((1, 1, size, 1))
        try:
            expected = torch.nn.functional.max_pool2d(torch.tensor(x), **kwargs)
        except RuntimeError:
            with pytest.raises(ValueError):
                F.max_pool2d(minidl.tensor(x), **kwargs)
            continue
        y = F.max_pool2d(minidl.tensor(x), **kwargs)
        assert y.shape == tuple(expected.shape), kwargs


def test_max_pool2d_ties_go_to_the_first_maximum(torch):
    x = np.ones((1, 2, 5, 5))
    x[0, 1, 1:4, 1:4] = 3.0
    _compare(torch, lambda t: F.max_pool2d(t, 3, 1, 1, ceil_mode=True),
             lambda t: torch.nn.functional.max_pool2d(t, 3, 1, 1, ceil_mode=True),
             x, 0)
    _compare(torch, lambda t: F.max_pool2d(t, 2, 2),
             lambda t: torch.nn.functional.max_pool2d(t, 2, 2), x, 1)


def test_max_pool2d_propagates_nan_as_torch(torch):
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan
    y, indices = F.max_pool2d(minidl.tensor(x), 2, return_indices=True)
    ty, t_indices = torch.nn.functional.max_pool2d(torch.tensor(x), 2,
                                                   return_indices=True)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())  # NaN == NaN here
    np.testing.assert_array_equal(indices.numpy(), t_indices.numpy())


@given(config=pool_configs(max_kernel=2, max_extra=2), seed=st.integers(0, 2**16))
def test_max_pool2d_gradcheck_and_gradgradcheck(config, seed):
    assume(not _has_window_of_padding_only(config))  # -inf: no derivative
    x = minidl.tensor(_distinct_values(config.pop("shape"),
                                       np.random.default_rng(seed)),
                      requires_grad=True)

    def fn(t):
        return F.max_pool2d(t, **config)
    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])


@pytest.mark.cpu_only  # the NumPy kernels, on NumPy arrays
def test_max_pool2d_kernels_are_registered_and_agree():
    rng = np.random.default_rng(0)
    x = _distinct_values((2, 3, 7, 6), rng)
    forward = kernels.get("max_pool2d_forward", np)
    backward = kernels.get("max_pool2d_backward", np)
    values, taps = forward(x, (3, 2), (2, 1), (1, 1), (1, 2), (4, 4))
    assert values.shape == taps.shape == (2, 3, 4, 4)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 2), (1, 2)), constant_values=-np.inf)
    for oh in range(4):
        for ow in range(4):
            window = padded[:, :, 2 * oh:2 * oh + 3, ow:ow + 3:2].reshape(2, 3, -1)
            np.testing.assert_array_equal(values[:, :, oh, ow], window.max(-1))
            np.testing.assert_array_equal(taps[:, :, oh, ow], window.argmax(-1))
    g = rng.standard_normal(values.shape)
    gx = backward(g, taps, (7, 6), (3, 2), (2, 1), (1, 1), (1, 2))
    # The adjoint of "pick the chosen element": <gather(x'), g> = <x', scatter(g)>.
    x2 = rng.standard_normal(x.shape)
    picked = F.pooling.MaxPool2dGather(F.pooling._Window((3, 2), (2, 1), (1, 1),
                                                         (1, 2)), taps, (7, 6))
    gathered = picked(minidl.tensor(x2)).numpy()
    np.testing.assert_allclose((gathered * g).sum(), (x2 * gx).sum(), rtol=0,
                               atol=1e-12 * np.abs(gathered * g).sum())


# -- avg_pool2d ---------------------------------------------------------------

@MANY
@given(config=pool_configs(dilation=False), count_include_pad=st.booleans(),
       divisor_override=st.sampled_from([None, None, 3]),
       seed=st.integers(0, 2**16))
def test_avg_pool2d_matches_torch(torch, config, count_include_pad,
                                  divisor_override, seed):
    x = np.random.default_rng(seed).standard_normal(config.pop("shape"))
    del config["dilation"]
    kwargs = dict(config, count_include_pad=count_include_pad,
                  divisor_override=divisor_override)
    _compare(torch, lambda t: F.avg_pool2d(t, **kwargs),
             lambda t: torch.nn.functional.avg_pool2d(t, **kwargs), x, seed + 1)


@pytest.mark.parametrize("size, kernel, stride, padding", [
    (6, 3, 2, 0), (6, 3, 2, 1), (5, 2, 2, 1), (7, 3, 3, 1), (4, 4, 3, 2)])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_ceil_mode_windows_past_the_end(torch, size, kernel, stride,
                                                   padding, count_include_pad):
    """With ceil_mode the last window may run past the end padding: PyTorch
    divides by the part up to the end of the padding only."""
    x = np.random.default_rng(size).standard_normal((1, 2, size, size + 1))
    kwargs = dict(kernel_size=kernel, stride=stride, padding=padding,
                  ceil_mode=True, count_include_pad=count_include_pad)
    _compare(torch, lambda t: F.avg_pool2d(t, **kwargs),
             lambda t: torch.nn.functional.avg_pool2d(t, **kwargs), x, 0)


@given(config=pool_configs(dilation=False, max_extra=2),
       count_include_pad=st.booleans(), seed=st.integers(0, 2**16))
def test_avg_pool2d_gradcheck_and_gradgradcheck(config, count_include_pad, seed):
    x = minidl.tensor(np.random.default_rng(seed).standard_normal(
        config.pop("shape")), requires_grad=True)
    del config["dilation"]

    def fn(t):
        return F.avg_pool2d(t, count_include_pad=count_include_pad, **config)
    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])


# -- adaptive_avg_pool2d ------------------------------------------------------

def _adaptive_cases():
    sizes = st.integers(1, 7)
    return st.tuples(st.integers(1, 2), st.integers(1, 2), sizes, sizes,
                     st.one_of(sizes, st.tuples(st.one_of(sizes, st.none()),
                                                sizes)))


@MANY
@given(case=_adaptive_cases(), seed=st.integers(0, 2**16))
def test_adaptive_avg_pool2d_matches_torch(torch, case, seed):
    n, c, h, w, output_size = case
    x = np.random.default_rng(seed).standard_normal((n, c, h, w))
    _compare(torch, lambda t: F.adaptive_avg_pool2d(t, output_size),
             lambda t: torch.nn.functional.adaptive_avg_pool2d(t, output_size),
             x, seed + 1)


@given(case=_adaptive_cases(), seed=st.integers(0, 2**16))
def test_adaptive_avg_pool2d_gradcheck_and_gradgradcheck(case, seed):
    n, c, h, w, output_size = case
    x = minidl.tensor(np.random.default_rng(seed).standard_normal(
        (1, c, min(h, 4), min(w, 4))), requires_grad=True)

    def fn(t):
        return F.adaptive_avg_pool2d(t, output_size)
    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])


def test_adaptive_avg_pool2d_to_one_is_the_mean(torch):
    x = np.random.default_rng(0).standard_normal((3, 4, 5, 6))
    _compare(torch, lambda t: F.adaptive_avg_pool2d(t, 1),
             lambda t: torch.nn.functional.adaptive_avg_pool2d(t, 1), x, 0,
             rtol=1e-12)
    y = F.adaptive_avg_pool2d(minidl.tensor(x), (1, 1))
    assert y.shape == (3, 4, 1, 1)
    np.testing.assert_allclose(y.numpy()[:, :, 0, 0], x.mean(axis=(2, 3)),
                               rtol=0, atol=1e-12 * np.abs(x).mean())


# -- shared: unbatched input, float32, bad inputs -----------------------------

POOLS = {
    "max_pool2d": lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True),
    "avg_pool2d": lambda t: F.avg_pool2d(t, 3, 2, 1, count_include_pad=False),
    "adaptive_avg_pool2d": lambda t: F.adaptive_avg_pool2d(t, (2, 3)),
    "adaptive_avg_pool2d to 1": lambda t: F.adaptive_avg_pool2d(t, 1),
}


@pytest.mark.parametrize("name", sorted(POOLS))
def test_unbatched_input_matches_batched(name):
    x = np.random.default_rng(0).standard_normal((3, 7, 6))
    single = POOLS[name](minidl.tensor(x))
    batch = POOLS[name](minidl.tensor(x[None]))
    assert single.shape == batch.shape[1:]
    np.testing.assert_array_equal(single.numpy(), batch.numpy()[0])


@pytest.mark.parametrize("name", sorted(POOLS))
def test_float32_stays_float32(name):
    x = minidl.tensor(np.random.default_rng(0).standard_normal((2, 3, 7, 6))
                      .astype(np.float32), requires_grad=True)
    y = POOLS[name](x)
    assert y.dtype == np.float32
    gx, = minidl.grad([(y * y).sum()], [x], create_graph=True)
    assert gx.dtype == np.float32
    (gx * gx).sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
def test_pool_bad_inputs(op):
    pool = getattr(F, op)
    x = minidl.zeros(2, 3, 5, 5)
    assert_value_error(lambda: pool(minidl.zeros(5, 5), 2), op, "(5, 5)")
    assert_value_error(lambda: pool(x, 3, padding=2), op, "padding (2, 2)", "(3, 3)")
    assert_value_error(lambda: pool(x, 7), op, "(2, 3, 5, 5)", "(7, 7)", "too small")
    assert_value_error(lambda: pool(x, 0), op, "kernel_size")
    assert_value_error(lambda: pool(x, 2, stride=0), op, "stride")
    assert_value_error(lambda: pool(x, (1, 2, 3)), op, "kernel_size")


def test_adaptive_avg_pool2d_bad_inputs():
    op = "adaptive_avg_pool2d"
    assert_value_error(lambda: F.adaptive_avg_pool2d(minidl.zeros(5, 5), 2), op, "(5, 5)")
    assert_value_error(lambda: F.adaptive_avg_pool2d(minidl.zeros(1, 2, 5, 5), 0), op,
            "output_size")
