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
A query whose every key is masked gets output 0, as in PyTorch.
"""
import math

import numpy as np

from ...backend import get_array_module, move_array
from ...ops.elementwise import where
from ...ops.softmax import softmax
from ...tensor import Tensor, array_of
from .dropout import dropout


def mask_to_bias(mask, like, caller):
    """An additive float bias from an attention mask, on the device and in
    the dtype of the Tensor `like` (the query): a boolean mask (True:
    attend) becomes 0 / -inf; a float mask is used as it is (a Tensor keeps
    its place in the graph), after a dtype check."""
    data = array_of(mask)
    dtype = like.dtype
    if data.dtype.kind == "b":
        data = move_array(data, like.device)
        xp = get_array_module(data)
        return Tensor(xp.where(data, dtype.type(0), dtype.type(-math.inf)))
    if data.dtype != dtype:
        raise TypeError(f"{caller}: a float attn_mask must have the query's "
                        f"dtype {dtype}, got {data.dtype} (or pass a boolean "
                        f"mask)")
    if isinstance(mask, Tensor):
        return mask
    return Tensor(move_array(data, like.device))


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


def _check_mask_shape(mask_shape, query, key):
    scores_shape = np.broadcast_shapes(query.shape[:-2], key.shape[:-2]) + \
        (query.shape[-2], key.shape[-2])
    try:
        fits = np.broadcast_shapes(mask_shape, scores_shape) == scores_shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"scaled_dot_product_attention: attn_mask of shape "
                         f"{tuple(mask_shape)} does not broadcast to the "
                         f"scores' shape {scores_shape} (..., L, S)")


def attention_with_weights(query, key, value, bias=None, dropout_p=0.0,
                           scale=None, masked_rows="zero"):
    """(output, weights) of attention with an additive `bias` (a Tensor
    broadcasting to (..., L, S), or None). The weights are those multiplied
    with value, after dropout (what MultiheadAttention returns).

    A query whose every key is masked (a row of -inf scores) gets weights 0
    and output 0 with ``masked_rows="zero"`` (what PyTorch's
    scaled_dot_product_attention does), or NaN with ``"nan"`` (a plain
    softmax, what MultiheadAttention's need_weights=True path gives).
    """
    if scale is None:
        scale = 1 / math.sqrt(query.shape[-1])
    scores = query.matmul(key.transpose(-2, -1)) * scale
    if bias is not None:
        scores = scores + bias
    blocked_rows = None
    if bias is not None and masked_rows == "zero":
        xp = get_array_module(scores.data)
        blocked_rows = xp.isneginf(scores.data).all(axis=-1, keepdims=True)
        if blocked_rows.any():
            # Softmax of such a row would be 0/0; give it finite scores
            # (their gradient is cut by where) and zero weights after.
            scores = where(blocked_rows, 0.0, scores)
        else:
            blocked_rows = None
    weights = softmax(scores, -1)
    if blocked_rows is not None:
        weights = where(blocked_rows, 0.0, weights)
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
        bias = mask_to_bias(mask, query, "scaled_dot_product_attention")
    elif attn_mask is not None:
        bias = mask_to_bias(attn_mask, query, "scaled_dot_product_attention")
        _check_mask_shape(bias.shape, query, key)
    output, _ = attention_with_weights(query, key, value, bias, dropout_p,
                                       scale)
    return output
