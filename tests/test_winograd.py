"""The Winograd F(4x4, 3x3) route of 3x3 stride-1 convolutions
(minidl/nn/functional/_winograd.py): the same values as the im2col route,
its gradients, its threads, and where it is taken."""
import contextlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
import minidl.nn.functional as F
from minidl import parallel
from minidl.autograd import gradcheck, gradgradcheck
from minidl.nn.functional import _conv_arithmetic as conv
from minidl.nn.functional import _winograd as winograd

GEOMETRY = ((1, 1), (1, 1), (1, 1), 1)  # stride, padding, dilation, groups


@contextlib.contextmanager
def _route(winograd_on):
    """Every eligible convolution by Winograd (thresholds of 1), or none
    (thresholds no shape reaches); restored afterwards. (Hypothesis tests
    cannot use the function-scoped monkeypatch fixture.)"""
    saved = winograd.MIN_CHANNELS, winograd.MIN_SIZE, winograd.MAX_SIZE
    if winograd_on:
        limits = 1, 1, 10 ** 9
    else:
        limits = 10 ** 9, 10 ** 9, 1
    winograd.MIN_CHANNELS, winograd.MIN_SIZE, winograd.MAX_SIZE = limits
    try:
        yield
    finally:
        winograd.MIN_CHANNELS, winograd.MIN_SIZE, winograd.MAX_SIZE = saved


def _y_dx_dw(x, gy, w):
    """conv2d's y, and dx, dW by the fused stride-1 gradients and by the two
    separate ops (conv_transpose2d_array, conv2d_weight_array)."""
    h, width = x.shape[2:]
    y = conv.conv2d_array(x, w, None, *GEOMETRY, (h, width))
    dx, dw = conv.conv2d_grads_stride_one(x, gy, w, (1, 1), (1, 1), 1)
    dx_alone = conv.conv_transpose2d_array(gy, w, None, *GEOMETRY, (h, width))
    dw_alone = conv.conv2d_weight_array(x, gy, (3, 3), *GEOMETRY)
    return y, dx, dw, dx_alone, dw_alone


def _terms(x, gy, w):
    """The scale of the rounding error of each result of _y_dx_dw: the sums
    of |terms| behind it (im2col route, float64), which a result that
    cancels to about 0 does not show. Winograd's transforms mix the values
    of a 4x4 output block (y, dx) and the 3x3 taps of a kernel (dW), so
    each value gets the largest such sum of its block or kernel."""
    x, gy, w = (np.abs(a).astype(np.float64) for a in (x, gy, w))
    with _route(False):
        y, dx, dw, _, _ = _y_dx_dw(x, gy, w)
    y, dx = _largest_in_each_block(y), _largest_in_each_block(dx)
    dw = np.broadcast_to(dw.max(axis=(2, 3), keepdims=True), dw.shape)
    return y, dx, dw, dx, dw


def _largest_in_each_block(a):
    """a (N, C, H, W) with each value replaced by the largest in its 4x4
    block (blocks from the top left, as Winograd's tiles)."""
    n, c, h, w = a.shape
    tiles_h, tiles_w = winograd.tile_counts((h, w))
    padded = np.zeros((n, c, 4 * tiles_h, 4 * tiles_w))
    padded[:, :, :h, :w] = a
    blocks = padded.reshape(n, c, tiles_h, 4, tiles_w, 4).max(axis=(3, 5))
    return blocks.repeat(4, axis=2).repeat(4, axis=3)[:, :, :h, :w]


