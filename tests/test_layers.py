"""Layers and initialisation, against their PyTorch twins.

Each layer test builds the same layer in both frameworks, copies torch's
parameters and buffers into minidl's, and compares in float64: the output,
the gradient of the input and of every parameter, and the buffers after
the call (BatchNorm's running statistics). The functional ops themselves
are tested in the functional test files; here the point is that each layer
passes its arguments, state and mode correctly.
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minidl
from minidl import nn
from minidl.nn import init
from conftest import assert_close, to_numpy


def copy_state(ours, theirs):
    """Load torch module `theirs`' state into minidl module `ours`."""
    ours.load_state_dict({k: v.detach().numpy()
                          for k, v in theirs.state_dict().items()})


def randomise(torch, module):
    """Give a torch module non-trivial parameters and running statistics."""
    with torch.no_grad():
        for name, value in module.state_dict().items():
            if name.endswith("running_var"):
                value.uniform_(0.5, 2.0)
            elif value.is_floating_point():
                value.uniform_(-1.0, 1.0)


def compare_layer(torch, ours, theirs, x, *extra_inputs, rtol=1e-10,
                  atol=1e-10):
    """Forward and backward of both layers on float64 input `x` (a NumPy
    array); compares output, gradients and the state afterwards."""
    ours.double()
    theirs.double()
    copy_state(ours, theirs)
    x_ours = minidl.tensor(x, requires_grad=True)
    x_theirs = torch.tensor(x, requires_grad=True)
    out_ours = ours(x_ours, *[minidl.tensor(e) for e in extra_inputs])
    out_theirs = theirs(x_theirs, *[torch.tensor(e) for e in extra_inputs])
    assert_close(out_ours, out_theirs, rtol, atol, name="output")
    upstream = np.random.default_rng(1).standard_normal(out_theirs.shape)
    out_ours.backward(minidl.tensor(upstream))
    out_theirs.backward(torch.tensor(upstream))
    assert_close(x_ours.grad, x_theirs.grad, rtol, atol, name="input grad")
    for (name, p_ours), (_, p_theirs) in zip(ours.named_parameters(),
                                             theirs.named_parameters()):
        assert_close(p_ours.grad, p_theirs.grad, rtol, atol, name=name + " grad")
    state_theirs = theirs.state_dict()
    for name, value in ours.state_dict().items():
        assert_close(value, state_theirs[name], rtol, atol, name=name)
    return out_ours


# -- initialisation -------------------------------------------------------------
@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
    ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
    ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_matches_torch(torch, nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param))


@pytest.mark.parametrize("shape", [(3, 4), (8, 3, 5, 5), (2, 4, 1, 1),
                                   (5, 6, 7)])
def test_fans_match_torch(torch, shape):
    ours = init._calculate_fan_in_and_fan_out(minidl.zeros(shape))
    theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))
    assert ours == theirs


def test_fans_need_two_dims():
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions \(shape \(3,\)\)"):
        init.kaiming_uniform_(minidl.zeros(3))


INITIALISERS = [
    ("kaiming_uniform_", {}), ("kaiming_uniform_", {"a": math.sqrt(5)}),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {}),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("xavier_uniform_", {}), ("xavier_normal_", {"gain": 2.0}),
    ("uniform_", {"a": -0.3, "b": 0.7}), ("normal_", {"mean": 1.0, "std": 0.1}),
    ("trunc_normal_", {"std": 2.0, "a": -1.0, "b": 3.0}),
]


@pytest.mark.parametrize("name,kwargs", INITIALISERS)
def test_initialisers_match_torch_distribution(torch, name, kwargs):
    """Same mean, standard deviation and range as torch's, on 150k draws."""
    shape = (64, 32, 9, 9)
    ours = getattr(init, name)(minidl.zeros(shape), **kwargs)
    theirs = getattr(torch.nn.init, name)(torch.zeros(shape), **kwargs).numpy()
    values = to_numpy(ours)
    assert ours.dtype == np.float32 and ours.shape == shape
    spread = float(theirs.std())  # a Python float: pytest.approx wants one
    assert values.std() == pytest.approx(spread, rel=0.02)
    assert values.mean() == pytest.approx(theirs.mean(), abs=0.02 * spread)
    if "uniform" in name or "trunc" in name:  # bounded: same bounds
        assert values.min() >= theirs.min() - 0.01 * spread
        assert values.max() <= theirs.max() + 0.01 * spread
        assert values.min() <= theirs.min() + 0.01 * spread
        assert values.max() >= theirs.max() - 0.01 * spread
    minidl.manual_seed(3)
    first = to_numpy(getattr(init, name)(minidl.zeros(4, 4), **kwargs))
    minidl.manual_seed(3)
    second = to_numpy(getattr(init, name)(minidl.zeros(4, 4), **kwargs))
    np.testing.assert_array_equal(first, second)  # the global generator


