"""minidl.nn.functional.conv2d and conv_transpose2d: PyTorch parity (forward
and every gradient, first and second order), gradient checks, the im2col /
col2im kernels, scratch-buffer safety, float32 behaviour and bad inputs."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
import minidl.nn.functional as F
from minidl import kernels
from minidl.autograd import gradcheck, gradgradcheck
from conftest import assert_close, assert_value_error

# Torch comparisons are cheap: run more of them than the profile's default.
MANY = settings(max_examples=4 * settings().max_examples)


@st.composite
def conv_configs(draw, max_channels_per_group=2, max_groups=3, max_kernel=3,
                 max_extra=4, max_batch=2):
    """A convolution: shapes and window geometry that fit together."""
    groups = draw(st.integers(1, max_groups))
    c_in = groups * draw(st.integers(1, max_channels_per_group))
    c_out = groups * draw(st.integers(1, max_channels_per_group))
    kernel = (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    # The smallest input the dilated kernel fits in, plus a few (odd sizes too).
    size = tuple(max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, max_extra))
                 for k, d, p in zip(kernel, dilation, padding))
    return dict(n=draw(st.integers(1, max_batch)), c_in=c_in, c_out=c_out,
                size=size, kernel=kernel, stride=stride, dilation=dilation,
                padding=padding, groups=groups, bias=draw(st.booleans()))


def _conv_arrays(config, rng, transpose=False, dtype=np.float64):
    n, c_in, c_out, groups = (config["n"], config["c_in"], config["c_out"],
                              config["groups"])
    x = rng.standard_normal((n, c_in) + config["size"]).astype(dtype)
    if transpose:  # conv_transpose2d weight: (C_in, C_out/G, KH, KW)
        w = rng.standard_normal((c_in, c_out // groups) + config["kernel"])
    else:
        w = rng.standard_normal((c_out, c_in // groups) + config["kernel"])
    b = rng.standard_normal(c_out) if config["bias"] else None
    return x, w.astype(dtype), None if b is None else b.astype(dtype)


def _conv_kwargs(config):
    return dict(stride=config["stride"], padding=config["padding"],
                dilation=config["dilation"], groups=config["groups"])


def _tensors(arrays, requires_grad=True):
    return [None if a is None else minidl.tensor(a, requires_grad=requires_grad)
            for a in arrays]


def _compare_with_torch(torch, ours, theirs, arrays, grad_seed):
    """Forward and every input's gradient, minidl vs torch, in float64."""
    m_inputs = _tensors(arrays)
    t_inputs = [None if a is None else torch.tensor(a, requires_grad=True)
                for a in arrays]
    y, ty = ours(*m_inputs), theirs(*t_inputs)
    assert_close(y, ty, rtol=1e-10, atol=1e-10, name="output")
    grad = np.random.default_rng(grad_seed).standard_normal(ty.shape)
    y.backward(minidl.tensor(grad))
    ty.backward(torch.tensor(grad))
    for name, m, t in zip(["input", "weight", "bias"], m_inputs, t_inputs):
        if m is not None:
            assert_close(m.grad, t.grad, rtol=1e-9, atol=1e-10,
                         name="grad of " + name)


# -- PyTorch parity -----------------------------------------------------------

@MANY
@given(config=conv_configs(), seed=st.integers(0, 2**16))
def test_conv2d_matches_torch(torch, config, seed):
    rng = np.random.default_rng(seed)
    kwargs = _conv_kwargs(config)
    _compare_with_torch(
        torch, lambda x, w, b: F.conv2d(x, w, b, **kwargs),
        lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kwargs),
        _conv_arrays(config, rng), seed + 1)


@pytest.mark.parametrize("few_positions", [0, 10**9])
@pytest.mark.parametrize("stride", [1, 2])
def test_both_product_orientations_match_torch(torch, monkeypatch,
                                               few_positions, stride):
    """_conv_arithmetic.py computes with one product per image, or (in
    _conv_gemm.py) one per chunk of images when an image has fewer than
    FEW_POSITIONS output positions; force each path in turn (forward, input
    and weight gradients)."""
    from minidl.nn.functional import _conv_arithmetic
    monkeypatch.setattr(_conv_arithmetic, "FEW_POSITIONS", few_positions)
    rng = np.random.default_rng(stride)
    arrays = [rng.standard_normal((3, 4, 7, 6)), rng.standard_normal((5, 4, 3, 3)),
              rng.standard_normal(5)]
    _compare_with_torch(
        torch, lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=1),
        lambda x, w, b: torch.nn.functional.conv2d(x, w, b, stride=stride,
                                                   padding=1),
        arrays, 7)


