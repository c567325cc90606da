"""MultiheadAttention: attention with several heads, PyTorch's layout.

The computation, in nanoGPT's order (about a page)::

    q, k, v = in_projection(query, key, value)      # three Linear maps
    q, k, v = split_heads(q), split_heads(k), ...   # (N, T, E) -> (N, H, T, D)
    out, w  = softmax(q k^T / sqrt(D) + mask) v     # per head
    out     = out_proj(merge_heads(out))            # (N, H, L, D) -> (N, L, E)

Parameters, with PyTorch's names (so ``torch.nn.MultiheadAttention``'s
state dict loads unchanged): ``in_proj_weight`` (3E, E) stacks the query,
key and value weights in that order, ``in_proj_bias`` (3E,) their biases,
and ``out_proj`` is a Linear(E, E). When kdim or vdim differ from E, the
three weights are separate: ``q_proj_weight`` (E, E), ``k_proj_weight``
(E, kdim), ``v_proj_weight`` (E, vdim), and ``in_proj_weight`` is None.

Masks follow MultiheadAttention's convention, the opposite of
``scaled_dot_product_attention``'s: a boolean True marks what is NOT
attended (a padded key, a future position); float masks are added to the
scores.
"""
import math

from ...tensor import array_of
from .. import functional as F
from .. import init
from ..functional.attention import attention_with_weights, mask_to_bias
from ..module import Module
from .linear import Linear, _empty


