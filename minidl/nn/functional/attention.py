"""scaled_dot_product_attention: softmax(q k^T * scale + mask) v.

Shapes (PyTorch's): query (..., L, E), key (..., S, E), value (..., S, Ev);
the output is (..., L, Ev). The leading dims (batch, heads) broadcast. L is
the number of queries (target length), S the number of keys (source length).

The whole computation, in the order it runs::

    scores  = query @ key^T * scale          # (..., L, S), scale = 1/sqrt(E)
    scores  = scores + bias                  # the mask, as an additive bias
    weights = softmax(scores, dim=-1)        # each query's row sums to 1
    weights = dropout(weights, dropout_p)
    output  = weights @ value                # (..., L, Ev)

Masks follow PyTorch's ``scaled_dot_product_attention``:

* a boolean mask says which (query, key) pairs take part (True: attend);
  it becomes a bias of 0 where True and -inf where False;
* a float mask is the bias itself, added to the scores (it may require
  grad);
* ``is_causal=True`` is the boolean lower-triangular mask ``tril(ones(L, S))``
  (aligned at the top left when L != S, as PyTorch does), and may not be
  combined with a mask.

Every step is an existing differentiable op (matmul, add, softmax, dropout),
so gradients of any order come for free and gradcheck/gradgradcheck hold.
A query whose every key is masked gets a row of NaN, as in PyTorch.
"""
import math

from ...backend import get_array_module
from ...ops.softmax import softmax
from .dropout import dropout


def mask_to_bias(mask, dtype, caller):
    """An additive float bias from an attention mask: a boolean mask (True:
    attend) becomes 0 / -inf; a float mask (a Tensor) is returned as it
    is, after a dtype check."""
    from ...tensor import Tensor
    data = mask.data if isinstance(mask, Tensor) else mask
    if data.dtype.kind == "b":
        xp = get_array_module(data)
        bias = xp.where(data, dtype.type(0), dtype.type(-math.inf))
        return Tensor(bias)
    if data.dtype != dtype:
        raise TypeError(f"{caller}: a float attn_mask must have the query's "
                        f"dtype {dtype}, got {data.dtype} (or pass a boolean "
                        f"mask)")
    return mask if isinstance(mask, Tensor) else Tensor(mask)


def causal_mask(query_length, key_length, like):
    """The boolean (L, S) mask where query i sees keys 0..i: tril(ones)."""
    xp = get_array_module(like)
    return xp.tril(xp.ones((query_length, key_length), dtype=bool))


def _check_shapes(query, key, value):
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise ValueError(
            f"scaled_dot_product_attention: query, key and value need at least "
            f"2 dims (..., L, E), (..., S, E), (..., S, Ev); got {query.shape}, "
            f"{key.shape}, {value.shape}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(
            f"scaled_dot_product_attention: query {query.shape} and key "
            f"{key.shape} must have the same last dim E")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"scaled_dot_product_attention: key {key.shape} and value "
            f"{value.shape} must have the same number of positions S (dim -2)")


def attention_with_weights(query, key, value, bias=None, dropout_p=0.0,
                           scale=None):
    """(output, weights) of attention with an additive `bias` (a Tensor
    broadcasting to (..., L, S), or None). The weights are those multiplied
    with value, after dropout (what MultiheadAttention returns)."""
    if scale is None:
        scale = 1 / math.sqrt(query.shape[-1])
    scores = query.matmul(key.transpose(-2, -1)) * scale
    if bias is not None:
        scores = scores + bias
    weights = softmax(scores, -1)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p, training=True)
    return weights.matmul(value), weights


def scaled_dot_product_attention(query, key, value, attn_mask=None,
                                 dropout_p=0.0, is_causal=False, scale=None):
    """softmax(query key^T * scale + mask) value (see the module docstring
    for shapes and masks).

    Gradients (every op is differentiable): with W the weights and
    G = gout @ value^T, dvalue = W^T gout, dscores = W * (G - sum(G * W, -1)),
    dquery = dscores @ key * scale, dkey = dscores^T @ query * scale; a float
    mask's gradient is dscores summed to its shape.
    """
    _check_shapes(query, key, value)
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: give either attn_mask "
                         "or is_causal=True, not both")
    if not 0 <= dropout_p <= 1:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in "
                         f"[0, 1], got {dropout_p}")
    bias = None
    if is_causal:
        mask = causal_mask(query.shape[-2], key.shape[-2], query.data)
        bias = mask_to_bias(mask, query.dtype, "scaled_dot_product_attention")
    elif attn_mask is not None:
        bias = mask_to_bias(attn_mask, query.dtype,
                            "scaled_dot_product_attention")
    output, _ = attention_with_weights(query, key, value, bias, dropout_p,
                                       scale)
    return output