@settings(max_examples=60, deadline=None)
@given(config=conv_configs(max_batch=3), seed=st.integers(0, 2**16))
def test_fused_stride_one_backward_equals_the_two_ops(config, seed):
    """conv2d_grads_stride_one (dx and dW from one im2col of gy) gives what
    ConvTranspose2d and Conv2dWeight give, for every stride-1 geometry it
    is used for."""
    from minidl.nn.functional import _conv_arithmetic as conv_module
    geometry = ((1, 1), config["padding"], config["dilation"], config["groups"])
    if not conv_module.stride_one_transposes_as_conv(
            (1, 1), config["padding"], config["dilation"], config["kernel"]):
        return
    rng = np.random.default_rng(seed)
    x, w, _ = _conv_arrays(config, rng)
    out = conv_module.conv2d_array(x, w, None, *geometry, tuple(
        size + 2 * p - d * (k - 1) for size, p, d, k in zip(
            config["size"], config["padding"], config["dilation"],
            config["kernel"])))
    gy = rng.standard_normal(out.shape)
    dx, dw = conv_module.conv2d_grads_stride_one(
        x, gy, w, config["padding"], config["dilation"], config["groups"])
    np.testing.assert_allclose(dx, conv_module.conv_transpose2d_array(
        gy, w, None, *geometry, config["size"]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, conv_module.conv2d_weight_array(
        x, gy, config["kernel"], *geometry), rtol=1e-12, atol=1e-12)


def test_backward_takes_the_fused_path_when_both_gradients_are_needed(
        monkeypatch):
    """Conv2d's backward runs Conv2dGradsStrideOne when it needs dx and dW
    at stride 1, recorded (create_graph) or not; else the two ops."""
    from minidl.nn.functional import conv as conv_module
    calls = []
    fused = conv_module.conv2d_grads_stride_one
    monkeypatch.setattr(conv_module, "conv2d_grads_stride_one",
                        lambda *args: calls.append(1) or fused(*args))
    rng = np.random.default_rng(0)
    x = minidl.tensor(rng.standard_normal((2, 3, 5, 5)), requires_grad=True)
    w = minidl.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    F.conv2d(x, w, padding=1).sum().backward()
    assert calls == [1]
    minidl.autograd.grad(F.conv2d(x, w, padding=1).sum(), x, create_graph=True)
    assert calls == [1, 1]  # recorded: the same op, differentiable again
    F.conv2d(x, w.detach(), padding=1).sum().backward()
    assert calls == [1, 1]  # only dx needed: ConvTranspose2d
    F.conv2d(x, w, stride=2, padding=1).sum().backward()
    assert calls == [1, 1]  # stride 2: dx goes through col2im


def _transpose_kwargs(config, output_padding=(0, 0)):
    """conv_transpose2d arguments for a config; padding dropped when it
    would leave no output (PyTorch refuses that too)."""
    kwargs = dict(_conv_kwargs(config), output_padding=output_padding)
    out = [(size - 1) * s - 2 * p + d * (k - 1) + o + 1 for size, s, p, d, k, o
           in zip(config["size"], config["stride"], config["padding"],
                  config["dilation"], config["kernel"], output_padding)]
    if min(out) < 1:
        kwargs["padding"] = 0
    return kwargs


@MANY
@given(config=conv_configs(), output_padding=st.tuples(st.integers(0, 2),
                                                        st.integers(0, 2)),
       seed=st.integers(0, 2**16))
def test_conv_transpose2d_matches_torch(torch, config, output_padding, seed):
    # output_padding must be below the stride or the dilation (PyTorch's rule)
    output_padding = tuple(min(o, max(s, d) - 1) for o, s, d in zip(
        output_padding, config["stride"], config["dilation"]))
    rng = np.random.default_rng(seed)
    kwargs = _transpose_kwargs(config, output_padding)
    _compare_with_torch(
        torch, lambda x, w, b: F.conv_transpose2d(x, w, b, **kwargs),
        lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, **kwargs),
        _conv_arrays(config, rng, transpose=True), seed + 1)


@pytest.mark.filterwarnings("ignore:Using padding=.same.")
@given(config=conv_configs(max_extra=3), padding=st.sampled_from(["same",
                                                                  "valid"]),
       seed=st.integers(0, 2**16))
