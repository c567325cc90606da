"""TransformerEncoderLayer and TransformerEncoder, PyTorch's layout.

One encoder layer is self-attention then a two-layer feed-forward network,
each with a residual connection and a LayerNorm::

    post-norm (norm_first=False, the original Transformer):
        x = norm1(x + dropout1(self_attn(x, x, x)))
        x = norm2(x + dropout2(linear2(dropout(activation(linear1(x))))))
    pre-norm (norm_first=True):
        x = x + dropout1(self_attn(norm1(x), ...))
        x = x + dropout2(linear2(dropout(activation(linear1(norm2(x))))))

The submodules carry PyTorch's names (self_attn, linear1, dropout, linear2,
norm1, norm2, dropout1, dropout2), so a torch state dict loads unchanged.
"""
import copy
import math

from ...backend import default_device
from ...tensor import Tensor
from .. import functional as F
from ..module import Module
from .attention import MultiheadAttention
from .containers import ModuleList
from .dropout import Dropout
from .linear import Linear
from .normalization import LayerNorm


def generate_square_subsequent_mask(size, dtype="float32"):
    """The (size, size) causal float mask: 0 on and below the diagonal,
    -inf above (position i attends to positions 0..i), as
    ``torch.nn.Transformer.generate_square_subsequent_mask``."""
    xp = default_device().xp
    blocked = xp.triu(xp.ones((size, size), dtype=bool), k=1)
    return Tensor(xp.where(blocked, -math.inf, 0.0).astype(dtype))


_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class TransformerEncoderLayer(Module):
    """Self-attention and feed-forward, with residuals and LayerNorms.

    src: (S, N, d_model), or (N, S, d_model) with ``batch_first=True``, or
    unbatched (S, d_model); the output has src's shape. ``activation`` is
    'relu', 'gelu' or a callable.
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1,
                 activation="relu", layer_norm_eps=1e-5, batch_first=False,
                 norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                            bias=bias, batch_first=batch_first,
                                            device=device, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias,
                              device=device, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias,
                              device=device, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias,
                               device=device, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias,
                               device=device, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise ValueError(f"TransformerEncoderLayer: activation should be "
                                 f"'relu', 'gelu' or a callable, not "
                                 f"{activation!r}")
            activation = _ACTIVATIONS[activation]
        self.activation = activation  # a Module becomes a child, as in PyTorch

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask,
                           key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)

    def forward(self, src, src_mask=None, src_key_padding_mask=None,
                is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask,
                                   is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask,
                                              is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerEncoder(Module):
    """A stack of ``num_layers`` deep copies of `encoder_layer` (named
    ``layers.0``, ``layers.1``, ...), then the optional `norm`.

    PyTorch's nested-tensor fast path (``enable_nested_tensor``) is not
    used: padded positions are computed like the others (PyTorch's fast
    path, in eval mode, returns zeros there instead).
    """

    def __init__(self, encoder_layer, num_layers, norm=None,
                 enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer)
                                  for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None,
                is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        if self.norm is not None:
            x = self.norm(x)
        return x
