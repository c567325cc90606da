"""Module, Parameter and the containers: registration, traversal, modes,
devices, state dicts and repr, checked against PyTorch where it has a twin."""
from collections import OrderedDict

import numpy as np
import pytest

import minidl
from minidl import nn
from conftest import to_numpy


class Block(nn.Module):
    """A module using every kind of registration, in a fixed order."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.scale = nn.Parameter(minidl.ones(3))
        self.register_buffer("count", minidl.zeros(1))
        self.register_buffer("scratch", minidl.zeros(2), persistent=False)
        self.norm = nn.BatchNorm1d(3)
        self.heads = nn.ModuleList([nn.Linear(3, 2), nn.Linear(3, 1)])
        self.named = nn.ModuleDict(OrderedDict([("b", nn.Linear(2, 2)),
                                                ("a", nn.Identity())]))

    def forward(self, x):
        return self.norm(self.fc(x) * self.scale)


def torch_block(torch):
    """Block's PyTorch twin."""
    tnn = torch.nn

    class TorchBlock(tnn.Module):
        def __init__(self):
            super().__init__()
            self.fc = tnn.Linear(4, 3)
            self.scale = tnn.Parameter(torch.ones(3))
            self.register_buffer("count", torch.zeros(1))
            self.register_buffer("scratch", torch.zeros(2), persistent=False)
            self.norm = tnn.BatchNorm1d(3)
            self.heads = tnn.ModuleList([tnn.Linear(3, 2), tnn.Linear(3, 1)])
            self.named = tnn.ModuleDict(OrderedDict([("b", tnn.Linear(2, 2)),
                                                     ("a", tnn.Identity())]))
    return TorchBlock()


def make_model():
    return nn.Sequential(Block(), nn.Sequential(nn.Linear(3, 5), nn.ReLU()))


def make_torch_model(torch):
    tnn = torch.nn
    return tnn.Sequential(torch_block(torch),
                          tnn.Sequential(tnn.Linear(3, 5), tnn.ReLU()))


# -- registration and traversal ----------------------------------------------
def test_registration_order_is_assignment_order():
    block = Block()
    assert [n for n, _ in block.named_parameters()] == [
        "scale", "fc.weight", "fc.bias", "norm.weight", "norm.bias",
        "heads.0.weight", "heads.0.bias", "heads.1.weight", "heads.1.bias",
        "named.b.weight", "named.b.bias"]
    assert [n for n, _ in block.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in block.named_children()] == ["fc", "norm", "heads",
                                                      "named"]
    assert [n for n, _ in block.named_buffers()] == [
        "count", "scratch", "norm.running_mean", "norm.running_var",
        "norm.num_batches_tracked"]
    assert [n for n, _ in block.named_modules()] == [
        "", "fc", "norm", "heads", "heads.0", "heads.1", "named", "named.b",
        "named.a"]
    assert len(list(block.modules())) == 9
    assert all(isinstance(p, nn.Parameter) and p.requires_grad
               for p in block.parameters())


def test_traversal_and_state_dict_match_torch(torch):
    model, twin = make_model(), make_torch_model(torch)
    assert [n for n, _ in model.named_parameters()] == \
        [n for n, _ in twin.named_parameters()]
    assert [n for n, _ in model.named_buffers()] == \
        [n for n, _ in twin.named_buffers()]
    assert [n for n, _ in model.named_modules()] == \
        [n for n, _ in twin.named_modules()]
    ours, theirs = model.state_dict(), twin.state_dict()
    assert list(ours) == list(theirs)  # same keys in the same order
    assert "0.scratch" not in ours  # non-persistent
    for key in theirs:
        assert ours[key].shape == tuple(theirs[key].shape), key
        assert ours[key].dtype == theirs[key].numpy().dtype, key


def test_load_torch_state_dict_copies_values_in_place(torch):
    model, twin = make_model(), make_torch_model(torch)
    with torch.no_grad():
        for value in twin.state_dict().values():
            if value.is_floating_point():
                value.uniform_(-1, 1)
    parameters_before = list(model.parameters())
    arrays_before = [p.data for p in model.parameters()]
    # float64 values go into float32 parameters, which stay float32.
    state = {k: v.numpy().astype(np.float64) if v.is_floating_point()
             else v.numpy() for k, v in twin.state_dict().items()}
    result = model.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(to_numpy(value), state[key], rtol=1e-6,
                                   err_msg=key)
    after = list(model.parameters())
    assert all(a is b for a, b in zip(after, parameters_before))
    assert all(p.data is a for p, a in zip(after, arrays_before))
    assert all(p.dtype == np.float32 for p in after)


