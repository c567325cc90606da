"""minidl.nn: LayerNorm, Embedding, MultiheadAttention, TransformerEncoderLayer
and TransformerEncoder against torch.nn: the same state-dict keys, torch's
state dict loaded into minidl's module, then outputs and the gradients of
inputs and parameters compared (float64); gradchecks; bad inputs."""
import copy

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minidl
import minidl.nn as nn
from minidl.autograd import gradcheck, gradgradcheck
from conftest import assert_close

RTOL, ATOL = 1e-9, 1e-11


def _copy_from_torch(module, torch_module):
    """minidl `module` (float64) loaded strictly with `torch_module`'s state."""
    assert list(module.state_dict()) == list(torch_module.state_dict())
    module.double().load_state_dict(
        {key: value.detach().numpy() for key, value in
         torch_module.state_dict().items()})
    return module


def _compare_module(torch, module, torch_module, arrays, call=None,
                    torch_call=None, seed=0, rtol=RTOL, atol=ATOL):
    """Outputs (the first, when a tuple) and the gradients of every input
    array and of every parameter, by name."""
    call = call or (lambda m, *xs: m(*xs))
    torch_call = torch_call or call
    inputs = [minidl.tensor(a, requires_grad=True) for a in arrays]
    tinputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = call(module, *inputs), torch_call(torch_module, *tinputs)
    outputs = out if isinstance(out, tuple) else (out,)
    toutputs = tout if isinstance(tout, tuple) else (tout,)
    for i, (mine, theirs) in enumerate(zip(outputs, toutputs)):
        if theirs is None:
            assert mine is None, f"output {i}: expected None"
        else:
            assert_close(mine, theirs, rtol=rtol, atol=atol, name=f"output {i}")
    grad = np.random.default_rng(seed).standard_normal(tuple(toutputs[0].shape))
    outputs[0].backward(minidl.tensor(grad))
    toutputs[0].backward(torch.tensor(grad))
    for i, (mine, theirs) in enumerate(zip(inputs, tinputs)):
        assert_close(mine.grad, theirs.grad, rtol=rtol, atol=atol,
                     name=f"grad of input {i}")
    theirs = dict(torch_module.named_parameters())
    for name, param in module.named_parameters():
        assert_close(param.grad, theirs[name].grad, rtol=rtol, atol=atol,
                     name=f"grad of {name}")


# -- LayerNorm and Embedding -----------------------------------------------------------

@pytest.mark.parametrize("options", [{}, {"elementwise_affine": False},
                                     {"bias": False}, {"eps": 1e-6}])
def test_layer_norm_module_matches_torch(torch, options):
    shape = (3, 4)
    torch_module = torch.nn.LayerNorm(shape, **options).double()
    module = nn.LayerNorm(shape, **options)
    for name, param in module.named_parameters():  # torch's initial values
        assert_close(param, dict(torch_module.named_parameters())[name])
    if torch_module.weight is not None:
        with torch.no_grad():  # not the initial ones and zeros
            for param in torch_module.parameters():
                param.normal_()
    _copy_from_torch(module, torch_module)
    x = np.random.default_rng(0).standard_normal((2,) + shape) * 2 + 1
    _compare_module(torch, module, torch_module, [x])
    assert "(3, 4), eps=" in repr(module)


def test_embedding_module_matches_torch(torch):
    torch_module = torch.nn.Embedding(6, 3, padding_idx=2).double()
    module = nn.Embedding(6, 3, padding_idx=2)
    assert np.all(module.weight.numpy()[2] == 0)
    assert abs(float(nn.Embedding(200, 50).weight.numpy().std()) - 1) < 0.05
    _copy_from_torch(module, torch_module)
    indices = np.array([[0, 2, 5], [2, 2, 1]])
    _compare_module(torch, module, torch_module, [],
                    call=lambda m: m(minidl.tensor(indices)),
                    torch_call=lambda m: m(torch.tensor(indices)))


def test_embedding_from_pretrained():
    table = minidl.randn(4, 2)
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(np.array([3])).numpy(),
                                  table.numpy()[3:])
    table.data[...] = 0  # a copy, not a view
    assert frozen.weight.numpy().any()
    assert nn.Embedding.from_pretrained(minidl.randn(4, 2),
                                        freeze=False).weight.requires_grad
    with pytest.raises(NotImplementedError, match="max_norm"):
        nn.Embedding(4, 2, max_norm=1.0)


