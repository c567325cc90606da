"""Convolutions at small spatial sizes: the one-product-per-chunk route
(_conv_gemm.py) and the dropping of taps that only read padding
(_conv_small_spatial.py), against the per-image route with the whole
kernel."""
import contextlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
import minidl.nn.functional as F
from minidl import parallel
from minidl.autograd import gradcheck, gradgradcheck
from minidl.nn.functional import _conv_arithmetic, _conv_gemm
from minidl.nn.functional._conv_small_spatial import live_taps


@contextlib.contextmanager
def _route(images_innermost, cut_dead_taps):
    """_conv_arithmetic's entry points with the chosen routes, restored
    afterwards (Hypothesis tests cannot use function-scoped fixtures)."""
    saved = (_conv_arithmetic.FEW_POSITIONS, _conv_arithmetic.live_taps)
    try:
        _conv_arithmetic.FEW_POSITIONS = 10 ** 9 if images_innermost else 0
        if not cut_dead_taps:
            _conv_arithmetic.live_taps = lambda *args: None
        yield
    finally:
        _conv_arithmetic.FEW_POSITIONS, _conv_arithmetic.live_taps = saved


def _three_results(x, w, gy, geometry, output_size):
    """(y, dx, dW, (dx, dW) of the stride-1 fused route or None)."""
    stride, padding, dilation, groups = geometry
    y = _conv_arithmetic.conv2d_array(x, w, None, *geometry, output_size)
    dx = _conv_arithmetic.conv_transpose2d_array(gy, w, None, *geometry,
                                                 x.shape[2:])
    dw = _conv_arithmetic.conv2d_weight_array(x, gy, w.shape[2:], *geometry)
    fused = None
    if stride == (1, 1) and _conv_arithmetic.stride_one_transposes_as_conv(
            stride, padding, dilation, w.shape[2:]):
        fused = _conv_arithmetic.conv2d_grads_stride_one(x, gy, w, padding,
                                                         dilation, groups)
    return y, dx, dw, fused


def _assert_close(result, reference, bound, terms, dtype):
    """|result - reference| <= terms * eps * bound elementwise: each of the
    two is within terms * eps/2 * bound of the exact sum, whatever its
    order of summation, where bound is the sum of |terms| (the same
    computation on absolute values)."""
    assert result.shape == reference.shape and result.dtype == dtype
    tolerance = terms * np.finfo(dtype).eps * bound
    assert np.all(np.abs(result.astype(np.float64) - reference) <= tolerance)