def test_state_dict_shares_memory_and_keep_vars():
    model = nn.Linear(2, 2)
    state = model.state_dict()
    assert not state["weight"].requires_grad
    assert state["weight"].data is model.weight.data
    assert model.state_dict(keep_vars=True)["weight"] is model.weight


def test_strict_load_reports_every_problem_and_copies_nothing():
    model = make_model()
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    del state["0.fc.bias"], state["1.0.weight"]
    state["0.extra"] = np.zeros(1)
    state["0.heads.1.weight"] = np.zeros((7, 3))
    state["0.fc.weight"] = np.full((3, 4), 5.0)
    before = model.state_dict()["0.fc.weight"].numpy().copy()
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert "Sequential" in message
    assert 'Missing key(s) in state_dict: "0.fc.bias", "1.0.weight"' in message
    assert 'Unexpected key(s) in state_dict: "0.extra"' in message
    assert "size mismatch for 0.heads.1.weight" in message
    assert "(7, 3)" in message and "(1, 3)" in message
    np.testing.assert_array_equal(model.state_dict()["0.fc.weight"].numpy(),
                                  before)  # nothing copied


def test_non_strict_load_returns_the_differences_but_rejects_shapes():
    model = make_model()
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    del state["0.fc.bias"]
    state["0.extra"] = np.zeros(1)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["0.fc.bias"]
    assert result.unexpected_keys == ["0.extra"]
    state["0.fc.weight"] = np.zeros((1, 1))
    with pytest.raises(RuntimeError, match="size mismatch for 0.fc.weight"):
        model.load_state_dict(state, strict=False)


def test_batchnorm_state_without_num_batches_tracked_loads():
    """Checkpoints from PyTorch < 0.4.1 lack num_batches_tracked."""
    norm = nn.BatchNorm2d(3)
    state = {k: v for k, v in norm.state_dict().items()
             if k != "num_batches_tracked"}
    assert norm.load_state_dict(state).missing_keys == []


# -- attribute rules -----------------------------------------------------------
def test_setattr_sorts_values_and_rejects_wrong_types():
    module = nn.Module()
    module.weight = nn.Parameter(minidl.zeros(2))
    with pytest.raises(TypeError, match="parameter 'weight'"):
        module.weight = minidl.zeros(2)  # a plain Tensor is not a Parameter
    module.weight = None
    assert "weight" in module._parameters and module.weight is None
    module.child = nn.Linear(1, 1)
    with pytest.raises(TypeError, match="child module 'child'"):
        module.child = 3
    module.register_buffer("stat", minidl.zeros(1))
    with pytest.raises(TypeError, match="buffer 'stat'"):
        module.stat = np.zeros(1)
    # Re-assigning a name with another kind of value moves it.
    module.child = nn.Parameter(minidl.zeros(1))
    assert "child" in module._parameters and "child" not in module._modules
    del module.child
    assert not hasattr(module, "child")
    with pytest.raises(AttributeError, match="'Module' object has no attribute "
                                             "'missing'"):
        module.missing
    with pytest.raises(KeyError, match="contain no '.'"):
        module.register_buffer("a.b", minidl.zeros(1))
    with pytest.raises(KeyError, match="already exists"):
        module.register_buffer("training", minidl.zeros(1))
    with pytest.raises(TypeError, match="Parameter or None"):
        module.register_parameter("p", minidl.zeros(1))


def test_setattr_messages_and_kinds_as_torch(torch):
    """Each registered kind takes its own type or None, with PyTorch's
    message; a Tensor under a new name is a plain attribute."""
    for module in (nn.Module(), torch.nn.Module()):
        tensors = minidl if isinstance(module, nn.Module) else torch
        module.register_buffer("stat", tensors.zeros(1))
        module.stat = None                   # a buffer may be cleared
        assert "stat" in module._buffers and module.stat is None
        module.stat = tensors.ones(1)
        assert module._buffers["stat"] is module.stat
        module.plain = tensors.zeros(1)      # a new name: not registered
        assert "plain" not in module._buffers and "plain" in module.__dict__
        module.plain = nn.Linear(1, 1) if tensors is minidl \
            else torch.nn.Linear(1, 1)       # a module takes the name over
        assert "plain" in module._modules and "plain" not in module.__dict__
        with pytest.raises(TypeError, match=r"cannot assign 'int' .*child "
                                            r"module 'plain' \(.*Module or "
                                            r"None"):
            module.plain = 3