# -- MultiheadAttention ----------------------------------------------------------------

def _mha_inputs(rng, batched, batch_first, n, lq, s, e, kdim, vdim):
    def shaped(t, features):
        if not batched:
            return rng.standard_normal((t, features))
        return rng.standard_normal((n, t, features) if batch_first
                                   else (t, n, features))
    return [shaped(lq, e), shaped(s, kdim), shaped(s, vdim)]


@given(batched=st.booleans(), batch_first=st.booleans(),
       n=st.integers(1, 2), lq=st.integers(1, 3), s=st.integers(1, 4),
       heads=st.sampled_from([1, 2]), other_dims=st.booleans(),
       bias=st.booleans(),
       attn_mask=st.sampled_from(["none", "bool2", "float2", "bool3", "float3"]),
       padding=st.sampled_from(["none", "bool", "float"]),
       need_weights=st.booleans(), average=st.booleans(),
       seed=st.integers(0, 2**16))
def test_multihead_attention_matches_torch(torch, batched, batch_first, n, lq,
                                           s, heads, other_dims, bias,
                                           attn_mask, padding, need_weights,
                                           average, seed):
    rng = np.random.default_rng(seed)
    e = 2 * heads
    kdim, vdim = (3, 5) if other_dims else (e, e)
    options = dict(bias=bias, kdim=kdim, vdim=vdim, batch_first=batch_first)
    torch_module = torch.nn.MultiheadAttention(e, heads, **options).double()
    module = _copy_from_torch(nn.MultiheadAttention(e, heads, **options),
                              torch_module)
    arrays = _mha_inputs(rng, batched, batch_first, n, lq, s, e, kdim, vdim)
    if not batched:
        n = 1
    masks = {}
    if attn_mask != "none":
        shape = (lq, s) if attn_mask.endswith("2") else (n * heads, lq, s)
        if not batched and attn_mask.endswith("3"):
            shape = (heads, lq, s)
        if attn_mask.startswith("bool"):
            blocked = rng.random(shape) < 0.4
            blocked[..., 0] = False  # every query sees key 0: no NaN rows
            masks["attn_mask"] = blocked
        else:
            masks["attn_mask"] = rng.standard_normal(shape)
    if padding != "none":
        shape = (n, s) if batched else (s,)
        masks["key_padding_mask"] = rng.random(shape) < 0.4 \
            if padding == "bool" else rng.standard_normal(shape)
        if padding == "bool":
            masks["key_padding_mask"][..., 0] = False
    options = dict(need_weights=need_weights, average_attn_weights=average)

    def call(m, q, k, v):
        return m(q, k, v, **masks, **options)

    def torch_call(m, q, k, v):
        return m(q, k, v, **{key: torch.tensor(value)
                             for key, value in masks.items()}, **options)

    _compare_module(torch, module, torch_module, arrays, call, torch_call, seed)


def test_multihead_attention_names_init_and_gradcheck(torch):
    module = nn.MultiheadAttention(4, 2)
    torch_module = torch.nn.MultiheadAttention(4, 2)
    assert [(k, tuple(v.shape)) for k, v in module.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in torch_module.state_dict().items()]
    assert isinstance(module.out_proj, nn.Linear)
    assert np.all(module.in_proj_bias.numpy() == 0)
    assert np.all(module.out_proj.bias.numpy() == 0)
    bound = np.sqrt(6 / (4 + 12))  # xavier_uniform_ on the (12, 4) weight
    assert np.abs(module.in_proj_weight.numpy()).max() <= bound
    separate = nn.MultiheadAttention(4, 2, kdim=3, vdim=5)
    assert separate.in_proj_weight is None
    assert separate.k_proj_weight.shape == (4, 3)
    module.double()
    rng = np.random.default_rng(0)
    q = minidl.tensor(rng.standard_normal((2, 1, 4)), requires_grad=True)
    kv = minidl.tensor(rng.standard_normal((3, 1, 4)), requires_grad=True)
    mask = np.array([[False, True, False], [False, False, True]])

    def function(q, kv):
        return module(q, kv, kv, attn_mask=mask)

    assert gradcheck(function, [q, kv])
    assert gradgradcheck(lambda q, kv: function(q, kv)[0], [q, kv])