def _random(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def _inputs(rng, n, c_in, c_out, h, w, dtype=np.float64):
    return (_random(rng, (n, c_in, h, w), dtype),
            _random(rng, (n, c_out, h, w), dtype),
            _random(rng, (c_out, c_in, 3, 3), dtype))


def test_the_transforms_filter_in_one_dimension():
    """A^T ((G g) * (B^T d)) is the 3-tap correlation of 6 inputs d with g:
    4 outputs from 6 products."""
    rng = np.random.default_rng(0)
    d, g = rng.standard_normal(6), rng.standard_normal(3)
    b_t = np.array(winograd.INPUT_TRANSFORM_T)
    g_matrix = np.array(winograd.KERNEL_TRANSFORM)
    a_t = np.array(winograd.OUTPUT_TRANSFORM_T)
    direct = np.array([d[k:k + 3] @ g for k in range(4)])
    by_winograd = a_t @ ((g_matrix @ g) * (b_t @ d))
    np.testing.assert_allclose(by_winograd, direct, rtol=0,
                               atol=1e-14 * np.abs(d).sum() * np.abs(g).sum())


@pytest.mark.parametrize("h, w", [(1, 1), (4, 4), (5, 9), (8, 8), (11, 6)])
def test_the_tiles_are_the_windows_of_the_padded_input(h, w):
    """Each gathered tile, made without padding x, is the 6x6 window at
    row 4 ty, column 4 tx of x padded by 1 before and by zeros after, read
    one value at a time; the buffer starts filled with NaN, so a position
    the gather never writes fails too."""
    x = _random(np.random.default_rng(0), (2, 3, h, w))
    tiles_h, tiles_w = winograd.tile_counts((h, w))
    padded = np.zeros((2, 3, 4 * tiles_h + 2, 4 * tiles_w + 2))
    padded[:, :, 1:h + 1, 1:w + 1] = x
    gathered = np.full((6, 6, 2, tiles_h, tiles_w, 3), np.nan)
    winograd._gather_tiles_into(gathered, x)
    for i, j, ty, tx in np.ndindex(6, 6, tiles_h, tiles_w):
        window_value = padded[:, :, 4 * ty + i, 4 * tx + j]  # (N, C)
        assert np.array_equal(gathered[i, j, :, ty, tx], window_value), \
            (i, j, ty, tx)


shapes = st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 5),
                   st.integers(1, 11), st.integers(1, 11))


@settings(max_examples=40, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2 ** 16))
def test_float64_equals_the_im2col_route(shape, seed):
    """y, dx and dW (fused and alone), H and W any size (not only
    multiples of 4: the last tiles are padded, the output cropped)."""
    x, gy, w = _inputs(np.random.default_rng(seed), *shape)
    with _route(True):
        ours = _y_dx_dw(x, gy, w)
    with _route(False):
        reference = _y_dx_dw(x, gy, w)
    for name, a, b, terms in zip(("y", "dx", "dW", "dx alone", "dW alone"),
                                 ours, reference, _terms(x, gy, w)):
        assert a.shape == b.shape and a.dtype == b.dtype, name
        assert np.all(np.abs(a - b) <= 1e-13 * terms), name


@settings(max_examples=20, deadline=None)
@given(shape=shapes, scale=st.sampled_from([1e-3, 1.0, 1e3]),
       seed=st.integers(0, 2 ** 16))
def test_float32_error_is_a_few_millionths_of_the_terms(shape, scale, seed):
    """float32 in, float32 out, each value within 1e-5 of the sum of its
    |terms| from the float64 result (measured: up to 1.5e-6; Winograd's
    transforms cost about an order of magnitude of float32 precision)."""
    x, gy, w = (a * scale for a in _inputs(np.random.default_rng(seed),
                                           *shape))
    with _route(True):
        ours = _y_dx_dw(*(a.astype(np.float32) for a in (x, gy, w)))
    with _route(False):
        exact = _y_dx_dw(x, gy, w)
    for name, a, b, terms in zip(("y", "dx", "dW", "dx alone", "dW alone"),
                                 ours, exact, _terms(x, gy, w)):
        assert a.dtype == np.float32, name
        assert np.all(np.abs(a - b) <= 1e-5 * terms), name


def test_float32_at_a_resnet_stage_shape():
    """The same bound at a shape the route really takes (64 channels, 8x8,
    several chunks on the threads)."""
    x, gy, w = _inputs(np.random.default_rng(1), 16, 64, 64, 8, 8)
    assert conv.uses_winograd(x, w.shape, *GEOMETRY)
    ours = _y_dx_dw(*(a.astype(np.float32) for a in (x, gy, w)))
    with _route(False):
        exact = _y_dx_dw(x, gy, w)
    for name, a, b, terms in zip(("y", "dx", "dW", "dx alone", "dW alone"),
                                 ours, exact, _terms(x, gy, w)):
        assert np.all(np.abs(a - b) <= 1e-5 * terms), name


