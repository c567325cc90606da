"""LoRA (minidl.peft): the layers, add_lora / merge_lora, saving adapters.

What is checked: a fresh adapter leaves the output exactly unchanged, only
the adapters (and the head) train and their gradients arrive, merging
gives the same outputs and a plain model with the original state-dict
keys, the adapters save and load alone, the convolution adapter is the
dense delta-W convolution, gradcheck and gradgradcheck of the layers
(float64), attention (torch's MultiheadAttention layout, on a stand-in
checked against torch), the errors, and, when the ``peft`` package is
installed, the same forward and merged weights as PEFT's for the same A
and B.
"""
import copy
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minidl
from minidl import models, nn, peft
from minidl.autograd.gradcheck import gradcheck, gradgradcheck
from minidl.models.common import ClassifierMixin
from minidl.nn import functional as F
from minidl.nn.parameter import Parameter
from conftest import assert_value_error, to_numpy
from test_finetune import interrupt_the_second_epoch, write_random_resnet20


class TinyNet(ClassifierMixin, nn.Module):
    """conv (dilated) -> BN -> ReLU -> conv (stride 2) -> pool -> Linear ->
    ReLU -> head: every kind of layer LoRA meets in a CNN, small."""
    head_name = "fc"

    def __init__(self, num_classes=3):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=2, dilation=2, bias=False)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 8, 3, stride=2, padding=1)
        self.hidden = nn.Linear(8, 5)
        self.fc = nn.Linear(5, num_classes)
        self.num_classes = num_classes

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.conv2(x).mean(dim=(2, 3))
        return self.fc(F.relu(self.hidden(x)))


def randomise_adapters(model, seed=0, scale=0.3):
    """Non-zero B (and fresh A) in every LoRA layer, so merging matters."""
    rng = np.random.default_rng(seed)
    for _, layer in peft.lora_layers(model):
        for param in (layer.lora_A.weight, layer.lora_B.weight):
            param.data[...] = rng.normal(0, scale, param.shape)


