"""minidl.nn.functional.batch_norm: PyTorch parity, running statistics,
first and second derivatives in training and eval mode, the fused kernels,
float32 behaviour and bad inputs."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minidl
import minidl.nn.functional as F
from minidl import kernels
from minidl.autograd import gradcheck, gradgradcheck
from conftest import assert_close


def _input_shapes(max_channels=3, max_size=3, min_batch=2, max_batch=3):
    """(N, C), (N, C, L) or (N, C, H, W)."""
    return st.tuples(
        st.integers(min_batch, max_batch), st.integers(1, max_channels),
        st.lists(st.integers(1, max_size), min_size=0, max_size=2),
    ).map(lambda t: (t[0], t[1]) + tuple(t[2]))


def _tensor(array, requires_grad=False):
    return minidl.tensor(array, requires_grad=requires_grad)


def _arrays(rng, shape, dtype=np.float64):
    """x, weight, bias, running_mean, running_var for an input shape."""
    channels = shape[1]
    x = rng.standard_normal(shape) * 2 + 0.5
    weight = rng.standard_normal(channels)
    bias = rng.standard_normal(channels)
    running_mean = rng.standard_normal(channels)
    running_var = rng.random(channels) + 0.5
    return [a.astype(dtype) for a in (x, weight, bias, running_mean,
                                      running_var)]


# -- PyTorch parity --------------------------------------------------------------

@given(shape=_input_shapes(max_channels=4, max_size=5, max_batch=10),
       training=st.booleans(), affine=st.booleans(),
       momentum=st.sampled_from([0.1, 0.5, 1.0]),
       eps=st.sampled_from([1e-5, 1e-3]), seed=st.integers(0, 2**16))
def test_batch_norm_matches_torch(torch, shape, training, affine, momentum, eps,
                                  seed):
    rng = np.random.default_rng(seed)
    x, w, b, rm, rv = _arrays(rng, shape)
    grad = rng.standard_normal(shape)

    mx = _tensor(x, True)
    mw, mb = (_tensor(w, True), _tensor(b, True)) if affine else (None, None)
    mrm, mrv = _tensor(rm), _tensor(rv)
    y = F.batch_norm(mx, mrm, mrv, mw, mb, training=training,
                     momentum=momentum, eps=eps)
    y.backward(_tensor(grad))

    tx = torch.tensor(x, requires_grad=True)
    tw, tb = (torch.tensor(w, requires_grad=True),
              torch.tensor(b, requires_grad=True)) if affine else (None, None)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=training,
                                        momentum=momentum, eps=eps)
    ty.backward(torch.tensor(grad))

    assert_close(y, ty, rtol=1e-10, atol=1e-10, name="output")
    assert_close(mx.grad, tx.grad, rtol=1e-8, atol=1e-10, name="grad input")
    if affine:
        assert_close(mw.grad, tw.grad, rtol=1e-8, atol=1e-10, name="grad weight")
        assert_close(mb.grad, tb.grad, rtol=1e-8, atol=1e-10, name="grad bias")
    assert_close(mrm, trm, rtol=1e-12, atol=1e-12, name="running_mean")
    assert_close(mrv, trv, rtol=1e-12, atol=1e-12, name="running_var")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_running_stats_follow_torch_over_several_steps(torch, dtype):
    rng = np.random.default_rng(1)
    channels = 3
    mrm = minidl.zeros(channels, dtype=dtype)
    mrv = minidl.ones(channels, dtype=dtype)
    trm = torch.zeros(channels, dtype=getattr(torch, dtype))
    trv = torch.ones(channels, dtype=getattr(torch, dtype))
    weight = rng.standard_normal(channels).astype(dtype)
    bias = rng.standard_normal(channels).astype(dtype)
    tolerance = 1e-6 if dtype == "float32" else 1e-13
    for step in range(5):
        x = (rng.standard_normal((4, channels, 3, 2)) * (step + 1)
             + step).astype(dtype)
        y = F.batch_norm(_tensor(x), mrm, mrv, _tensor(weight), _tensor(bias),
                         training=True, momentum=0.2)
        ty = torch.nn.functional.batch_norm(
            torch.tensor(x), trm, trv, torch.tensor(weight), torch.tensor(bias),
            training=True, momentum=0.2)
        assert y.dtype == np.dtype(dtype) and mrm.dtype == np.dtype(dtype)
        assert_close(y, ty, rtol=tolerance * 10, atol=tolerance * 10,
                     name="output, step {}".format(step))
        assert_close(mrm, trm, rtol=tolerance, atol=tolerance,
                     name="running_mean, step {}".format(step))
        assert_close(mrv, trv, rtol=tolerance, atol=tolerance,
                     name="running_var, step {}".format(step))
    # Eval mode then uses (and leaves alone) the running statistics.
    before = mrm.numpy().copy(), mrv.numpy().copy()
    x = rng.standard_normal((2, channels, 3, 2)).astype(dtype)
    y = F.batch_norm(_tensor(x), mrm, mrv, _tensor(weight), _tensor(bias))
    ty = torch.nn.functional.batch_norm(torch.tensor(x), trm, trv,
                                        torch.tensor(weight), torch.tensor(bias))
    assert_close(y, ty, rtol=tolerance * 10, atol=tolerance * 10, name="eval")
    assert np.array_equal(mrm.numpy(), before[0])
    assert np.array_equal(mrv.numpy(), before[1])


def test_running_stats_may_be_none_in_training(torch):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 2, 4))
    y = F.batch_norm(_tensor(x), None, None, training=True)
    ty = torch.nn.functional.batch_norm(torch.tensor(x), None, None,
                                        training=True)
    assert_close(y, ty, rtol=1e-10, atol=1e-12)


def test_running_stat_update_bumps_version():
    running_mean, running_var = minidl.zeros(2), minidl.ones(2)
    F.batch_norm(minidl.randn(4, 2), running_mean, running_var, training=True)
    assert running_mean._version == 1 and running_var._version == 1


# -- derivatives -------------------------------------------------------------------

@given(shape=_input_shapes(max_channels=2, max_size=2), training=st.booleans(),
       seed=st.integers(0, 2**16))
def test_batch_norm_gradcheck_and_gradgradcheck(shape, training, seed):
    rng = np.random.default_rng(seed)
    x, w, b, rm, rv = _arrays(rng, shape)
    inputs = [_tensor(x, True), _tensor(w, True), _tensor(b, True)]

    def function(x, weight, bias):
        # Fresh running stats per call: training mode updates them.
        return F.batch_norm(x, _tensor(rm), _tensor(rv), weight, bias,
                            training=training, eps=1e-3)

    assert gradcheck(function, inputs)
    assert gradgradcheck(function, inputs)


@pytest.mark.parametrize("training", [True, False])
def test_second_derivatives_match_torch(torch, training):
    """d/d(x, w) of |dL/dx|^2 with L = <y, g>: wrong if 1/std is a constant."""
    rng = np.random.default_rng(3)
    x, w, b, rm, rv = _arrays(rng, (3, 2, 2, 2))
    g = rng.standard_normal(x.shape)

    mx, mw, mb = _tensor(x, True), _tensor(w, True), _tensor(b, True)
    y = F.batch_norm(mx, _tensor(rm), _tensor(rv), mw, mb, training=training)
    gx, gw = minidl.grad([y], [mx, mw], [_tensor(g)], create_graph=True)
    ((gx * gx).sum() + (gw * gw).sum()).backward()

    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.batch_norm(tx, torch.tensor(rm), torch.tensor(rv),
                                        tw, tb, training=training)
    tgx, tgw = torch.autograd.grad([ty], [tx, tw], [torch.tensor(g)],
                                   create_graph=True)
    ((tgx * tgx).sum() + (tgw * tgw).sum()).backward()

    assert_close(gx, tgx, rtol=1e-9, atol=1e-11, name="first derivative")
    assert_close(mx.grad, tx.grad, rtol=1e-8, atol=1e-10, name="d2/dx")
    assert_close(mw.grad, tw.grad, rtol=1e-8, atol=1e-10, name="d2/dweight")


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_third_order_gradcheck(training):
    """BatchNormBackward's own backward (the second derivative) is
    differentiable again: a gradcheck of a function of the second
    derivatives, in x, weight and the output gradient."""
    rng = np.random.default_rng(6)
    x, w, b, rm, rv = _arrays(rng, (3, 2, 2))
    g = rng.standard_normal(x.shape)
    inputs = [_tensor(x, True), _tensor(w, True), _tensor(g, True)]

    def second(x, weight, g):
        y = F.batch_norm(x, _tensor(rm), _tensor(rv), weight, _tensor(b),
                         training=training, eps=1e-3)
        gx, gw = minidl.grad([y], [x, weight], [g], create_graph=True)
        ggx, ggw, ggg = minidl.grad([(gx * gx).sum() + (gw * gw).sum()],
                                    [x, weight, g], create_graph=True)
        return (ggx * ggx).sum() + (ggw * ggw).sum() + (ggg * ggg).sum()

    assert gradcheck(second, inputs)


def test_eval_mode_backward_treats_statistics_as_constants(torch):
    """In eval mode dx = gy * weight / sqrt(running_var + eps) exactly."""
    rng = np.random.default_rng(5)
    x, w, b, rm, rv = _arrays(rng, (2, 3, 2))
    mx = _tensor(x, True)
    F.batch_norm(mx, _tensor(rm), _tensor(rv), _tensor(w), _tensor(b)).sum() \
        .backward()
    expected = np.broadcast_to((w / np.sqrt(rv + 1e-5))[None, :, None], x.shape)
    assert_close(mx.grad, expected, rtol=1e-12, atol=1e-14)


# -- float32 ----------------------------------------------------------------------

@pytest.mark.parametrize("training", [True, False])
def test_float32_stays_float32_and_matches_torch(torch, training):
    rng = np.random.default_rng(6)
    x, w, b, rm, rv = _arrays(rng, (8, 4, 6, 6), dtype=np.float32)
    grad = rng.standard_normal(x.shape).astype(np.float32)
    mx, mw, mb = _tensor(x, True), _tensor(w, True), _tensor(b, True)
    mrm, mrv = _tensor(rm), _tensor(rv)
    y = F.batch_norm(mx, mrm, mrv, mw, mb, training=training)
    y.backward(_tensor(grad))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=training)
    ty.backward(torch.tensor(grad))
    for value in (y, mx.grad, mw.grad, mb.grad, mrm, mrv):
        assert value.dtype == np.float32
    assert_close(y, ty, rtol=1e-5, atol=1e-5, name="output")
    assert_close(mx.grad, tx.grad, rtol=1e-4, atol=1e-5, name="grad input")
    assert_close(mw.grad, tw.grad, rtol=1e-4, atol=1e-4, name="grad weight")
    assert_close(mb.grad, tb.grad, rtol=1e-4, atol=1e-4, name="grad bias")
    assert_close(mrm, trm, rtol=1e-6, atol=1e-6, name="running_mean")
    assert_close(mrv, trv, rtol=1e-6, atol=1e-6, name="running_var")


def test_float32_statistics_are_accurate_when_the_mean_is_large():
    """Centre-then-square, not E[x^2] - mean^2 (which loses every digit of
    the variance in float32 when |mean| / std is 1000)."""
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((16, 2, 8, 8)) + 1000).astype(np.float32)
    running_mean, running_var = minidl.zeros(2), minidl.ones(2)
    y = F.batch_norm(_tensor(x), running_mean, running_var, training=True,
                     momentum=1.0)
    x64 = x.astype(np.float64)
    var = x64.var(axis=(0, 2, 3))
    expected = (x64 - x64.mean(axis=(0, 2, 3), keepdims=True)) \
        / np.sqrt(var[None, :, None, None] + 1e-5)
    assert_close(y, expected, rtol=0, atol=2e-3, name="output")
    unbiased = var * x[:, 0].size / (x[:, 0].size - 1)
    assert_close(running_var, unbiased, rtol=1e-4, atol=0, name="running_var")


# -- the kernels -------------------------------------------------------------------

def test_kernels_are_registered_with_the_documented_signatures():
    rng = np.random.default_rng(8)
    x, w, b, _, _ = _arrays(rng, (3, 2, 4))
    forward = kernels.get("batch_norm_forward", np)
    backward = kernels.get("batch_norm_backward", np)
    y, mean, var, invstd = forward(x, w, b, None, None, 1e-5)
    assert_close(mean, x.mean(axis=(0, 2)), rtol=1e-12, atol=1e-14)
    assert_close(var, x.var(axis=(0, 2)), rtol=1e-12, atol=1e-14)
    assert_close(invstd, 1 / np.sqrt(x.var(axis=(0, 2)) + 1e-5), rtol=1e-12)
    xhat = (x - mean[:, None]) * invstd[:, None]
    assert_close(y, xhat * w[:, None] + b[:, None], rtol=1e-12, atol=1e-14)
    g = rng.standard_normal(x.shape)
    g_copy, x_copy = g.copy(), x.copy()
    gx, gw, gb = backward(g, x, w, mean, invstd, False)
    assert np.array_equal(g, g_copy) and np.array_equal(x, x_copy)
    assert_close(gx, g * (w * invstd)[:, None], rtol=1e-12, atol=1e-14)
    assert_close(gw, (g * xhat).sum(axis=(0, 2)), rtol=1e-12, atol=1e-14)
    assert_close(gb, g.sum(axis=(0, 2)), rtol=1e-12, atol=1e-14)


# -- bad inputs --------------------------------------------------------------------

def test_running_stats_of_the_wrong_size_are_named():
    x = minidl.randn(2, 4, 3, 3)
    with pytest.raises(ValueError) as info:
        F.batch_norm(x, minidl.zeros(3), minidl.ones(4), training=True)
    message = str(info.value)
    assert "batch_norm" in message and "running_mean" in message
    assert "(3,)" in message and "(2, 4, 3, 3)" in message
    with pytest.raises(ValueError, match=r"batch_norm: running_var of shape "
                                         r"\(5,\).*\(2, 4, 3, 3\)"):
        F.batch_norm(x, minidl.zeros(4), minidl.ones(5))


def test_weight_of_the_wrong_size_is_named():
    with pytest.raises(ValueError, match=r"batch_norm: weight of shape \(2,\)"):
        F.batch_norm(minidl.randn(2, 3), minidl.zeros(3), minidl.ones(3),
                     weight=minidl.ones(2))
    with pytest.raises(ValueError, match=r"batch_norm: bias of shape \(4,\)"):
        F.batch_norm(minidl.randn(2, 3), minidl.zeros(3), minidl.ones(3),
                     bias=minidl.ones(4))


def test_other_bad_inputs():
    with pytest.raises(ValueError, match=r"batch_norm: .*at least 2 dims.*\(5,\)"):
        F.batch_norm(minidl.randn(5), minidl.zeros(5), minidl.ones(5))
    with pytest.raises(ValueError, match=r"batch_norm: expected more than 1 "
                                         r"value per channel.*\(1, 3\)"):
        F.batch_norm(minidl.randn(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match=r"batch_norm: running_mean and "
                                         r"running_var are required"):
        F.batch_norm(minidl.randn(2, 3), None, None, training=False)