def test_assigning_before_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)  # before super().__init__()

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Broken()


def test_shared_parameter_is_listed_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, shared)
    assert len(list(model.parameters())) == 2
    assert [n for n, _ in model.named_modules()] == ["", "0"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight",
                                        "1.bias"]


def test_parameter_wraps_without_copying():
    data = minidl.randn(3)
    param = nn.Parameter(data)
    assert param.data is data.data and param.requires_grad and param.is_leaf
    assert repr(param).startswith("Parameter containing:\ntensor(")
    frozen = nn.Parameter(data, requires_grad=False)
    assert not frozen.requires_grad
    assert nn.Parameter().shape == (0,)


# -- modes, gradients, devices ---------------------------------------------
def test_train_and_eval_reach_every_module():
    model = make_model()
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model[0].train(False)
    assert model.training and not any(m.training for m in model[0].modules())
    with pytest.raises(ValueError, match="bool"):
        model.train("no")


def test_zero_grad_and_requires_grad():
    model = nn.Linear(3, 2)
    model(minidl.randn(4, 3)).sum().backward()
    assert model.weight.grad is not None
    model.zero_grad(set_to_none=False)
    assert np.all(to_numpy(model.weight.grad) == 0)
    assert model.weight.grad.shape == (2, 3)
    model.zero_grad()
    assert model.weight.grad is None and model.bias.grad is None
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    model(minidl.randn(4, 3))  # no graph, no error
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())


def test_to_dtype_keeps_parameter_objects_and_integer_buffers():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    model(minidl.randn(4, 2)).sum().backward()
    params = list(model.parameters())
    assert model.to(minidl.float64) is model
    assert all(a is b for a, b in zip(model.parameters(), params))
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert all(p.grad.dtype == np.float64 for p in model.parameters())
    assert model[1].running_mean.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64
    model.float()
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert model(minidl.randn(4, 2)).dtype == np.float32
    with pytest.raises(TypeError, match="floating point"):
        model.to(dtype=np.int32)


def test_to_device_moves_in_place(device):
    model = nn.Linear(2, 3)
    params = list(model.parameters())
    model.to("cpu")
    assert all(p.device == minidl.device("cpu") for p in model.parameters())
    model.to(device)
    assert all(p.device == minidl.device(device) for p in model.parameters())
    assert all(a is b for a, b in zip(model.parameters(), params))


def test_apply_visits_children_first():
    model = make_model()
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Sequential" and seen[0] == "Linear"
    assert len(seen) == len(list(model.modules()))


def test_forward_hooks_run_and_can_be_removed():
    layer = nn.Linear(2, 2)
    calls = []
    handle = layer.register_forward_hook(
        lambda module, args, output: calls.append(output.shape))
    pre = layer.register_forward_pre_hook(lambda module, args: (args[0] * 0,))
    out = layer(minidl.ones(1, 2))
    np.testing.assert_allclose(to_numpy(out), to_numpy(layer.bias)[None],
                               rtol=1e-6)
    handle.remove()
    pre.remove()
    layer(minidl.ones(1, 2))
    assert calls == [(1, 2)]


# -- containers ------------------------------------------------------------------
def test_sequential_indexing_and_editing():
    layers = [nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 3)]
    model = nn.Sequential(*layers)
    assert len(model) == 3 and list(model) == layers
    assert model[-1] is layers[2] and model[0] is layers[0]
    head = model[:2]
    assert isinstance(head, nn.Sequential) and list(head) == layers[:2]
    x = minidl.randn(4, 2)
    expected = layers[2](layers[1](layers[0](x)))
    np.testing.assert_allclose(to_numpy(model(x)), to_numpy(expected))
    model.append(nn.Identity())
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight",
                                        "2.bias"]
    del model[1]
    assert [n for n, _ in model.named_children()] == ["0", "1", "2"]
    model[0] = nn.Linear(2, 2, bias=False)
    assert "0.bias" not in model.state_dict()
    with pytest.raises(IndexError, match="out of range"):
        model[5]
    named = nn.Sequential(OrderedDict([("conv", nn.Identity()),
                                       ("act", nn.ReLU())]))
    assert [n for n, _ in named.named_children()] == ["conv", "act"]
    assert nn.Sequential()(x) is x  # an empty Sequential is the identity