def magnitude_close(actual, expected, terms, rtol):
    """|actual - expected| <= rtol * max|terms| elementwise: the tolerance
    scales with the size of what was summed, not with a result near 0."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    bound = rtol * max(float(np.max(np.abs(terms))), 1e-30)
    worst = float(np.max(np.abs(actual - expected)))
    assert worst <= bound, f"max difference {worst:.3g} > {bound:.3g}"


# -- at the start ---------------------------------------------------------------
@pytest.mark.parametrize("training", [False, True])
def test_output_is_exactly_unchanged_at_the_start(training):
    model = models.resnet20()
    model.train(training)
    x = minidl.randn(2, 3, 16, 16)
    before = model(x).numpy()
    peft.add_lora(model, rank=4, alpha=8)
    assert len(peft.lora_layers(model)) == 19  # every conv; not the head
    np.testing.assert_array_equal(model(x).numpy(), before)


def test_only_adapters_and_head_require_grad():
    model = peft.add_lora(models.resnet20(), rank=2)
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert "linear.weight" in trainable and "linear.bias" in trainable
    others = [n for n in trainable if not n.startswith("linear.")]
    assert others and all(n.endswith((".lora_A.weight", ".lora_B.weight"))
                          for n in others)
    assert len(others) == 2 * 19
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert {"conv1.weight", "bn1.weight", "layer3.2.conv2.weight"} <= frozen
    # trainable=[]: the adapters alone; a named stage: it trains too.
    bare = peft.add_lora(models.resnet20(), rank=2, trainable=[])
    assert all(".lora_" in n for n, p in bare.named_parameters()
               if p.requires_grad)
    staged = peft.add_lora(models.resnet20(), rank=2, trainable=["layer3.2"])
    assert staged.layer3[2].bn2.weight.requires_grad
    assert not staged.linear.weight.requires_grad


def test_counts_and_the_peft_style_report():
    model = peft.add_lora(TinyNet(), rank=2, alpha=4)
    # conv1 A (2,3,3,3) B (6,2,1,1); conv2 A (2,6,3,3) B (8,2,1,1);
    # hidden A (2,8) B (5,2); head fc (5*3 + 3).
    adapters = 2 * 27 + 12 + 2 * 54 + 16 + 16 + 10
    head = 18
    total = sum(p.data.size for p in model.parameters())
    assert peft.count_trainable(model) == (adapters + head, total)
    report = peft.trainable_parameters_report(model)
    assert report == (f"trainable params: {adapters + head:,} || all params: "
                      f"{total:,} || trainable%: "
                      f"{100 * (adapters + head) / total:.4f}")


def test_gradients_reach_a_and_b_and_the_base_stays():
    model = peft.add_lora(TinyNet(), rank=2)
    base = {n: p.numpy().copy() for n, p in model.named_parameters()
            if not p.requires_grad}
    optimizer = minidl.optim.SGD([p for p in model.parameters()
                                  if p.requires_grad], lr=0.5)
    x, labels = minidl.randn(4, 3, 8, 8), minidl.tensor([0, 1, 2, 1])
    for step in range(2):
        optimizer.zero_grad()
        F.cross_entropy(model(x), labels).backward()
        for name, layer in peft.lora_layers(model):
            assert np.any(layer.lora_B.weight.grad.numpy() != 0), name
            if step == 1:  # A's gradient is B^T (...): zero while B = 0
                assert np.any(layer.lora_A.weight.grad.numpy() != 0), name
        optimizer.step()
    for _, layer in peft.lora_layers(model):
        assert np.any(layer.lora_B.weight.numpy() != 0)
    for name, param in model.named_parameters():
        if name in base:
            assert param.grad is None, name
            np.testing.assert_array_equal(param.numpy(), base[name])


def test_float32_stays_float32():
    model = peft.add_lora(TinyNet(), rank=2, alpha=3)
    randomise_adapters(model)
    out = model(minidl.randn(2, 3, 8, 8))
    assert out.dtype == np.float32
    assert all(p.dtype == np.float32 for p in model.parameters())


# -- merging ----------------------------------------------------------------------
def test_merge_gives_the_same_outputs_and_the_plain_model_float64():
    model = models.resnet20().double().eval()
    keys = list(model.state_dict())
    plain_types = {name: type(m) for name, m in model.named_modules()}
    peft.add_lora(model, rank=3, alpha=5)
    randomise_adapters(model, scale=0.1)
    x = minidl.randn(2, 3, 16, 16).double()
    with_adapters = model(x).numpy()
    merged = peft.merge_lora(model)
    assert merged is model
    assert list(merged.state_dict()) == keys
    assert {name: type(m) for name, m in merged.named_modules()} == plain_types
    assert not peft.lora_layers(merged)
    magnitude_close(merged(x).numpy(), with_adapters, with_adapters, 1e-12)


def test_merge_float32_within_float32_rounding():
    model = TinyNet().eval()
    peft.add_lora(model, rank=2, alpha=4)
    randomise_adapters(model)
    x = minidl.randn(3, 3, 8, 8)
    with_adapters = model(x).numpy()
    magnitude_close(peft.merge_lora(model)(x).numpy(), with_adapters,
                    with_adapters, 1e-6)


def test_merged_weight_is_w_plus_scaled_b_a():
    linear = nn.Linear(4, 3).double()
    weight = linear.weight.numpy().copy()
    layer = peft.LoRALinear(linear, r=2, lora_alpha=6)
    layer.lora_B.weight.data[...] = np.arange(6.0).reshape(3, 2)
    A, B = layer.lora_A.weight.numpy(), layer.lora_B.weight.numpy()
    plain = layer.merge_and_unload()
    assert plain is linear and type(plain) is nn.Linear
    np.testing.assert_allclose(plain.weight.numpy(), weight + 3.0 * B @ A,
                               rtol=1e-14, atol=1e-14)


def test_unload_puts_the_original_layers_back_unchanged():
    model = TinyNet().eval()
    x = minidl.randn(2, 3, 8, 8)
    before = model(x).numpy()
    peft.add_lora(model, rank=2)
    randomise_adapters(model)
    np.testing.assert_array_equal(peft.unload_lora(model)(x).numpy(), before)


def test_merge_keeps_a_sequentials_order():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    peft.add_lora(model, rank=2, targets="Linear")
    assert list(model._modules) == ["0", "1", "2"]
    peft.merge_lora(model)
    assert list(model._modules) == ["0", "1", "2"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight",
                                        "2.bias"]


# -- saving the adapters ------------------------------------------------------------
def test_lora_state_dict_and_load_lora_round_trip(tmp_path):
    model = peft.add_lora(TinyNet(), rank=2, alpha=4)
    randomise_adapters(model, seed=1)
    model.fc.weight.data[...] += 1.0  # the trained head travels too
    state = peft.lora_state_dict(model)
    assert list(state) == ["conv1.lora_A.weight", "conv1.lora_B.weight",
                           "conv2.lora_A.weight", "conv2.lora_B.weight",
                           "hidden.lora_A.weight", "hidden.lora_B.weight",
                           "fc.weight", "fc.bias"]
    assert list(peft.lora_state_dict(model, include_trainable=False)) == \
        list(state)[:6]
    path = tmp_path / "lora.npz"
    minidl.save(state, path)

    minidl.manual_seed(0)
    fresh = peft.add_lora(TinyNet(), rank=2, alpha=4)  # same base weights
    peft.load_lora(fresh, minidl.load(path))
    x = minidl.randn(2, 3, 8, 8)
    model.eval(), fresh.eval()
    np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())


def test_load_lora_errors_name_the_keys():
    model = peft.add_lora(TinyNet(), rank=2)
    state = peft.lora_state_dict(model)
    partial = dict(state)
    del partial["conv2.lora_B.weight"]
    assert_value_error(lambda: peft.load_lora(model, partial),
                       "adapters missing", "conv2.lora_B.weight")
    assert_value_error(lambda: peft.load_lora(model, dict(state, extra=1.0)),
                       "keys the model does not have: extra")
    other_rank = peft.lora_state_dict(peft.add_lora(TinyNet(), rank=3))
    with pytest.raises(RuntimeError, match="size mismatch for conv1.lora_A"):
        peft.load_lora(model, other_rank)
    assert_value_error(lambda: peft.load_lora(TinyNet(), state),
                       "no LoRA layers")


# -- the layers ------------------------------------------------------------------
def test_conv_adapter_is_the_dense_delta_w_convolution_float64():
    base = nn.Conv2d(3, 5, 3, stride=2, padding=2, dilation=2).double()
    layer = peft.LoRAConv2d(base, r=2, lora_alpha=3)
    layer.lora_B.weight.data[...] = np.random.default_rng(0).normal(
        0, 1, (5, 2, 1, 1))
    A = layer.lora_A.weight.numpy()  # (2, 3, 3, 3)
    B = layer.lora_B.weight.numpy()[:, :, 0, 0]
    delta = 1.5 * np.einsum("or,rikl->oikl", B, A)
    np.testing.assert_allclose(layer.delta_weight().numpy(), delta, rtol=1e-14,
                               atol=1e-14)
    x = minidl.randn(2, 3, 9, 9).double()
    dense = F.conv2d(x, minidl.tensor(base.weight.numpy() + delta), base.bias,
                     base.stride, base.padding, base.dilation)
    out = layer(x).numpy()
    magnitude_close(out, dense.numpy(), np.abs(out) + 1, 1e-12)


@given(in_channels=st.integers(1, 4), out_channels=st.integers(1, 4),
       kernel=st.integers(1, 3), stride=st.integers(1, 2),
       padding=st.integers(0, 2), dilation=st.integers(1, 2),
       rank=st.integers(1, 3), alpha=st.sampled_from([1, 2.5, 8]),
       bias=st.booleans(), seed=st.integers(0, 2**16))
def test_conv_adapter_equals_its_merged_kernel_for_any_shape(
        in_channels, out_channels, kernel, stride, padding, dilation, rank,
        alpha, bias, seed):
    rng = np.random.default_rng(seed)
    size = dilation * (kernel - 1) + 1 + rng.integers(0, 4)
    base = nn.Conv2d(in_channels, out_channels, kernel, stride, padding,
                     dilation, bias=bias).double()
    layer = peft.LoRAConv2d(base, r=rank, lora_alpha=alpha)
    layer.lora_B.weight.data[...] = rng.normal(0, 1, layer.lora_B.weight.shape)
    x = minidl.tensor(rng.normal(0, 1, (2, in_channels, size, size)))
    out = layer(x).numpy()
    merged = layer.merge_and_unload()
    # Each output sums C_in * k * k products of |x| |W + delta|.
    magnitude_close(merged(x).numpy(), out,
                    np.abs(x.numpy()).max() * (np.abs(merged.weight.numpy())
                                               .sum() + 1), 1e-13)


@given(in_features=st.integers(1, 6), out_features=st.integers(1, 6),
       rank=st.integers(1, 4), alpha=st.sampled_from([1, 3, 16]),
       seed=st.integers(0, 2**16))
def test_linear_adapter_equals_its_merged_weight_for_any_shape(
        in_features, out_features, rank, alpha, seed):
    rng = np.random.default_rng(seed)
    layer = peft.LoRALinear(nn.Linear(in_features, out_features).double(),
                            r=rank, lora_alpha=alpha)
    layer.lora_B.weight.data[...] = rng.normal(0, 1, layer.lora_B.weight.shape)
    x = minidl.tensor(rng.normal(0, 1, (3, in_features)))
    expected = x.numpy() @ (layer.weight.numpy() + alpha / rank *
                            layer.lora_B.weight.numpy() @
                            layer.lora_A.weight.numpy()).T + layer.bias.numpy()
    out = layer(x).numpy()
    terms = np.abs(x.numpy()).max() * (np.abs(layer.weight.numpy()).sum() +
                                       alpha / rank * np.abs(
                                           layer.lora_B.weight.numpy()).sum()
                                       * np.abs(layer.lora_A.weight.numpy())
                                       .sum() + 1)
    magnitude_close(out, expected, terms, 1e-13)
    magnitude_close(layer.merge_and_unload()(x).numpy(), out, terms, 1e-13)


def _gradient_checks(layer, x):
    layer.double()
    layer.lora_B.weight.data[...] = np.random.default_rng(3).normal(
        0, 0.5, layer.lora_B.weight.shape)
    layer.requires_grad_(True)
    params = [p for p in layer.parameters()]

    def fn(x, *unused):  # the layer reads its own Parameters, perturbed
        return layer(x)
    x = x.double().requires_grad_(True)
    assert gradcheck(fn, [x] + params)
    assert gradgradcheck(fn, [x] + params)


def test_gradcheck_lora_linear():
    _gradient_checks(peft.LoRALinear(nn.Linear(3, 2), r=2, lora_alpha=3),
                     minidl.randn(2, 3))


def test_gradcheck_lora_conv2d():
    _gradient_checks(peft.LoRAConv2d(nn.Conv2d(2, 2, 3, padding=1), r=1,
                                     lora_alpha=2), minidl.randn(1, 2, 3, 3))


def test_dropout_acts_on_the_adapter_input_only():
    layer = peft.LoRALinear(nn.Linear(6, 4), r=2, lora_alpha=2,
                            lora_dropout=0.5)
    x = minidl.randn(16, 6)
    plain = F.linear(x, layer.weight, layer.bias).numpy()
    # B = 0: the output is the base one even while dropout is active.
    np.testing.assert_array_equal(layer(x).numpy(), plain)
    randomise_adapters(nn.Sequential(layer))
    layer.eval()
    update = (layer.lora_B(layer.lora_A(x)) * layer.scaling).numpy()
    np.testing.assert_allclose(layer(x).numpy(), plain + update, rtol=1e-6,
                               atol=1e-6)
    layer.train()
    assert not np.allclose(layer(x).numpy(), plain + update)


def test_the_repr_says_rank_and_alpha():
    layer = peft.LoRALinear(nn.Linear(3, 2), r=2, lora_alpha=4)
    assert "in_features=3, out_features=2, bias=True, r=2, lora_alpha=4" in \
        repr(layer)


# -- choosing the layers ---------------------------------------------------------
def test_targets_by_type_name_suffix_regex_and_list():
    model = models.resnet20()
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    assert peft.find_targets(model, "Conv2d") == convs
    assert peft.find_targets(model, nn.Conv2d) == convs
    assert peft.find_targets(model, "Linear") == ["linear"]
    assert peft.find_targets(model, "layer3.*.conv2") == [
        "layer3.0.conv2", "layer3.1.conv2", "layer3.2.conv2"]
    assert peft.find_targets(model, r"layer3\.[01]\.conv1") == [
        "layer3.0.conv1", "layer3.1.conv1"]
    assert len(peft.find_targets(model, "conv2")) == 9  # every *.conv2
    assert peft.find_targets(model, ["conv1", "linear"]) == \
        ["conv1"] + [n for n in convs if n.endswith(".conv1")] + ["linear"]
    # Default: every conv, and the head stays out.
    assert peft.find_targets(model) == convs
    peft.add_lora(model, targets=["layer3.2.conv2", "linear"], trainable=[])
    assert isinstance(model.linear, peft.LoRALinear)
    assert [n for n, _ in peft.lora_layers(model)] == ["layer3.2.conv2",
                                                       "linear"]


def test_bad_targets_and_arguments_give_clear_errors():
    model = models.resnet20()
    assert_value_error(lambda: peft.add_lora(model, targets="layer9.conv1"),
                       "'layer9.conv1' matches no Linear, Conv2d or attention",
                       "conv1, layer1.0.conv1, layer1.0.conv2")
    assert_value_error(lambda: peft.add_lora(model, targets="bn1"),
                       "'bn1' is a BatchNorm2d")
    assert_value_error(lambda: peft.add_lora(model, targets=[]), "empty list")
    assert_value_error(lambda: peft.add_lora(model, targets="conv1("),
                       "not a valid regular expression")
    assert_value_error(lambda: peft.add_lora(model, targets="MultiheadAttention"),
                       "'MultiheadAttention' matches no")
    for rank in (0, -1, 1.5, True):
        assert_value_error(lambda: peft.add_lora(model, rank=rank),
                           "add_lora: the rank r must be a positive int")
    assert_value_error(lambda: peft.add_lora(model, alpha=0),
                       "lora_alpha must be a positive number")
    assert_value_error(lambda: peft.add_lora(model, dropout=1.0),
                       "lora_dropout must be in [0, 1)")
    with pytest.raises(AttributeError, match="no submodule 'head'"):
        peft.add_lora(model, trainable=["head"])
    assert not peft.lora_layers(model)  # nothing was changed by the errors
    peft.add_lora(model, rank=2)
    assert_value_error(lambda: peft.add_lora(model), "already has LoRA layers")
    assert_value_error(lambda: peft.merge_lora(models.resnet20()),
                       "merge_lora: the model has no LoRA layers")
    grouped = nn.Conv2d(4, 4, 3, groups=2)
    assert_value_error(lambda: peft.LoRAConv2d(grouped, r=2),
                       "groups=2; LoRA supports groups=1 only")
    with pytest.raises(TypeError, match="wraps a plain nn.Linear"):
        peft.LoRALinear(nn.Conv2d(1, 1, 1))


# -- attention ---------------------------------------------------------------------
class StandInAttention(nn.Module):
    """torch.nn.MultiheadAttention's layout and forward path (batch_first
    False, no masks): in_proj_weight (3E, E) split into query, key and
    value projections, scaled dot-product attention per head, and out_proj
    applied through its weight (not its forward), as torch's functional
    form does. Returns (output (L, N, E), weights averaged over heads)."""

    def __init__(self, embed_dim, num_heads):
        super().__init__()
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.batch_first = False
        self.in_proj_weight = Parameter(minidl.randn(3 * embed_dim, embed_dim)
                                        .numpy() * 0.4)
        self.in_proj_bias = Parameter(minidl.randn(3 * embed_dim).numpy() * 0.1)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def forward(self, query, key, value, need_weights=True):
        E, H = self.embed_dim, self.num_heads
        D = E // H
        (L, N, _), S = query.shape, key.shape[0]
        w, b = self.in_proj_weight, self.in_proj_bias
        q = F.linear(query, w[:E], b[:E]).reshape(L, N * H, D).transpose(0, 1)
        k = F.linear(key, w[E:2 * E], b[E:2 * E]).reshape(S, N * H, D) \
            .transpose(0, 1)
        v = F.linear(value, w[2 * E:], b[2 * E:]).reshape(S, N * H, D) \
            .transpose(0, 1)
        attn = F.softmax(q @ k.transpose(1, 2) * (1 / math.sqrt(D)), dim=-1)
        out = (attn @ v).transpose(0, 1).reshape(L, N, E)
        out = F.linear(out, self.out_proj.weight, self.out_proj.bias)
        weights = attn.reshape(N, H, L, S).mean(dim=1) if need_weights else None
        return out, weights


def _attention_factories():
    factories = [pytest.param(StandInAttention, id="stand-in")]
    if hasattr(nn, "MultiheadAttention"):
        factories.append(pytest.param(nn.MultiheadAttention, id="minidl"))
    else:
        factories.append(pytest.param(None, id="minidl", marks=pytest.mark.skip(
            reason="minidl.nn has no MultiheadAttention on this branch")))
    return factories


def _torch_attention(torch, ours, in_proj_weight, out_proj_weight):
    theirs = torch.nn.MultiheadAttention(ours.embed_dim, ours.num_heads,
                                         dtype=torch.float64)
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.tensor(in_proj_weight))
        theirs.in_proj_bias.copy_(torch.tensor(ours.in_proj_bias.numpy()))
        theirs.out_proj.weight.copy_(torch.tensor(out_proj_weight))
        theirs.out_proj.bias.copy_(torch.tensor(ours.out_proj.bias.numpy()))
    return theirs


@pytest.mark.parametrize("make", _attention_factories())
def test_attention_lora_matches_torch_with_the_merged_weights(torch, make):
    attention = make(6, 2).double()
    plain_keys = list(attention.state_dict())
    L, S, N = 3, 4, 2
    q, k, v = (minidl.randn(n, N, 6).double() for n in (L, S, S))
    # The stand-in (or minidl's module) is torch's MultiheadAttention.
    theirs = _torch_attention(torch, attention, attention.in_proj_weight.numpy(),
                              attention.out_proj.weight.numpy())
    expected = theirs(*(torch.tensor(t.numpy()) for t in (q, k, v)))
    np.testing.assert_allclose(attention(q, k, v)[0].numpy(),
                               expected[0].detach().numpy(), rtol=1e-10,
                               atol=1e-12)

    model = nn.Sequential(attention)
    peft.add_lora(model, rank=2, alpha=3, targets="MultiheadAttention")
    layer = model[0]
    assert isinstance(layer, peft.LoRAMultiheadAttention)
    assert layer.embed_dim == 6 and layer.num_heads == 2  # read through
    keys = list(model.state_dict())
    assert [k for k in keys if ".lora_" not in k] == ["0." + k for k in
                                                      plain_keys]
    assert sorted(k for k in keys if ".lora_" in k) == [
        "0.lora_A.weight", "0.lora_B.weight", "0.out_proj.lora_A.weight",
        "0.out_proj.lora_B.weight"]
    assert layer.lora_A.weight.shape == (2, 6)
    assert layer.lora_B.weight.shape == (18, 2)  # one update of (3E, E)
    np.testing.assert_array_equal(layer(q, k, v)[0].numpy(),
                                  attention(q, k, v)[0].numpy())

    randomise_adapters(model, scale=0.3)
    in_w = attention.in_proj_weight.numpy() + layer.delta_weight().numpy()
    out_w = attention.out_proj.weight.numpy() + \
        layer.out_proj.delta_weight().numpy()
    theirs = _torch_attention(torch, attention, in_w, out_w)
    expected = theirs(*(torch.tensor(t.numpy()) for t in (q, k, v)))
    out, weights = layer(q, k, v)
    np.testing.assert_allclose(out.numpy(), expected[0].detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights.numpy(), expected[1].detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    # Gradients reach all four adapters and no base weight.
    out.sum().backward()
    for param in (layer.lora_A.weight, layer.lora_B.weight,
                  layer.out_proj.lora_A.weight, layer.out_proj.lora_B.weight):
        assert param.grad is not None and np.any(param.grad.numpy() != 0)
    assert attention.in_proj_weight.grad is None
    assert "in_proj_weight" not in attention.__dict__  # the shadow is gone

    merged = peft.merge_lora(model)
    assert merged[0] is attention and type(attention.out_proj) is nn.Linear
    assert list(merged.state_dict()) == ["0." + k for k in plain_keys]
    np.testing.assert_allclose(attention(q, k, v)[0].numpy(), out.numpy(),
                               rtol=1e-12, atol=1e-12)


def test_attention_targets_and_errors():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = StandInAttention(4, 2)
            self.mlp = nn.Linear(4, 4)
            self.fc = nn.Linear(4, 2)
        head_name = "fc"

    block = Block()
    assert peft.find_targets(block) == ["attn", "mlp"]  # out_proj: with attn
    assert peft.find_targets(block, "Linear") == ["mlp", "fc"]
    assert_value_error(lambda: peft.find_targets(block, "attn.out_proj"),
                       "attn.out_proj is the out_proj of the attention module "
                       "attn", "target the attention module itself")
    assert peft.find_targets(block, ["attn", "attn.out_proj"]) == ["attn"]
    assert_value_error(lambda: peft.add_lora(block, dropout=0.1),
                       "lora_dropout=0.1 cannot apply to attention")
    train = peft.add_lora(Block(), rank=2, targets="attn")
    train.eval()
    assert not train.attn.training and not train.attn._base_layer.training


# -- PEFT ---------------------------------------------------------------------------
@pytest.fixture
def peft_library(torch):
    return pytest.importorskip("peft", reason="the peft package is not "
                               "installed (pip install peft)")


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_same_forward_and_merged_weights_as_peft(torch, peft_library, kind):
    if kind == "linear":
        theirs_base = torch.nn.Sequential(torch.nn.Linear(5, 4))
        ours_base = nn.Linear(5, 4).double()
        x = np.random.default_rng(0).normal(size=(3, 5))
    else:
        theirs_base = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2,
                                                          padding=1))
        ours_base = nn.Conv2d(3, 4, 3, stride=2, padding=1).double()
        x = np.random.default_rng(0).normal(size=(2, 3, 7, 7))
    theirs_base = theirs_base.double()
    ours_base.load_state_dict({k.split(".", 1)[1]: v.detach().numpy()
                               for k, v in theirs_base.state_dict().items()})
    config = peft_library.LoraConfig(r=2, lora_alpha=5, target_modules=["0"])
    theirs = peft_library.get_peft_model(theirs_base, config)
    ours = nn.Sequential(ours_base)
    peft.add_lora(ours, rank=2, alpha=5, targets=["0"])
    randomise_adapters(ours, seed=4)
    layer = ours[0]
    with torch.no_grad():
        for name in ("lora_A", "lora_B"):
            getattr(theirs.base_model.model[0], name)["default"].weight.copy_(
                torch.tensor(getattr(layer, name).weight.numpy()))
    expected = theirs(torch.tensor(x)).detach().numpy()
    out = ours(minidl.tensor(x)).numpy()
    magnitude_close(out, expected, np.abs(out) + 1, 1e-12)
    our_keys = [k for k in ours.state_dict() if ".lora_" in k]
    their_keys = [k.replace("base_model.model.", "") for k in
                  peft_library.get_peft_model_state_dict(theirs)]
    assert our_keys == their_keys  # PEFT's adapter names: 0.lora_A.weight
    merged_theirs = theirs.merge_and_unload()[0].weight.detach().numpy()
    merged_ours = peft.merge_lora(ours)[0].weight.numpy()
    magnitude_close(merged_ours, merged_theirs, np.abs(merged_theirs) + 1, 1e-12)


def test_deepcopy_keeps_a_lora_model_before_merging():
    model = peft.add_lora(TinyNet(), rank=2).eval()
    randomise_adapters(model)
    kept = copy.deepcopy(model)
    x = minidl.randn(2, 3, 8, 8)
    merged_out = peft.merge_lora(model)(x).numpy()
    assert peft.lora_layers(kept)
    magnitude_close(kept(x).numpy(), merged_out, merged_out, 1e-5)


# -- the fine-tuning command ---------------------------------------------------------
def write_tiny_folder(root, classes=("blue", "green", "red"), per_class=8,
                      size=16):
    """Class folders of PNG files; class k is brightest in channel 2 - k."""
    from PIL import Image
    rng = np.random.default_rng(0)
    for index, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 90, (size, size, 3))
            pixels[..., 2 - index] += 150
            Image.fromarray(pixels.astype(np.uint8)).save(root / name /
                                                          f"{i:02d}.png")
    return root


@pytest.fixture(scope="module")
def finetune_inputs(tmp_path_factory):
    pytest.importorskip("PIL")
    root = tmp_path_factory.mktemp("lora-finetune")
    data = write_tiny_folder(root / "images")
    weights = write_random_resnet20(root / "resnet20-random.npz")
    return data, weights


def run_finetune(data, weights, out, *extra):
    from minidl import finetune
    before = minidl.get_num_threads()
    minidl.set_num_threads(1)
    try:
        return finetune.main([
            "--weights", str(weights), "--data", str(data), "--out", str(out),
            "--val-split", "0.25", "--batch-size", "8", "--epochs", "1",
            "--lr", "0.05", "--num-workers", "1", "--device", "cpu"]
            + list(extra))
    finally:
        minidl.set_num_threads(before)


def test_finetune_with_lora_writes_adapters_and_the_merged_model(
        finetune_inputs, tmp_path, capsys, monkeypatch):
    from minidl.training import lora as lora_setup
    monkeypatch.setenv("MINIDL_CACHE", str(tmp_path / "cache"))
    data, weights = finetune_inputs
    out = tmp_path / "run"
    assert run_finetune(data, weights, out, "--lora-rank", "2",
                        "--lora-alpha", "3", "--lora-targets", "layer3.*.conv2",
                        "layer2.0.conv1") == 0
    printed = capsys.readouterr().out
    assert "LoRA r=2, lora_alpha=3 on 4 layers: trainable params: " in printed
    assert "wrote " + str(out / "lora.npz") in printed
    adapters, metadata = minidl.load(out / "lora.npz", with_metadata=True)
    targets = ["layer2.0.conv1", "layer3.0.conv2", "layer3.1.conv2",
               "layer3.2.conv2"]
    assert list(adapters) == [f"{t}.lora_{x}.weight" for t in targets
                              for x in "AB"] + ["linear.weight", "linear.bias"]
    assert metadata["format"] == "minidl-lora"
    assert metadata["lora"]["target_modules"] == targets
    assert metadata["lora"]["modules_to_save"] == ["linear"]
    assert metadata["lora"]["r"] == 2 and metadata["lora"]["lora_alpha"] == 3

    merged, _ = minidl.load(out / "model.npz", with_metadata=True)
    original = minidl.load(weights)
    assert list(merged) == list(original)  # a plain resnet20's keys
    for key in original:  # the frozen weights and BN statistics stay
        if key.startswith(tuple(targets)) or key.startswith("linear"):
            continue
        np.testing.assert_array_equal(to_numpy(merged[key]),
                                      to_numpy(original[key]), err_msg=key)
    # The same merged weights from the pretrained file plus lora.npz.
    rebuilt = models.load_pretrained(str(weights), num_classes=3)
    lora_setup.load_lora_file(rebuilt, out / "lora.npz")
    peft.merge_lora(rebuilt)
    for key, value in rebuilt.state_dict().items():
        np.testing.assert_allclose(value.numpy(), to_numpy(merged[key]),
                                   rtol=1e-6, atol=1e-6, err_msg=key)
    assert not np.allclose(to_numpy(merged["layer3.0.conv2.weight"]),
                           to_numpy(original["layer3.0.conv2.weight"]))


def test_finetune_lora_option_values_are_refused_while_parsing(
        finetune_inputs, tmp_path, capsys):
    data, weights = finetune_inputs
    for option, value in (("--lora-rank", "0"), ("--lora-alpha", "nan"),
                          ("--lora-dropout", "1.5")):
        with pytest.raises(SystemExit) as exit_info:
            run_finetune(data, weights, tmp_path / "run", "--lora-rank", "2",
                         option, value)
        assert exit_info.value.code == 2
        assert f"argument {option}: expected" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("options, message", [
    (["--lora-alpha", "4"], "--lora-alpha need --lora-rank"),
    (["--lora-rank", "2", "--freeze", "backbone"],
     "does not combine with --freeze backbone"),
    (["--lora-rank", "2", "--lora-targets", "layer7"],
     "target 'layer7' matches no Linear, Conv2d or attention layer"),
])
def test_finetune_lora_option_errors(finetune_inputs, tmp_path, capsys,
                                     monkeypatch, options, message):
    monkeypatch.setenv("MINIDL_CACHE", str(tmp_path / "cache"))
    data, weights = finetune_inputs
    assert run_finetune(data, weights, tmp_path / "run", *options) == 1
    assert message in capsys.readouterr().err


def test_attention_matches_peft(torch, peft_library):
    """PEFT's LoRA on torch's MultiheadAttention and ours on the stand-in,
    with the same in-projection A and B: the same output and merged
    weights. out_proj's B stays 0 here: PEFT 0.21.2 applies out_proj's
    update twice (its merge sets W + dW, then merges the LoRA Linear again:
    W + 2 dW, in forward and in merge_and_unload); ours adds it once, and
    out_proj's LoRALinear is compared with PEFT's Linear above."""
    class Holder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = torch.nn.MultiheadAttention(6, 2, dtype=torch.float64)

        def forward(self, q, k, v):
            return self.attn(q, k, v)[0]

    holder = Holder()
    ours = nn.Sequential(StandInAttention(6, 2).double())
    ours.load_state_dict({k.replace("attn.", "0."): v.detach().numpy()
                          for k, v in holder.state_dict().items()})
    config = peft_library.LoraConfig(r=2, lora_alpha=3, target_modules=["attn"])
    theirs = peft_library.get_peft_model(holder, config)
    peft.add_lora(ours, rank=2, alpha=3, targets="MultiheadAttention")
    randomise_adapters(ours, seed=5)
    layer, their_layer = ours[0], theirs.base_model.model.attn
    layer.out_proj.lora_B.weight.data[...] = 0
    with torch.no_grad():
        for mine, other in ((layer, their_layer),
                            (layer.out_proj, their_layer.base_layer.out_proj)):
            for name in ("lora_A", "lora_B"):
                getattr(other, name)["default"].weight.copy_(
                    torch.tensor(getattr(mine, name).weight.numpy()))
    q, k, v = (np.random.default_rng(i).normal(size=(3, 2, 6)) for i in range(3))
    expected = theirs(*(torch.tensor(t) for t in (q, k, v))).detach().numpy()
    out = layer(*(minidl.tensor(t) for t in (q, k, v)))[0].numpy()
    magnitude_close(out, expected, np.abs(out) + 1, 1e-12)
    merged_theirs = theirs.merge_and_unload().attn
    merged = peft.merge_lora(ours)[0]
    for name in ("in_proj_weight", "out_proj.weight"):
        theirs_value = dict(merged_theirs.named_parameters())[name]
        magnitude_close(dict(merged.named_parameters())[name].numpy(),
                        theirs_value.detach().numpy(),
                        np.abs(theirs_value.detach().numpy()) + 1, 1e-12)


def test_finetune_lora_resumes_to_the_same_weights(finetune_inputs, tmp_path,
                                                   monkeypatch):
    """Interrupted in epoch 2 and resumed: the same adapters and merged
    weights as an uninterrupted run (the checkpoints hold the LoRA model)."""
    from minidl import finetune
    monkeypatch.setenv("MINIDL_CACHE", str(tmp_path / "cache"))
    data, weights = finetune_inputs
    options = ["--lora-rank", "2", "--lora-targets", "layer3.2.conv2",
               "--epochs", "2", "--lr", "0.01"]
    assert run_finetune(data, weights, tmp_path / "straight", *options) == 0
    original = interrupt_the_second_epoch(monkeypatch)
    assert run_finetune(data, weights, tmp_path / "split", *options) == 130
    monkeypatch.setattr(finetune, "train_one_epoch", original)
    assert run_finetune(data, weights, tmp_path / "split", "--resume",
                        *options) == 0
    for name in ("model.npz", "lora.npz"):
        straight = minidl.load(tmp_path / "straight" / name)
        resumed = minidl.load(tmp_path / "split" / name)
        assert list(straight) == list(resumed)
        for key in straight:
            np.testing.assert_array_equal(to_numpy(resumed[key]),
                                          to_numpy(straight[key]), err_msg=key)
