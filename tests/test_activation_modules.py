"""The activation modules against torch.nn's: constructor arguments,
repr, forward values and input gradients; and the inplace= forms of the
functional activations."""
import numpy as np
import pytest

import minidl
from conftest import assert_close

MODULES = [
    ("SiLU", (), {}), ("SiLU", (), {"inplace": True}), ("Mish", (), {}),
    ("LeakyReLU", (0.2,), {}), ("LeakyReLU", (), {"negative_slope": 0.05, "inplace": True}),
    ("ELU", (), {"alpha": 0.7}), ("CELU", (1.5,), {}), ("SELU", (), {}),
    ("ReLU6", (), {"inplace": True}), ("Hardtanh", (-2.0, 2.0), {}),
    ("Hardtanh", (), {}), ("Hardsigmoid", (), {}), ("Hardswish", (), {}),
    ("Softplus", (), {"beta": 2, "threshold": 5.0}), ("Softsign", (), {}),
    ("LogSigmoid", (), {}), ("Softmin", (), {"dim": 1}), ("Tanhshrink", (), {}),
    ("Threshold", (0.1, 20.0), {}), ("Hardshrink", (), {"lambd": 0.3}),
    ("Softshrink", (0.4,), {}), ("GLU", (), {"dim": 1}), ("PReLU", (), {}),
    ("PReLU", (3,), {"init": 0.1}),
]


@pytest.mark.parametrize("name,args,kwargs", MODULES,
                         ids=[f"{m[0]}{i}" for i, m in enumerate(MODULES)])
def test_activation_module_matches_torch(torch, name, args, kwargs):
    mine = getattr(minidl.nn, name)(*args, **kwargs)
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    assert repr(mine) == repr(theirs)
    x = np.random.default_rng(0).uniform(-4, 4, (2, 4, 3))
    x[np.abs(x) < 0.05] = 0.5  # away from the kinks at 0
    x_mine = minidl.tensor(x, requires_grad=True)
    x_theirs = torch.tensor(x, requires_grad=True)
    if name == "PReLU":
        mine.weight = minidl.nn.Parameter(minidl.tensor(
            theirs.weight.detach().numpy()))
        if theirs.weight.numel() > 1:
            x_mine = minidl.tensor(x[:, :3], requires_grad=True)
            x_theirs = torch.tensor(x[:, :3], requires_grad=True)
    out_mine, out_theirs = mine(x_mine), theirs(x_theirs * 1)
    assert_close(out_mine, out_theirs.detach(), name=name)
    weights = np.random.default_rng(1).standard_normal(out_mine.shape)
    (out_mine * minidl.tensor(weights)).sum().backward()
    (out_theirs * torch.tensor(weights)).sum().backward()
    assert_close(x_mine.grad, x_theirs.grad, name=name)
    if name == "PReLU":
        assert_close(mine.weight.grad, theirs.weight.grad, name="PReLU weight")


def test_prelu_weight_is_a_parameter_and_loads_from_torch(torch):
    mine, theirs = minidl.nn.PReLU(4), torch.nn.PReLU(4)
    assert [name for name, _ in mine.named_parameters()] == ["weight"]
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor([0.1, 0.2, 0.3, 0.4]))
    mine.load_state_dict({"weight": theirs.weight.detach().numpy()})
    assert_close(mine.weight, theirs.weight.detach())
    with pytest.raises(ValueError, match="prelu: weight has 4 elements"):
        mine(minidl.zeros(2, 3))


FUNCTIONAL_INPLACE = ["silu", "mish", "leaky_relu", "elu", "celu", "selu",
                      "relu6", "hardtanh", "hardsigmoid", "hardswish"]


@pytest.mark.parametrize("name", FUNCTIONAL_INPLACE)
def test_functional_inplace_writes_into_the_input_like_torch(torch, name):
    x = np.array([-2.5, -0.5, 0.5, 4.0])
    mine, theirs = minidl.tensor(x), torch.tensor(x)
    result_mine = getattr(minidl.nn.functional, name)(mine, inplace=True)
    result_theirs = getattr(torch.nn.functional, name)(theirs, inplace=True)
    assert result_mine is mine
    assert_close(mine, theirs, name=name)
    assert_close(result_mine, result_theirs, name=name)


def test_activation_arguments_are_checked():
    with pytest.raises(ValueError, match="hardtanh: min_val"):
        minidl.nn.functional.hardtanh(minidl.zeros(2), 1.0, -1.0)
    with pytest.raises(ValueError, match="Hardtanh: min_val"):
        minidl.nn.Hardtanh(1.0, -1.0)
    with pytest.raises(ValueError, match="glu: dim 1 .* odd size 3"):
        minidl.nn.functional.glu(minidl.zeros(2, 3), dim=1)
    with pytest.raises(ValueError, match="softmin: give the dim"):
        minidl.nn.Softmin()(minidl.zeros(2, 3))


def test_activations_keep_float32_and_do_not_overflow(torch):
    """float32 in and out, finite gradients at +-1000, and values within
    float32's rounding of PyTorch's float64 ones (PyTorch's own float32
    softsign gradient loses digits to cancellation)."""
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=np.float32)
    for name in ["silu", "mish", "elu", "selu", "celu", "softplus", "logsigmoid",
                 "softsign", "hardswish", "leaky_relu", "sigmoid"]:
        mine = minidl.tensor(x, requires_grad=True)
        theirs = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        out_mine = getattr(minidl.nn.functional, name)(mine)
        out_theirs = getattr(torch.nn.functional, name)(theirs)
        assert out_mine.dtype == minidl.float32, name
        assert_close(out_mine, out_theirs.detach().float(), rtol=1e-6, atol=1e-30,
                     name=name)
        out_mine.sum().backward()
        out_theirs.sum().backward()
        assert np.isfinite(mine.grad.numpy()).all(), name
        assert_close(mine.grad, theirs.grad.float(), rtol=1e-6, atol=1e-30, name=name)


@pytest.mark.parametrize("name", ["relu_", "leaky_relu_", "hardtanh_", "elu_",
                                  "selu_", "celu_"])
def test_functional_underscore_forms_write_into_the_input(torch, name):
    x = np.array([-2.5, -0.5, 0.5, 4.0])
    mine, theirs = minidl.tensor(x), torch.tensor(x)
    assert getattr(minidl.nn.functional, name)(mine) is mine
    getattr(torch.nn.functional, name)(theirs)
    assert_close(mine, theirs, name=name)


def test_top_level_activations_like_torch(torch):
    x = np.array([-2.5, -0.5, 0.5, 4.0])
    for name, args in [("selu", ()), ("celu", ()), ("threshold", (0.1, 7.0)),
                       ("prelu", ("weight",))]:
        mine_args = [minidl.tensor([0.3]) if a == "weight" else a for a in args]
        torch_args = [torch.tensor([0.3], dtype=torch.float64) if a == "weight" else a
                      for a in args]
        assert_close(getattr(minidl, name)(minidl.tensor(x), *mine_args),
                     getattr(torch, name)(torch.tensor(x), *torch_args), name=name)