def test_conv2d_string_padding_matches_torch(torch, config, padding, seed):
    rng = np.random.default_rng(seed)
    kwargs = dict(_conv_kwargs(config), padding=padding)
    if padding == "same":
        kwargs["stride"] = 1
    # Without padding the input must hold at least one dilated kernel.
    size = tuple(max(s, d * (k - 1) + 1) for s, k, d in zip(
        config["size"], config["kernel"], config["dilation"]))
    _, w, b = _conv_arrays(config, rng)
    x = rng.standard_normal((config["n"], config["c_in"]) + size)
    _compare_with_torch(
        torch, lambda x, w, b: F.conv2d(x, w, b, **kwargs),
        lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kwargs),
        (x, w, b), seed + 1)


@given(config=conv_configs(max_groups=2, max_extra=2),
       seed=st.integers(0, 2**16))
def test_conv2d_second_derivatives_match_torch(torch, config, seed):
    """d/dW and d/dx of |dL/dx|^2 + |dL/dW|^2 (a gradient penalty)."""
    rng = np.random.default_rng(seed)
    x, w, _ = _conv_arrays(config, rng)
    kwargs = _conv_kwargs(config)
    results = []
    for lib, conv, grad in ((minidl, F.conv2d, minidl.grad),
                            (torch, torch.nn.functional.conv2d,
                             torch.autograd.grad)):
        tx = lib.tensor(x, requires_grad=True)
        tw = lib.tensor(w, requires_grad=True)
        y = conv(tx, tw, **kwargs)
        loss = (y * y * y).sum()
        gx, gw = grad([loss], [tx, tw], create_graph=True)
        penalty = (gx * gx).sum() + (gw * gw).sum()
        results.append(grad([penalty], [tx, tw]))
    for name, ours, theirs in zip(["input", "weight"], *results):
        assert_close(ours, theirs, rtol=1e-8, atol=1e-9,
                     name="second derivative, " + name)


def test_conv2d_unbatched_input_matches_torch(torch):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((3, 6, 5)), rng.standard_normal((4, 3, 3, 3)), \
        rng.standard_normal(4)
    y = F.conv2d(*_tensors((x, w, b), False), padding=1)
    ty = torch.nn.functional.conv2d(*map(torch.tensor, (x, w, b)), padding=1)
    assert y.shape == (4, 6, 5)
    assert_close(y, ty, rtol=1e-10, atol=1e-10)
    wt = rng.standard_normal((3, 2, 3, 3))
    y = F.conv_transpose2d(*_tensors((x, wt), False), stride=2)
    ty = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(wt),
                                              stride=2)
    assert_close(y, ty, rtol=1e-10, atol=1e-10)


# -- gradient checks (float64, tiny shapes) -----------------------------------

def _tiny_configs():
    return conv_configs(max_channels_per_group=2, max_groups=2, max_kernel=2,
                        max_extra=2, max_batch=2)


@given(config=_tiny_configs(), seed=st.integers(0, 2**16))
def test_conv2d_gradcheck(config, seed):
    rng = np.random.default_rng(seed)
    kwargs = _conv_kwargs(config)
    inputs = [t for t in _tensors(_conv_arrays(config, rng)) if t is not None]
    assert gradcheck(lambda *args: F.conv2d(*args, **kwargs), inputs)


@given(config=_tiny_configs(), seed=st.integers(0, 2**16))
def test_conv2d_gradgradcheck(config, seed):
    rng = np.random.default_rng(seed)
    kwargs = _conv_kwargs(config)
    inputs = [t for t in _tensors(_conv_arrays(config, rng)) if t is not None]
    assert gradgradcheck(lambda *args: F.conv2d(*args, **kwargs), inputs)


@given(config=_tiny_configs(), seed=st.integers(0, 2**16))
def test_conv_transpose2d_gradcheck_and_gradgradcheck(config, seed):
    rng = np.random.default_rng(seed)
    kwargs = _transpose_kwargs(config)
    arrays = _conv_arrays(config, rng, transpose=True)
    inputs = [t for t in _tensors(arrays) if t is not None]

    def fn(*args):
        return F.conv_transpose2d(*args, **kwargs)
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