def test_constant_initialisers_keep_dtype():
    x = minidl.zeros(2, 3, dtype=minidl.float64)
    assert np.all(to_numpy(init.ones_(x)) == 1) and x.dtype == np.float64
    assert np.all(to_numpy(init.constant_(x, 0.5)) == 0.5)
    assert np.all(to_numpy(init.zeros_(x)) == 0)
    with pytest.raises(ValueError, match="mode 'fan_middle'"):
        init.kaiming_normal_(x, mode="fan_middle")
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("make", [
    lambda nn: nn.Linear(300, 200),
    lambda nn: nn.Conv2d(64, 128, 3),
    lambda nn: nn.ConvTranspose2d(64, 128, 3, groups=2),
    lambda nn: nn.Conv2d(64, 128, (1, 5), groups=4)])
def test_default_layer_initialisation_matches_torch(torch, make):
    """Weight and bias ~ U(-b, b), b = 1 / sqrt(fan_in), fan_in from torch."""
    ours, theirs = make(nn), make(torch.nn)
    fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(theirs.weight)
    bound = 1 / math.sqrt(fan_in)
    for name, param in ours.named_parameters():
        values = to_numpy(param)
        assert param.dtype == np.float32, name
        assert np.abs(values).max() <= bound, name
        assert np.abs(values).max() >= 0.95 * bound, name  # >= 128 draws
        # The sample std of n uniform draws is within 4/sqrt(n) (relative)
        # of b / sqrt(3) except with negligible probability.
        assert values.std() == pytest.approx(bound / math.sqrt(3), rel=4 / math.sqrt(
            values.size)), name


# -- layers against torch -----------------------------------------------------
@given(batch=st.lists(st.integers(1, 3), min_size=1, max_size=2),
       sizes=st.tuples(st.integers(1, 5), st.integers(1, 5)), bias=st.booleans())
def test_linear_matches_torch(torch, batch, sizes, bias):
    ours, theirs = nn.Linear(*sizes, bias=bias), torch.nn.Linear(*sizes, bias=bias)
    x = np.random.default_rng(0).standard_normal(tuple(batch) + (sizes[0],))
    compare_layer(torch, ours, theirs, x)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@given(data=st.data())
def test_conv2d_matches_torch(torch, data):
    groups = data.draw(st.sampled_from([1, 2]))
    c_in, c_out = 2 * data.draw(st.integers(1, 2)), 2 * data.draw(st.integers(1, 2))
    kernel = data.draw(st.one_of(st.integers(1, 3),
                                 st.tuples(st.integers(1, 3), st.integers(1, 3))))
    dilation = data.draw(st.sampled_from([1, 2, (1, 2)]))
    padding = data.draw(st.one_of(st.integers(0, 2),
                                  st.tuples(st.integers(0, 2), st.integers(0, 2)),
                                  st.sampled_from(["same", "valid"])))
    stride = 1 if padding == "same" else data.draw(
        st.one_of(st.integers(1, 2), st.tuples(st.integers(1, 2),
                                               st.integers(1, 2))))
    bias = data.draw(st.booleans())
    args = dict(stride=stride, padding=padding, dilation=dilation,
                groups=groups, bias=bias)
    ours = nn.Conv2d(c_in, c_out, kernel, **args)
    theirs = torch.nn.Conv2d(c_in, c_out, kernel, **args)
    x = np.random.default_rng(0).standard_normal((2, c_in, 7, 6))
    compare_layer(torch, ours, theirs, x)