@st.composite
def small_convs(draw):
    groups = draw(st.sampled_from([1, 1, 2]))
    c_in = groups * draw(st.integers(1, 3))
    c_out = groups * draw(st.integers(1, 3))
    kernel = draw(st.sampled_from([1, 3]))
    stride = draw(st.sampled_from([1, 2]))
    padding = draw(st.integers(0, kernel // 2 + 1))
    dilation = draw(st.sampled_from([1, 1, 2]))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    extent = dilation * (kernel - 1) + 1
    if h + 2 * padding < extent or w + 2 * padding < extent:
        padding = kernel // 2 + (dilation - 1) * (kernel // 2)
    return dict(n=draw(st.integers(1, 4)), c_in=c_in, c_out=c_out,
                size=(h, w), kernel=kernel, stride=stride, padding=padding,
                dilation=dilation, groups=groups)


@settings(max_examples=80, deadline=None)
@given(config=small_convs(), dtype=st.sampled_from([np.float64, np.float32]),
       route=st.sampled_from([(True, False), (True, True), (False, True)]),
       seed=st.integers(0, 2 ** 16))
def test_small_routes_equal_the_per_image_route(config, dtype, route, seed):
    """y, dx and dW (and the fused stride-1 pair) of each small route, in
    float64 and float32, equal the per-image route with the whole kernel
    up to the rounding of the summed terms."""
    k, s, p, d = (config["kernel"],) * 2, (config["stride"],) * 2, \
        (config["padding"],) * 2, (config["dilation"],) * 2
    geometry = (s, p, d, config["groups"])
    output_size = tuple((size + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
                        for size in config["size"])
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((config["n"], config["c_in"]) + config["size"])
    w = rng.standard_normal((config["c_out"], config["c_in"]
                             // config["groups"]) + k)
    gy = rng.standard_normal((config["n"], config["c_out"]) + output_size)
    x, w, gy = x.astype(dtype), w.astype(dtype), gy.astype(dtype)
    with _route(*route):
        results = _three_results(x, w, gy, geometry, output_size)
    with _route(False, False):
        as64 = [a.astype(np.float64) for a in (x, w, gy)]
        reference = _three_results(*as64, geometry, output_size)
        bounds = _three_results(*[np.abs(a) for a in as64], geometry,
                                output_size)
    kernel_terms = k[0] * k[1]
    terms = (config["c_in"] // config["groups"] * kernel_terms,
             config["c_out"] // config["groups"] * kernel_terms,
             config["n"] * output_size[0] * output_size[1])
    for result, expected, bound, count in zip(results[:3], reference[:3],
                                              bounds[:3], terms):
        _assert_close(result, expected, bound, count, dtype)
    if results[3] is not None:
        for result, expected, bound, count in zip(
                results[3], reference[1:3], bounds[1:3], terms[1:]):
            _assert_close(result, expected, bound, count, dtype)


@pytest.mark.parametrize("size, padding, stride", [
    ((2, 2), 1, 1),   # the images-innermost route, every tap live
    ((1, 1), 1, 1),   # ... and the kernel cut to its centre tap
    ((2, 3), 1, 2),   # ... cut to a 2x2 block, at stride 2
])
def test_gradcheck_and_gradgradcheck_through_conv2d(size, padding, stride):
    rng = np.random.default_rng(0)
    inputs = [minidl.tensor(rng.standard_normal(shape), requires_grad=True)
              for shape in ((2, 4) + size, (6, 2, 3, 3), (6,))]

    def fn(x, w, b):
        return F.conv2d(x, w, b, stride=stride, padding=padding, groups=2)

    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


@contextlib.contextmanager
def _threads(count):
    saved = minidl.get_num_threads()
    try:
        minidl.set_num_threads(count)
        yield
    finally:
        minidl.set_num_threads(saved)


@pytest.mark.parametrize("size, padding", [((4, 4), 1), ((2, 2), 1),
                                           ((1, 1), 1)])
def test_the_same_bits_on_one_two_and_three_threads(monkeypatch, size,
                                                    padding):
    """Several chunks (asserted), each one product: y, dx and dW are equal
    (==) on 1, 2 and 3 threads."""
    monkeypatch.setattr(parallel, "MIN_CHUNK_ELEMENTS", 1)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((24, 32) + size).astype(np.float32)
    w = rng.standard_normal((40, 32, 3, 3)).astype(np.float32)
    smallest_work = 24 * 32 * size[0] * size[1]  # the columns of a cut kernel
    assert len(parallel.batch_chunks(24, smallest_work)) == 4
    results = []
    for count in (1, 2, 3):
        with _threads(count):
            xt = minidl.tensor(x, requires_grad=True)
            wt = minidl.tensor(w, requires_grad=True)
            y = F.conv2d(xt, wt, padding=padding)
            (y * y).sum().backward()
            results.append((y.numpy(), xt.grad.numpy(), wt.grad.numpy()))
    for other in results[1:]:
        for one, many in zip(results[0], other):
            assert np.array_equal(one, many)


def test_small_outputs_take_the_route_and_large_ones_do_not(monkeypatch):
    """F.conv2d and its backward run _conv_gemm below FEW_POSITIONS output
    positions per image, and the per-image route at and above it."""
    calls = []
    for name in ("conv2d_array", "conv_transpose2d_array",
                 "conv2d_weight_array", "conv2d_grads"):
        original = getattr(_conv_gemm, name)
        monkeypatch.setattr(_conv_gemm, name, lambda *args, _name=name,
                            _original=original: calls.append(_name)
                            or _original(*args))
    rng = np.random.default_rng(2)
    w = minidl.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    for size, stride, expected in (
            (7, 1, ["conv2d_array", "conv2d_grads"]),
            (8, 2, ["conv2d_array", "conv_transpose2d_array",
                    "conv2d_weight_array"]),
            (8, 1, [])):
        calls.clear()
        x = minidl.tensor(rng.standard_normal((2, 3, size, size)),
                          requires_grad=True)
        F.conv2d(x, w, stride=stride, padding=1).sum().backward()
        assert calls == expected, (size, stride)


def test_live_taps_cut_only_the_taps_that_read_padding_only():
    geometry = dict(kernel_size=(3, 3), dilation=(1, 1))
    # 1x1 image, 3x3 kernel, padding 1: the centre tap alone.
    live = live_taps((1, 1), (1, 1), stride=(1, 1), padding=(1, 1),
                     **geometry)
    assert (live.rows, live.cols, live.padding) == (slice(1, 2), slice(1, 2),
                                                   (0, 0))
    # 2x2 image at stride 2 (one output): taps 1 and 2 along each axis.
    live = live_taps((2, 2), (1, 1), stride=(2, 2), padding=(1, 1),
                     **geometry)
    assert (live.rows, live.cols, live.padding) == (slice(1, 3), slice(1, 3),
                                                   (0, 0))
    assert live.kernel_size == (2, 2)
    # Every tap reaches a 2x2 image at stride 1, and a 4x4 one: no cut.
    assert live_taps((2, 2), (2, 2), stride=(1, 1), padding=(1, 1),
                     **geometry) is None
    assert live_taps((4, 4), (2, 2), stride=(2, 2), padding=(1, 1),
                     **geometry) is None
    # Rows cut, columns whole: a 1x5 image.
    live = live_taps((1, 5), (1, 5), stride=(1, 1), padding=(1, 1),
                     **geometry)
    assert (live.rows, live.cols, live.padding) == (slice(1, 2), slice(0, 3),
                                                   (0, 1))


def test_cut_weight_gradient_is_zero_outside_the_live_taps():
    rng = np.random.default_rng(3)
    x = minidl.tensor(rng.standard_normal((3, 2, 1, 1)))
    w = minidl.tensor(rng.standard_normal((4, 2, 3, 3)), requires_grad=True)
    F.conv2d(x, w, padding=1).sum().backward()
    grad = w.grad.numpy()
    centre = grad[:, :, 1, 1].copy()
    grad[:, :, 1, 1] = 0
    assert np.all(grad == 0) and np.all(centre != 0)