@pytest.mark.parametrize("groups", [1, 2])
def test_conv2d_stride_one_gradgradcheck(groups):
    """Conv2dGradsStrideOne's backward, in x, W, b and the output
    gradient, for a stride-1 geometry (Hypothesis draws others too)."""
    rng = np.random.default_rng(4)
    x = minidl.tensor(rng.standard_normal((2, 2, 4, 3)), requires_grad=True)
    w = minidl.tensor(rng.standard_normal((2, 2 // groups, 2, 3)),
                      requires_grad=True)
    b = minidl.tensor(rng.standard_normal(2), requires_grad=True)
    assert gradgradcheck(lambda x, w, b: F.conv2d(
        x, w, b, padding=(1, 0), dilation=(2, 1), groups=groups), [x, w, b])


@pytest.mark.parametrize("stride", [(1, 1), (1, 2)],
                         ids=["stride_1", "stride_1x2"])
def test_conv2d_third_order_gradcheck(stride):
    """The backward ops' own backwards are differentiable again (stride 1:
    through Conv2dGradsStrideOne; (1, 2): ConvTranspose2d and
    Conv2dWeight)."""
    rng = np.random.default_rng(3)
    x = minidl.tensor(rng.standard_normal((1, 2, 4, 3)), requires_grad=True)
    w = minidl.tensor(rng.standard_normal((2, 1, 2, 2)), requires_grad=True)

    def second(x, w):
        y = F.conv2d(x, w, stride=stride, padding=1, groups=2)
        gx, gw = minidl.grad([(y * y).sum()], [x, w], create_graph=True)
        return (gx * gx).sum() + (gw * gw).sum()
    assert gradcheck(second, [x, w])


# -- the kernels --------------------------------------------------------------

@given(config=conv_configs(max_extra=3), seed=st.integers(0, 2**16))
def test_im2col_reads_the_window_elements(config, seed):
    rng = np.random.default_rng(seed)
    x, w, _ = _conv_arrays(config, rng)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (config["kernel"], config["stride"],
                                              config["padding"], config["dilation"])
    n, c, h, wd = x.shape
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    cols = kernels.get("im2col", np)(x, (kh, kw), (sh, sw), (ph, pw), (dh, dw),
                                     (oh, ow))
    assert cols.shape == (n, c, kh, kw, oh, ow) and cols.flags.c_contiguous
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph + sh), (pw, pw + sw)))
    for i in range(kh):
        for j in range(kw):
            expected = padded[:, :, i * dh: i * dh + sh * oh: sh,
                              j * dw: j * dw + sw * ow: sw][:, :, :oh, :ow]
            np.testing.assert_array_equal(cols[:, :, i, j], expected)


@given(config=conv_configs(max_extra=3), seed=st.integers(0, 2**16))
def test_col2im_is_the_adjoint_of_im2col(config, seed):
    """<im2col(x), c> == <x, col2im(c)> for random x and c."""
    rng = np.random.default_rng(seed)
    x, _, _ = _conv_arrays(config, rng)
    geometry = (config["stride"], config["padding"], config["dilation"])
    out = tuple((size + 2 * p - d * (k - 1) - 1) // s + 1 for size, k, s, p, d
                in zip(x.shape[2:], config["kernel"], *geometry))
    cols = kernels.get("im2col", np)(x, config["kernel"], *geometry, out)
    c = rng.standard_normal(cols.shape)
    folded = kernels.get("col2im", np)(c, x.shape[2:], *geometry)
    assert folded.shape == x.shape
    # Inner products of random values may cancel: the tolerance scales with
    # the sum of the terms' magnitudes, not with the result.
    np.testing.assert_allclose((cols * c).sum(), (x * folded).sum(), rtol=0,
                               atol=1e-12 * np.abs(cols * c).sum())


def test_conv_results_do_not_share_the_scratch_buffers():
    """Scratch buffers are reused between calls: results must not be views
    of them, or the next convolution would overwrite them."""
    rng = np.random.default_rng(0)
    x1 = minidl.tensor(rng.standard_normal((2, 3, 6, 6)), requires_grad=True)
    w1 = minidl.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    y1 = F.conv2d(x1, w1, padding=1)
    gx1, gw1 = minidl.grad([y1], [x1, w1], [minidl.ones_like(y1)],
                           retain_graph=True)
    kept = [t.numpy().copy() for t in (y1, gx1, gw1)]
    # Other convolutions, of other sizes, through the same buffers.
    x2 = minidl.tensor(rng.standard_normal((3, 3, 9, 9)), requires_grad=True)
    w2 = minidl.tensor(rng.standard_normal((5, 3, 2, 2)), requires_grad=True)
    y2 = F.conv2d(x2, w2, stride=2)
    minidl.grad([y2.sum()], [x2, w2])
    F.conv_transpose2d(y2, w2, stride=2)
    for name, t, before in zip(["output", "grad input", "grad weight"],
                               (y1, gx1, gw1), kept):
        np.testing.assert_array_equal(t.numpy(), before, err_msg=name)


# -- dtypes -------------------------------------------------------------------

