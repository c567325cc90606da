"""minidl.nn.functional: scaled_dot_product_attention, layer_norm, embedding
(PyTorch parity of values and gradients, float64 gradcheck and
gradgradcheck, float32 behaviour, masks, bad inputs)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minidl
import minidl.nn.functional as F
from minidl.autograd import gradcheck, gradgradcheck
from conftest import assert_close, assert_matches_torch

# Values are O(1) and every output sums a handful of O(1) terms, so
# float64 agrees to ~1e-15; these bounds leave room without hiding errors.
RTOL, ATOL = 1e-9, 1e-11


def _tensor(array, requires_grad=False):
    return minidl.tensor(array, requires_grad=requires_grad)


def _compare_with_torch(torch, function, torch_function, arrays, seed=0):
    """conftest.assert_matches_torch with this file's bounds."""
    assert_matches_torch(torch, function, torch_function, arrays, RTOL, ATOL,
                         seed)


# -- scaled_dot_product_attention ------------------------------------------------

def _attention_arrays(rng, batch, lq, s, e, ev):
    return [rng.standard_normal(batch + (lq, e)),
            rng.standard_normal(batch + (s, e)),
            rng.standard_normal(batch + (s, ev))]


def _bool_mask(rng, shape):
    """A random boolean mask in which every query sees key 0 (no row of
    NaN)."""
    mask = rng.random(shape) < 0.6
    mask[..., 0] = True
    return mask


@given(batch=st.lists(st.integers(1, 2), max_size=2).map(tuple),
       lq=st.integers(1, 3), s=st.integers(1, 4), e=st.integers(1, 3),
       ev=st.integers(1, 3),
       mask_kind=st.sampled_from(["none", "bool", "bool-broadcast", "float",
                                  "causal"]),
       scale=st.sampled_from([None, 0.7]), seed=st.integers(0, 2**16))
def test_sdpa_matches_torch(torch, batch, lq, s, e, ev, mask_kind, scale, seed):
    rng = np.random.default_rng(seed)
    arrays = _attention_arrays(rng, batch, lq, s, e, ev)
    options = {"scale": scale}
    if mask_kind == "causal":
        options["is_causal"] = True
    elif mask_kind == "bool":
        mask = _bool_mask(rng, batch + (lq, s))
    elif mask_kind == "bool-broadcast":  # one (L, S) mask for every batch
        mask = _bool_mask(rng, (lq, s))
    elif mask_kind == "float":  # a float mask is an input with a gradient
        arrays.append(rng.standard_normal((lq, s)))

    def ours(q, k, v, *bias):
        mask_arg = bias[0] if bias else (
            mask if mask_kind.startswith("bool") else None)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask_arg,
                                              **options)

    def theirs(q, k, v, *bias):
        mask_arg = bias[0] if bias else (
            torch.tensor(mask) if mask_kind.startswith("bool") else None)
        return torch.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=mask_arg, **options)

    _compare_with_torch(torch, ours, theirs, arrays, seed)


@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "causal",
                                       "causal-wide"])
def test_sdpa_gradcheck_and_gradgradcheck(mask_kind):
    rng = np.random.default_rng(1)
    s = 5 if mask_kind == "causal-wide" else 3
    arrays = _attention_arrays(rng, (2,), 3, s, 2, 2)
    mask = _bool_mask(rng, (2, 3, s)) if mask_kind == "bool" else None
    if mask_kind == "float":
        arrays.append(rng.standard_normal((3, s)))

    def function(q, k, v, *bias):
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias[0] if bias else mask,
            is_causal=mask_kind.startswith("causal"))

    inputs = [_tensor(a, True) for a in arrays]
    assert gradcheck(function, inputs)
    assert gradgradcheck(function, inputs)


def test_sdpa_causal_is_top_left_aligned_and_written_out(torch):
    """L != S: query i sees keys 0..i (PyTorch's tril(ones(L, S))); the
    result is the formula written with plain NumPy."""
    rng = np.random.default_rng(2)
    q, k, v = _attention_arrays(rng, (), 2, 4, 3, 2)
    out = F.scaled_dot_product_attention(_tensor(q), _tensor(k), _tensor(v),
                                         is_causal=True).numpy()
    scores = q @ k.T / np.sqrt(3)
    scores[np.triu(np.ones((2, 4), bool), k=1)] = -np.inf
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    np.testing.assert_allclose(out, weights @ v, rtol=1e-12, atol=1e-14)
    theirs = torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(q), torch.tensor(k), torch.tensor(v), is_causal=True)
    assert_close(out, theirs, rtol=RTOL, atol=ATOL)


def test_sdpa_fully_masked_row_gives_zero_as_torch(torch):
    """A query that sees no key: output 0 and gradient 0 (PyTorch's safe
    softmax), not NaN; the other rows are unaffected."""
    rng = np.random.default_rng(3)
    arrays = _attention_arrays(rng, (), 2, 3, 2, 2)
    mask = np.array([[True, False, True], [False, False, False]])
    _compare_with_torch(
        torch, lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mask),
        lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(
            q, k, v, torch.tensor(mask)), arrays)
    q = _tensor(arrays[0], True)
    out = F.scaled_dot_product_attention(q, _tensor(arrays[1]),
                                         _tensor(arrays[2]), mask)
    assert np.all(out.numpy()[1] == 0) and np.isfinite(out.numpy()).all()