def blocked_to_bias(mask, like, caller):
    """An additive float bias from a MultiheadAttention-style mask: boolean
    True (blocked) becomes -inf, False 0; a float mask is kept as it is."""
    data = array_of(mask)
    if data.dtype.kind == "b":
        return mask_to_bias(~data, like, caller)
    return mask_to_bias(mask, like, caller)


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al. 2017), as torch.nn.MultiheadAttention.

    Inputs (batch_first=False, PyTorch's default): query (L, N, E), key
    (S, N, kdim), value (S, N, vdim); with batch_first=True, (N, L, E) etc.;
    unbatched (L, E), (S, kdim), (S, vdim) also work. Returns
    ``(output, weights)``: output like query, weights (N, L, S) averaged over
    heads, (N, H, L, S) with ``average_attn_weights=False``, or None with
    ``need_weights=False``. The weights are after dropout, as PyTorch's.

    key_padding_mask: (N, S) (or (S,) unbatched), True for keys to ignore.
    attn_mask: (L, S), or (N * num_heads, L, S) with one mask per batch
    element and head (PyTorch's order: index n * num_heads + h).
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True,
                 add_bias_kv=False, add_zero_attn=False, kdim=None, vdim=None,
                 batch_first=False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must "
                             f"be positive, got {embed_dim} and {num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be "
                             f"divisible by num_heads {num_heads}")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and "
                                      "add_zero_attn are not supported")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = dropout, batch_first
        if self._qkv_same_embed_dim:
            self.in_proj_weight = _empty((3 * embed_dim, embed_dim), device, dtype)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = _empty((embed_dim, embed_dim), device, dtype)
            self.k_proj_weight = _empty((embed_dim, self.kdim), device, dtype)
            self.v_proj_weight = _empty((embed_dim, self.vdim), device, dtype)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = _empty((3 * embed_dim,), device, dtype)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device,
                               dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self):
        """PyTorch's: Xavier-uniform projection weights, zero biases (the
        out_proj weight keeps Linear's default)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in self.projection_weights():
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    # -- the steps -----------------------------------------------------------
    def projection_weights(self):
        """(W_q, W_k, W_v): slices of in_proj_weight, or the three separate
        weights when kdim/vdim differ from embed_dim."""
        if self._qkv_same_embed_dim:
            e = self.embed_dim
            weight = self.in_proj_weight
            return weight[0:e], weight[e:2 * e], weight[2 * e:3 * e]
        return self.q_proj_weight, self.k_proj_weight, self.v_proj_weight

    def projection_biases(self):
        """(b_q, b_k, b_v): slices of in_proj_bias, or three Nones."""
        if self.in_proj_bias is None:
            return None, None, None
        e, bias = self.embed_dim, self.in_proj_bias
        return bias[0:e], bias[e:2 * e], bias[2 * e:3 * e]

    def in_projection(self, query, key, value):
        """q, k, v = query W_q^T + b_q, key W_k^T + b_k, value W_v^T + b_v.
        The one place the three projections are made (an adapter such as
        LoRA adds its low-rank term to them here)."""
        weights, biases = self.projection_weights(), self.projection_biases()
        return tuple(F.linear(x, w, b) for x, w, b in
                     zip((query, key, value), weights, biases))

    def split_heads(self, x):
        """(N, T, E) -> (N, H, T, D): head h gets features h*D .. (h+1)*D."""
        n, t, _ = x.shape
        return x.reshape(n, t, self.num_heads, self.head_dim).transpose(1, 2)

    def merge_heads(self, x):
        """(N, H, T, D) -> (N, T, E), the inverse of split_heads."""
        n, _, t, _ = x.shape
        return x.transpose(1, 2).reshape(n, t, self.embed_dim)

    def attention_bias(self, attn_mask, key_padding_mask, n, lq, s, like):
        """The masks as one additive bias broadcasting to (N, H, L, S), or
        None; in the dtype and on the device of the Tensor `like`."""
        name = type(self).__name__
        bias = None
        if attn_mask is not None:
            if attn_mask.ndim == 2 and tuple(attn_mask.shape) == (lq, s):
                bias = blocked_to_bias(attn_mask, like, name)
            elif attn_mask.ndim == 3 and tuple(attn_mask.shape) == \
                    (n * self.num_heads, lq, s):
                bias = blocked_to_bias(attn_mask, like, name).reshape(
                    n, self.num_heads, lq, s)
            else:
                raise ValueError(
                    f"{name}: attn_mask of shape {tuple(attn_mask.shape)}; "
                    f"expected ({lq}, {s}) or ({n * self.num_heads}, {lq}, {s}) "
                    f"(batch * num_heads, L, S)")
        if key_padding_mask is not None:
            if tuple(key_padding_mask.shape) != (n, s):
                raise ValueError(
                    f"{name}: key_padding_mask of shape "
                    f"{tuple(key_padding_mask.shape)}; expected ({n}, {s}) "
                    f"(batch, S)")
            padding = blocked_to_bias(key_padding_mask, like, name)
            padding = padding.reshape(n, 1, 1, s)
            bias = padding if bias is None else bias + padding
        return bias

    # -- forward ---------------------------------------------------------------
    def _to_batch_first(self, query, key, value, key_padding_mask):
        """The inputs as (N, T, features) and the padding mask as (N, S)."""
        name = type(self).__name__
        if query.ndim == 3:
            if key.ndim != 3 or value.ndim != 3:
                raise ValueError(f"{name}: batched (3-d) query needs 3-d key "
                                 f"and value, got {key.shape} and {value.shape}")
            if not self.batch_first:
                query, key, value = (x.transpose(0, 1) for x in (query, key, value))
            return query, key, value, key_padding_mask
        if query.ndim != 2 or key.ndim != 2 or value.ndim != 2:
            raise ValueError(f"{name}: expected query, key, value of 3 dims "
                             f"(batched) or 2 (unbatched), got {query.shape}, "
                             f"{key.shape}, {value.shape}")
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.reshape(1, -1)
        return (query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0),
                key_padding_mask)

    def forward(self, query, key, value, key_padding_mask=None,
                need_weights=True, attn_mask=None, average_attn_weights=True,
                is_causal=False):
        name = type(self).__name__
        if is_causal and attn_mask is None:
            raise ValueError(f"{name}: is_causal=True is a hint that attn_mask "
                             f"is the causal mask, and needs that attn_mask "
                             f"(e.g. nn.generate_square_subsequent_mask(L))")
        batched = query.ndim == 3
        q, k, v, key_padding_mask = self._to_batch_first(query, key, value,
                                                         key_padding_mask)
        n, lq, e = q.shape
        s = k.shape[1]
        if e != self.embed_dim or k.shape[2] != self.kdim \
                or v.shape[2] != self.vdim or v.shape[:2] != (n, s) \
                or k.shape[0] != n:
            raise ValueError(
                f"{name}(embed_dim={self.embed_dim}, kdim={self.kdim}, "
                f"vdim={self.vdim}): query, key, value of shapes {query.shape}, "
                f"{key.shape}, {value.shape} do not fit (batch_first="
                f"{self.batch_first})")
        bias = self.attention_bias(attn_mask, key_padding_mask, n, lq, s, q)
        q, k, v = self.in_projection(q, k, v)
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)
        dropout_p = self.dropout if self.training else 0.0
        # PyTorch computes need_weights=False with scaled_dot_product_attention
        # (a query whose every key is masked gets 0) and need_weights=True
        # with a plain softmax (NaN there); so does this.
        out, weights = attention_with_weights(
            q, k, v, bias, dropout_p, 1 / math.sqrt(self.head_dim),
            masked_rows="nan" if need_weights else "zero")
        out = self.out_proj(self.merge_heads(out))
        if batched and not self.batch_first:
            out = out.transpose(0, 1)
        if not batched:
            out = out.squeeze(0)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(1)
        return out, (weights if batched else weights.squeeze(0))

    def extra_repr(self):
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")