def test_module_list_and_dict():
    items = nn.ModuleList([nn.Linear(1, 1)])
    items.append(nn.Linear(1, 2))
    items.extend([nn.Linear(1, 3)])
    items.insert(0, nn.Identity())
    assert [type(m).__name__ for m in items] == ["Identity", "Linear",
                                                 "Linear", "Linear"]
    assert items[-1].out_features == 3 and len(items[1:]) == 3
    del items[0]
    assert [n for n, _ in items.named_children()] == ["0", "1", "2"]
    assert len(list(items.parameters())) == 6
    table = nn.ModuleDict({"x": nn.Linear(1, 1)})
    table["y"] = nn.ReLU()
    assert list(table) == ["x", "y"] and "y" in table and len(table) == 2
    assert table.pop("y").__class__ is nn.ReLU
    with pytest.raises(NotImplementedError):
        items(minidl.ones(1))


# -- repr ---------------------------------------------------------------------
def test_repr_matches_torch(torch):
    tnn = torch.nn
    ours = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),
        nn.Conv2d(8, 8, (1, 3), padding=(0, 1), dilation=(1, 2), groups=4),
        nn.Conv2d(8, 8, 3, padding="same"),
        nn.BatchNorm2d(8, momentum=None), nn.ReLU(inplace=True), nn.ReLU(),
        nn.MaxPool2d(3, 2, 1), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(), nn.Dropout(0.25), nn.GELU(approximate="tanh"),
        nn.Identity(), nn.Sequential(nn.Linear(8, 4), nn.BatchNorm1d(4)),
        nn.ModuleList([nn.Linear(4, 2, bias=False)]),
        nn.CrossEntropyLoss(), nn.Softmax(dim=1))
    theirs = tnn.Sequential(
        tnn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),
        tnn.Conv2d(8, 8, (1, 3), padding=(0, 1), dilation=(1, 2), groups=4),
        tnn.Conv2d(8, 8, 3, padding="same"),
        tnn.BatchNorm2d(8, momentum=None), tnn.ReLU(inplace=True), tnn.ReLU(),
        tnn.MaxPool2d(3, 2, 1), tnn.AvgPool2d(2), tnn.AdaptiveAvgPool2d((1, 1)),
        tnn.Flatten(), tnn.Dropout(0.25), tnn.GELU(approximate="tanh"),
        tnn.Identity(), tnn.Sequential(tnn.Linear(8, 4), tnn.BatchNorm1d(4)),
        tnn.ModuleList([tnn.Linear(4, 2, bias=False)]),
        tnn.CrossEntropyLoss(), tnn.Softmax(dim=1))
    assert repr(ours) == repr(theirs)


def test_deepcopy_gives_an_independent_model():
    import copy
    model = make_model()
    twin = copy.deepcopy(model)
    assert isinstance(twin[0].fc.weight, nn.Parameter)
    assert twin[0].fc.weight is not model[0].fc.weight
    np.testing.assert_array_equal(to_numpy(twin[0].fc.weight),
                                  to_numpy(model[0].fc.weight))
    twin.eval()
    assert model.training and not twin[0].norm.training
    assert list(twin.state_dict()) == list(model.state_dict())


def test_replacing_a_child_or_parameter_keeps_its_place_as_torch(torch):
    def build(lib):
        model = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.ReLU(),
                                  lib.nn.Linear(3, 1))
        setattr(model, "0", lib.nn.Linear(2, 3, bias=False))
        first = model[0]
        first.weight = lib.nn.Parameter(lib.zeros(3, 2))
        first.bias = lib.nn.Parameter(lib.zeros(3))
        return model
    ours, theirs = build(minidl), build(torch)
    assert [name for name, _ in ours.named_modules()] == \
        [name for name, _ in theirs.named_modules()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours.state_dict())[:2] == ["0.weight", "0.bias"]