@pytest.mark.parametrize("op", ["conv2d", "conv_transpose2d"])
def test_float32_stays_float32(op):
    rng = np.random.default_rng(0)
    x = minidl.tensor(rng.standard_normal((2, 4, 5, 5)).astype(np.float32),
                      requires_grad=True)
    w = minidl.tensor(rng.standard_normal((4, 2, 3, 3)).astype(np.float32),
                      requires_grad=True)
    b = minidl.tensor(rng.standard_normal(4).astype(np.float32),
                      requires_grad=True)
    y = getattr(F, op)(x, w, b, stride=2, padding=1, groups=2)
    assert y.dtype == np.float32
    gx, gw = minidl.grad([(y * y).sum()], [x, w], create_graph=True)
    assert gx.dtype == np.float32 and gw.dtype == np.float32
    ((gx * gx).sum() + (gw * gw).sum()).backward()
    for t in (x, w, b):
        assert t.grad.dtype == np.float32


def test_float32_close_to_torch(torch):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 8, 10, 10)).astype(np.float32)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    mx, mw = minidl.tensor(x, requires_grad=True), minidl.tensor(w, requires_grad=True)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    y = F.conv2d(mx, mw, stride=2, padding=1)
    ty = torch.nn.functional.conv2d(tx, tw, stride=2, padding=1)
    y.sum().backward()
    ty.sum().backward()
    assert_close(y, ty, rtol=1e-4, atol=1e-4, name="output")
    assert_close(mx.grad, tx.grad, rtol=1e-4, atol=1e-4, name="grad input")
    assert_close(mw.grad, tw.grad, rtol=1e-4, atol=1e-3, name="grad weight")


# -- bad inputs ---------------------------------------------------------------

def test_conv2d_bad_inputs():
    x = minidl.zeros(2, 4, 5, 5)
    w = minidl.zeros(6, 4, 3, 3)
    assert_value_error(lambda: F.conv2d(minidl.zeros(4, 5), w), "conv2d", "(4, 5)")
    assert_value_error(lambda: F.conv2d(x, minidl.zeros(6, 4, 3)), "conv2d", "(6, 4, 3)")
    assert_value_error(lambda: F.conv2d(x, minidl.zeros(6, 3, 3, 3)), "conv2d",
            "(2, 4, 5, 5)", "(6, 3, 3, 3)")
    assert_value_error(lambda: F.conv2d(x, minidl.zeros(6, 2, 3, 3), groups=3), "conv2d",
            "groups=3", "(2, 4, 5, 5)")
    assert_value_error(lambda: F.conv2d(x, minidl.zeros(6, 1, 3, 3), groups=4), "conv2d",
            "groups=4", "(6, 1, 3, 3)")
    assert_value_error(lambda: F.conv2d(x, minidl.zeros(6, 4, 7, 7)), "conv2d",
            "(2, 4, 5, 5)", "(6, 4, 7, 7)", "larger than the padded input")
    assert_value_error(lambda: F.conv2d(x, w, dilation=3), "conv2d", "dilated: (7, 7)")
    assert_value_error(lambda: F.conv2d(x, w, minidl.zeros(5)), "conv2d", "bias", "(5,)")
    assert_value_error(lambda: F.conv2d(x, w.double()), "conv2d", "float32", "float64")
    assert_value_error(lambda: F.conv2d(x, w, stride=0), "conv2d", "stride")
    assert_value_error(lambda: F.conv2d(x, w, padding=-1), "conv2d", "padding")
    assert_value_error(lambda: F.conv2d(x, w, padding="same", stride=2), "conv2d", "same")
    assert_value_error(lambda: F.conv2d(x, w, padding="full"), "conv2d", "padding")


def test_conv_transpose2d_bad_inputs():
    x = minidl.zeros(2, 4, 5, 5)
    w = minidl.zeros(4, 3, 3, 3)
    assert_value_error(lambda: F.conv_transpose2d(minidl.zeros(5, 5), w),
            "conv_transpose2d", "(5, 5)")
    assert_value_error(lambda: F.conv_transpose2d(x, minidl.zeros(3, 3, 3, 3)),
            "conv_transpose2d", "(2, 4, 5, 5)", "(3, 3, 3, 3)")
    assert_value_error(lambda: F.conv_transpose2d(x, w, groups=3), "conv_transpose2d",
            "groups=3", "(2, 4, 5, 5)")
    assert_value_error(lambda: F.conv_transpose2d(x, w, stride=2, output_padding=2),
            "conv_transpose2d", "output_padding")
    assert_value_error(lambda: F.conv_transpose2d(minidl.zeros(1, 4, 1, 1), w, padding=2),
            "conv_transpose2d", "(1, 4, 1, 1)", "padding")
    assert_value_error(lambda: F.conv_transpose2d(x, w, minidl.zeros(4)),
            "conv_transpose2d", "bias", "(4,)")