def test_sdpa_float32_dropout_and_errors():
    q, k, v = minidl.randn(2, 3, 4), minidl.randn(2, 5, 4), minidl.randn(2, 5, 6)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=minidl.zeros(3, 5))
    assert out.dtype == np.float32 and out.shape == (2, 3, 6)
    plain = F.scaled_dot_product_attention(q, k, v).numpy()
    minidl.manual_seed(5)
    dropped = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    minidl.manual_seed(5)
    again = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    np.testing.assert_array_equal(dropped, again)  # the seed fixes the mask
    assert not np.allclose(dropped, plain)
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=minidl.zeros(3, 5),
                                       is_causal=True)
    with pytest.raises(TypeError, match="must have the query's dtype float32"):
        F.scaled_dot_product_attention(q, k, v,
                                       attn_mask=np.zeros((3, 5), np.float64))
    with pytest.raises(ValueError, match=r"query \(2, 3, 4\) and key \(2, 5, 3\)"):
        F.scaled_dot_product_attention(q, minidl.randn(2, 5, 3), v)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 5\) does not "
                                         r"broadcast to the scores' shape "
                                         r"\(2, 3, 5\)"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((4, 5), bool))
    with pytest.raises(ValueError, match="same number of positions S"):
        F.scaled_dot_product_attention(q, k, minidl.randn(2, 4, 6))


# -- layer_norm ---------------------------------------------------------------------

@given(leading=st.lists(st.integers(1, 3), max_size=2).map(tuple),
       normalized=st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple),
       affine=st.sampled_from(["none", "weight", "both"]),
       eps=st.sampled_from([1e-5, 1e-6, 0.1]), seed=st.integers(0, 2**16))
def test_layer_norm_matches_torch_with_gradcheck(torch, leading, normalized,
                                                 affine, eps, seed):
    rng = np.random.default_rng(seed)
    # An offset and scale per sample: the statistics must not assume O(1).
    x = rng.standard_normal(leading + normalized) * 3 + 2
    arrays = [x]
    if affine != "none":
        arrays.append(rng.standard_normal(normalized))
    if affine == "both":
        arrays.append(rng.standard_normal(normalized))

    def ours(x, *params):
        return F.layer_norm(x, normalized, *params, eps=eps)

    def theirs(x, *params):
        return torch.nn.functional.layer_norm(x, normalized, *params, eps=eps)

    _compare_with_torch(torch, ours, theirs, arrays, seed)
    inputs = [_tensor(a, True) for a in arrays]
    assert gradcheck(ours, inputs)
    assert gradgradcheck(ours, inputs)


def test_layer_norm_float32_and_errors(torch):
    x = minidl.randn(4, 3, 5) * 100 + 1000  # large mean: two-pass variance
    y = F.layer_norm(x, 5)
    assert y.dtype == np.float32
    theirs = torch.nn.functional.layer_norm(torch.tensor(x.numpy()), (5,))
    assert_close(y, theirs, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match=r"layer_norm: input of shape \(4, 3, 5\) "
                                         r"does not end with normalized_shape "
                                         r"\(3,\)"):
        F.layer_norm(x, (3,))
    with pytest.raises(ValueError, match=r"layer_norm: weight of shape \(4,\)"):
        F.layer_norm(x, (5,), minidl.ones(4))


# -- embedding ------------------------------------------------------------------------

@given(index_shape=st.lists(st.integers(1, 3), max_size=2).map(tuple),
       rows=st.integers(2, 5), dim=st.integers(1, 3),
       padding=st.sampled_from([None, 0, 1, -1]), seed=st.integers(0, 2**16))
def test_embedding_matches_torch(torch, index_shape, rows, dim, padding, seed):
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, rows, index_shape)
    weight = rng.standard_normal((rows, dim))
    _compare_with_torch(
        torch, lambda w: F.embedding(indices, w, padding_idx=padding),
        lambda w: torch.nn.functional.embedding(torch.tensor(indices), w,
                                                padding_idx=padding),
        [weight], seed)


def test_embedding_gradients():
    """Repeated indices add up; the padding row gets none; gradcheck and
    gradgradcheck (without padding, whose zero gradient is by design)."""
    weight = _tensor(np.random.default_rng(4).standard_normal((4, 3)), True)
    indices = np.array([[0, 2, 2], [3, 2, 1]])
    assert gradcheck(lambda w: F.embedding(indices, w), [weight])
    assert gradgradcheck(lambda w: F.embedding(indices, w), [weight])
    F.embedding(indices, weight, padding_idx=2).sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy()[:, 0], [1, 1, 0, 1])


def test_embedding_errors():
    weight = minidl.randn(4, 3)
    assert F.embedding(minidl.tensor([1, 3]), weight).dtype == np.float32
    with pytest.raises(IndexError, match=r"embedding: index out of range: "
                                         r"indices span \[0, 4\] for a table "
                                         r"of 4 rows"):
        F.embedding(np.array([0, 4]), weight)
    with pytest.raises(TypeError, match="embedding: indices must be integers"):
        F.embedding(np.array([0.0, 1.0]), weight)
    with pytest.raises(NotImplementedError, match="max_norm"):
        F.embedding(np.array([0]), weight, max_norm=1.0)
    with pytest.raises(ValueError, match="padding_idx 4 must be within"):
        F.embedding(np.array([0]), weight, padding_idx=4)