@pytest.mark.parametrize("size", [(5, 6), (8, 8)])
def test_gradcheck_and_gradgradcheck_through_conv2d(size):
    """float64 central differences through F.conv2d on the Winograd route:
    its forward, its fused backward (Conv2dGradsStrideOne) and, in the
    second derivatives, its dx and dW alone."""
    rng = np.random.default_rng(2)
    x = minidl.tensor(rng.standard_normal((2, 2) + size), requires_grad=True)
    w = minidl.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    b = minidl.tensor(rng.standard_normal(3), requires_grad=True)
    with _route(True):
        assert conv.uses_winograd(x.data, w.shape, *GEOMETRY)
        assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1),
                         [x, w, b])
        assert gradgradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1),
                             [x, w, b])


def _conv_step():
    """float32 y, dx, dW and db of F.conv2d at a routed shape, as arrays."""
    rng = np.random.default_rng(3)
    x = minidl.tensor(_random(rng, (16, 32, 16, 16), np.float32),
                      requires_grad=True)
    w = minidl.tensor(_random(rng, (32, 32, 3, 3), np.float32),
                      requires_grad=True)
    b = minidl.tensor(_random(rng, (32,), np.float32), requires_grad=True)
    y = F.conv2d(x, w, b, padding=1)
    y.backward(minidl.tensor(_random(rng, y.shape, np.float32)))
    return tuple(np.array(t) for t in (y.data, x.grad.data, w.grad.data,
                                       b.grad.data))


def test_results_do_not_depend_on_the_thread_count():
    """The same bits on 1, 2 and 3 threads: the chunks depend on the batch
    and the work only, and dU's parts are added in chunk order."""
    elements = winograd.chunk_elements(16, 32, 32, (16, 16))
    assert len(parallel.batch_chunks(16, elements)) > 1
    before = minidl.get_num_threads()
    results = {}
    try:
        for count in (1, 2, 3):
            minidl.set_num_threads(count)
            results[count] = _conv_step()
    finally:
        minidl.set_num_threads(before)
    for count in (2, 3):
        for one, many in zip(results[1], results[count]):
            assert np.array_equal(one, many), count


def _counting(monkeypatch, name):
    """Replace winograd.`name` by a wrapper that counts its calls."""
    calls = []
    original = getattr(winograd, name)

    def counted(*args):
        calls.append(args[0].shape)
        return original(*args)
    monkeypatch.setattr(winograd, name, counted)
    return calls


@pytest.mark.parametrize("channels, size, routed", [
    (16, 32, False),  # ResNet-20's first stage: im2col is faster
    (32, 16, True),   # its second stage
    (64, 8, True),    # its third stage
    (64, 4, True),    # ResNet-18's last on CIFAR (512 channels there)
    (64, 32, False),  # a large image: not measured faster
    (64, 2, False),   # a tiny one: slower
])
def test_the_route_is_taken_at_resnet_stage_shapes(monkeypatch, channels,
                                                   size, routed):
    """Forward and backward of a ResNet 3x3 convolution go through the
    Winograd kernels (and a stride-2 one does not)."""
    forward = _counting(monkeypatch, "winograd_conv2d_into")
    # dx and dW's part at once (the fused backward that conv2d uses)
    weight_part = _counting(monkeypatch, "winograd_grads_part")
    rng = np.random.default_rng(4)
    x = minidl.tensor(_random(rng, (2, channels, size, size), np.float32),
                      requires_grad=True)
    w = minidl.tensor(_random(rng, (channels, channels, 3, 3), np.float32),
                      requires_grad=True)
    F.conv2d(x, w, padding=1).sum().backward()
    # the forward, then dx and dW
    assert bool(forward) == routed and bool(weight_part) == routed
    calls = len(forward), len(weight_part)
    F.conv2d(x, w, stride=2, padding=1).sum().backward()
    assert (len(forward), len(weight_part)) == calls


def test_only_the_route_geometry_is_eligible():
    """Other kernels, strides, paddings, dilations or groups keep im2col."""
    x = np.zeros((1, 64, 8, 8), np.float32)
    assert conv.uses_winograd(x, (64, 64, 3, 3), *GEOMETRY)
    for weight_shape, geometry in [
            ((64, 64, 5, 5), GEOMETRY),
            ((64, 64, 3, 3), ((2, 2), (1, 1), (1, 1), 1)),
            ((64, 64, 3, 3), ((1, 1), (0, 0), (1, 1), 1)),
            ((64, 64, 3, 3), ((1, 1), (1, 1), (2, 2), 1)),
            ((64, 32, 3, 3), ((1, 1), (1, 1), (1, 1), 2))]:
        assert not conv.uses_winograd(x, weight_shape, *geometry)