def test_multihead_attention_dropout_and_errors():
    module = nn.MultiheadAttention(4, 2, dropout=0.5)
    x = minidl.randn(3, 2, 4)
    module.eval()
    _, weights = module(x, x, x)
    np.testing.assert_allclose(weights.numpy().sum(-1), 1, rtol=1e-5)
    module.train()
    _, weights = module(x, x, x)  # after dropout: rows no longer sum to 1
    assert not np.allclose(weights.numpy().sum(-1), 1)
    assert module(x, x, x, need_weights=False)[1] is None
    with pytest.raises(ValueError, match="embed_dim 5 must be divisible by "
                                         "num_heads 2"):
        nn.MultiheadAttention(5, 2)
    with pytest.raises(NotImplementedError, match="add_bias_kv"):
        nn.MultiheadAttention(4, 2, add_bias_kv=True)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(2, 2\); "
                                         r"expected \(3, 3\) or \(4, 3, 3\)"):
        module(x, x, x, attn_mask=np.zeros((2, 2), bool))
    with pytest.raises(ValueError, match=r"key_padding_mask of shape \(3, 2\); "
                                         r"expected \(2, 3\)"):
        module(x, x, x, key_padding_mask=np.zeros((3, 2), bool))
    with pytest.raises(ValueError, match="is_causal=True is a hint"):
        module(x, x, x, is_causal=True)
    with pytest.raises(ValueError, match=r"do not fit"):
        module(x, minidl.randn(3, 2, 5), x)


# -- TransformerEncoderLayer and TransformerEncoder ---------------------------------

@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "module"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_matches_torch(torch, norm_first, activation,
                                     batch_first):
    options = dict(dim_feedforward=6, dropout=0.0, batch_first=batch_first,
                   norm_first=norm_first, layer_norm_eps=1e-6)
    torch_activation = torch.nn.GELU() if activation == "module" else activation
    ours_activation = nn.GELU() if activation == "module" else activation
    torch_module = torch.nn.TransformerEncoderLayer(
        4, 2, activation=torch_activation, **options).double()
    module = _copy_from_torch(nn.TransformerEncoderLayer(
        4, 2, activation=ours_activation, **options), torch_module)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4))
    padding = np.array([[False, False, True], [False, True, True]])
    if not batch_first:
        padding = np.zeros((3, 2), bool)  # x is (S=2, N=3): pad none
        padding[1, 1] = True
    causal = nn.generate_square_subsequent_mask(x.shape[1 if batch_first
                                                        else 0]).double()

    def call(m, x):
        return m(x, src_mask=causal, src_key_padding_mask=padding)

    def torch_call(m, x):
        return m(x, src_mask=torch.tensor(causal.numpy()),
                 src_key_padding_mask=torch.tensor(padding))

    _compare_module(torch, module, torch_module, [x], call, torch_call)


def test_encoder_stack_deep_copies_and_matches_torch(torch):
    layer = torch.nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0).double()
    torch_module = torch.nn.TransformerEncoder(
        layer, 2, norm=torch.nn.LayerNorm(4).double(),
        enable_nested_tensor=False)
    ours_layer = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0)
    module = nn.TransformerEncoder(ours_layer, 2, norm=nn.LayerNorm(4))
    assert module.layers[0].linear1.weight is not ours_layer.linear1.weight
    assert module.layers[0].linear1.weight is not module.layers[1].linear1.weight
    _copy_from_torch(module, torch_module)
    x = np.random.default_rng(2).standard_normal((3, 2, 4))
    _compare_module(torch, module, torch_module, [x])
    module.eval()  # torch's eval path is its fused fast path: same numbers
    torch_module.eval()
    with torch.no_grad():
        expected = torch_module(torch.tensor(x))
    assert_close(module(minidl.tensor(x)), expected, rtol=1e-7, atol=1e-9)


def test_encoder_layer_unbatched_float32_and_bad_activation():
    layer = nn.TransformerEncoderLayer(4, 2, 8)
    y = layer(minidl.randn(5, 4))
    assert y.shape == (5, 4) and y.dtype == np.float32
    copied = copy.deepcopy(layer)
    assert list(copied.state_dict()) == list(layer.state_dict())
    with pytest.raises(ValueError, match="activation should be 'relu', 'gelu' "
                                         "or a callable, not 'tanh'"):
        nn.TransformerEncoderLayer(4, 2, activation="tanh")
    mask = nn.generate_square_subsequent_mask(3).numpy()
    assert mask[0, 1] == -np.inf and mask[1, 0] == 0 and mask[2, 2] == 0