@given(data=st.data())
def test_conv_transpose2d_matches_torch(torch, data):
    groups = data.draw(st.sampled_from([1, 2]))
    c_in, c_out = 2 * data.draw(st.integers(1, 2)), 2 * data.draw(st.integers(1, 2))
    kernel = data.draw(st.one_of(st.integers(1, 3),
                                 st.tuples(st.integers(1, 3), st.integers(1, 3))))
    stride = data.draw(st.sampled_from([1, 2, (2, 1)]))
    dilation = data.draw(st.sampled_from([1, 2]))
    padding = data.draw(st.integers(0, 1))
    output_padding = data.draw(st.integers(0, 1))
    args = dict(stride=stride, padding=padding, output_padding=output_padding,
                groups=groups, bias=data.draw(st.booleans()), dilation=dilation)
    x = np.random.default_rng(0).standard_normal((2, c_in, 4, 5))
    try:
        theirs = torch.nn.ConvTranspose2d(c_in, c_out, kernel, **args)
        theirs(torch.zeros(1, c_in, 4, 5))
    except RuntimeError:  # output_padding not below stride or dilation
        with pytest.raises(ValueError, match="output_padding"):
            nn.ConvTranspose2d(c_in, c_out, kernel, **args)(
                minidl.tensor(x.astype(np.float32)))
        return
    ours = nn.ConvTranspose2d(c_in, c_out, kernel, **args)
    assert [name for name, _ in ours.named_parameters()] == \
        [name for name, _ in theirs.named_parameters()]
    assert ours.weight.shape == tuple(theirs.weight.shape)
    assert repr(ours) == repr(theirs)
    compare_layer(torch, ours, theirs, x)


def test_conv_transpose2d_output_size_as_torch(torch):
    ours = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    theirs = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    copy_state(ours, theirs)
    x = np.random.default_rng(0).standard_normal((1, 3, 4, 4))
    for size in [(7, 7), (8, 8), (1, 2, 7, 8)]:
        assert_close(ours(minidl.tensor(x), output_size=size),
                     theirs(torch.tensor(x), output_size=size))
    with pytest.raises(ValueError, match=r"ConvTranspose2d: output_size \(9, 9\) "
                                         r"is not reachable .* \[7, 8\]"):
        ours(minidl.tensor(x), output_size=(9, 9))


@pytest.mark.parametrize("kwargs", [
    {}, {"momentum": None}, {"momentum": 0.3, "eps": 1e-3}, {"affine": False},
    {"track_running_stats": False}, {"bias": False}])
def test_batchnorm2d_matches_torch_in_both_modes(torch, kwargs):
    ours, theirs = nn.BatchNorm2d(3, **kwargs), torch.nn.BatchNorm2d(3, **kwargs)
    randomise(torch, theirs)
    rng = np.random.default_rng(0)
    copy_state(ours.double(), theirs.double())
    for step in range(3):  # running statistics accumulate over steps
        x = rng.standard_normal((4, 3, 3, 2)) * 2 + 1
        compare_layer(torch, ours, theirs, x)
        if ours.track_running_stats:
            assert ours.num_batches_tracked.item() == step + 1
    ours.eval()
    theirs.eval()
    compare_layer(torch, ours, theirs, rng.standard_normal((2, 3, 2, 2)))
    if ours.track_running_stats:
        assert ours.num_batches_tracked.item() == 3  # not counted in eval


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6)])
def test_batchnorm1d_matches_torch(torch, shape):
    ours, theirs = nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    randomise(torch, theirs)
    x = np.random.default_rng(0).standard_normal(shape)
    compare_layer(torch, ours, theirs, x)
    ours.eval()
    theirs.eval()
    compare_layer(torch, ours, theirs, x)


def test_batchnorm_stays_float32():
    layer = nn.BatchNorm2d(2)
    y = layer(minidl.randn(3, 2, 2, 2))
    assert y.dtype == np.float32 and layer.running_var.dtype == np.float32
    assert layer.num_batches_tracked.dtype == np.int64


@pytest.mark.parametrize("make", [
    lambda nn: nn.MaxPool2d(2),
    lambda nn: nn.MaxPool2d(3, stride=2, padding=1),
    lambda nn: nn.MaxPool2d((2, 3), stride=(1, 2), dilation=(2, 1),
                            ceil_mode=True),
    lambda nn: nn.AvgPool2d(2),
    lambda nn: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
    lambda nn: nn.AvgPool2d(3, stride=2, ceil_mode=True),
    lambda nn: nn.AdaptiveAvgPool2d(1),
    lambda nn: nn.AdaptiveAvgPool2d((3, 2)),
    lambda nn: nn.ReLU(), lambda nn: nn.GELU(),
    lambda nn: nn.GELU(approximate="tanh"), lambda nn: nn.Sigmoid(),
    lambda nn: nn.Tanh(), lambda nn: nn.Softmax(dim=1),
    lambda nn: nn.LogSoftmax(dim=-1), lambda nn: nn.Flatten(),
    lambda nn: nn.Flatten(0, 2), lambda nn: nn.Identity(7, name="x")])
def test_parameter_free_layers_match_torch(torch, make):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 8))
    compare_layer(torch, make(nn), make(torch.nn), x)


def test_dropout_layer_follows_the_mode():
    layer = nn.Dropout(0.25)
    x = minidl.ones(200, 100)
    y = to_numpy(layer(x))
    assert abs((y == 0).mean() - 0.25) < 0.02
    np.testing.assert_allclose(y[y != 0], 1 / 0.75, rtol=1e-6)
    layer.eval()
    np.testing.assert_array_equal(to_numpy(layer(x)), to_numpy(x))
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)


@pytest.mark.parametrize("kwargs", [
    {}, {"reduction": "sum"}, {"reduction": "none"}, {"label_smoothing": 0.1},
    {"ignore_index": 1}, {"weight": [0.5, 2.0, 1.0, 1.5]}])
def test_cross_entropy_loss_matches_torch(torch, kwargs):
    rng = np.random.default_rng(0)
    logits, target = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    ours_kwargs, theirs_kwargs = dict(kwargs), dict(kwargs)
    if "weight" in kwargs:
        ours_kwargs["weight"] = minidl.tensor(np.array(kwargs["weight"]))
        theirs_kwargs["weight"] = torch.tensor(kwargs["weight"],
                                               dtype=torch.float64)
    ours = nn.CrossEntropyLoss(**ours_kwargs)
    theirs = torch.nn.CrossEntropyLoss(**theirs_kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    compare_layer(torch, ours, theirs, logits, target)


def test_mse_and_nll_losses_match_torch(torch):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    for reduction in ("mean", "sum", "none"):
        compare_layer(torch, nn.MSELoss(reduction), torch.nn.MSELoss(
            reduction=reduction), x, y)
    log_probs = np.log(rng.dirichlet(np.ones(4), size=5))
    compare_layer(torch, nn.NLLLoss(), torch.nn.NLLLoss(), log_probs,
                  rng.integers(0, 4, 5))
    with pytest.raises(ValueError, match="MSELoss: reduction must be"):
        nn.MSELoss("average")


# -- bad input --------------------------------------------------------------------
def test_layers_name_the_expected_shapes():
    with pytest.raises(ValueError, match=r"Linear\(in_features=4, out_features=2\)"
                                         r": expected input of shape \(\*, 4\), "
                                         r"got \(3, 5\)"):
        nn.Linear(4, 2)(minidl.randn(3, 5))
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8\): expected input of shape "
                                         r"\(N, 3, H, W\).*got \(2, 4, 8, 8\)"):
        nn.Conv2d(3, 8, 3)(minidl.randn(2, 4, 8, 8))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4-d input, got "
                                         r"2-d input of shape \(2, 3\)"):
        nn.BatchNorm2d(3)(minidl.randn(2, 3))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\): expected 3 channels "
                                         r"in dim 1, got input of shape \(2, 4\)"):
        nn.BatchNorm1d(3)(minidl.randn(2, 4))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 8, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for "
                                         "strided"):
        nn.Conv2d(3, 8, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode 'reflect'"):
        nn.Conv2d(3, 8, 3, padding_mode="reflect")


def test_float32_layers_give_float32():
    x = minidl.randn(2, 3, 8, 8)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4),
                          nn.ReLU(), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Dropout(0.5), nn.Linear(4, 3),
                          nn.GELU())
    y = model(x)
    assert y.dtype == np.float32
    loss = nn.CrossEntropyLoss()(y, minidl.tensor([0, 2]))
    loss.backward()
    assert loss.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
