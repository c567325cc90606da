"""Vision Transformer (Dosovitskiy et al. 2021) in torchvision's layout.

An image is cut into P x P patches, each mapped to a hidden_dim vector by
one strided convolution; a learned class token is put in front, learned
position embeddings added, and the sequence goes through num_layers
pre-norm encoder blocks. The class token's final vector is classified::

    x = conv_proj(image)                         # (N, D, H/P, W/P)
    x = x.reshape(N, D, T).permute(0, 2, 1)      # (N, T, D), T = (H/P)(W/P)
    x = cat([class_token, x], dim=1)             # (N, T + 1, D)
    x = encoder(x + pos_embedding)               # blocks, then LayerNorm
    logits = heads(x[:, 0])                      # (N, num_classes)

    block: x = x + dropout(self_attention(ln_1(x)))
           x = x + mlp(ln_2(x))                  # Linear, GELU, Dropout,
                                                 # Linear, Dropout

Every name matches torchvision (``conv_proj``, ``class_token``,
``encoder.pos_embedding``, ``encoder.layers.encoder_layer_0.ln_1``,
``.self_attention``, ``.ln_2``, ``.mlp.0``, ``.mlp.3``, ``encoder.ln``,
``heads.head``), so a torchvision ViT's state dict loads unchanged and
gives the same logits. LayerNorms use eps = 1e-6, as torchvision's.

Input: (N, 3, image_size, image_size), normalised with ImageNet's
statistics for torchvision's weights. Output: (N, num_classes) logits.
"""
import math
from collections import OrderedDict

from .. import nn, ops
from ..backend import default_device
from ..nn import init
from ..nn.parameter import Parameter
from .common import ClassifierMixin

INPUT_MEAN = (0.485, 0.456, 0.406)
INPUT_STD = (0.229, 0.224, 0.225)
LAYER_NORM_EPS = 1e-6


def _parameter(*shape):
    """A new float32 Parameter on the default device (filled by init)."""
    return Parameter(default_device().xp.zeros(shape, dtype="float32"))


class MLPBlock(nn.Sequential):
    """Linear(D, mlp_dim), GELU, Dropout, Linear(mlp_dim, D), Dropout: the
    children 0..4 (so the Linears are ``mlp.0`` and ``mlp.3``).
    Xavier-uniform weights and N(0, 1e-6^2) biases, as torchvision."""

    def __init__(self, in_dim, mlp_dim, dropout):
        super().__init__(nn.Linear(in_dim, mlp_dim), nn.GELU(),
                         nn.Dropout(dropout), nn.Linear(mlp_dim, in_dim),
                         nn.Dropout(dropout))
        for layer in (self[0], self[3]):
            init.xavier_uniform_(layer.weight)
            init.normal_(layer.bias, std=1e-6)


class EncoderBlock(nn.Module):
    """A pre-norm Transformer block on (N, T, D) sequences."""

    def __init__(self, num_heads, hidden_dim, mlp_dim, dropout,
                 attention_dropout):
        super().__init__()
        self.num_heads = num_heads
        self.ln_1 = nn.LayerNorm(hidden_dim, eps=LAYER_NORM_EPS)
        self.self_attention = nn.MultiheadAttention(
            hidden_dim, num_heads, dropout=attention_dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = nn.LayerNorm(hidden_dim, eps=LAYER_NORM_EPS)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, input):
        if input.ndim != 3:
            raise ValueError(f"EncoderBlock: expected (batch, seq_length, "
                             f"hidden_dim), got {input.shape}")
        x = self.ln_1(input)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x) + input
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    """Position embeddings, dropout, the blocks (``layers.encoder_layer_i``)
    and a final LayerNorm ``ln``."""

    def __init__(self, seq_length, num_layers, num_heads, hidden_dim, mlp_dim,
                 dropout, attention_dropout):
        super().__init__()
        self.pos_embedding = _parameter(1, seq_length, hidden_dim)
        init.normal_(self.pos_embedding, std=0.02)  # as BERT
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.Sequential(OrderedDict(
            (f"encoder_layer_{i}", EncoderBlock(num_heads, hidden_dim, mlp_dim,
                                                dropout, attention_dropout))
            for i in range(num_layers)))
        self.ln = nn.LayerNorm(hidden_dim, eps=LAYER_NORM_EPS)

    def forward(self, input):
        if input.ndim != 3 or input.shape[1:] != self.pos_embedding.shape[1:]:
            raise ValueError(f"Encoder: expected (batch, "
                             f"{self.pos_embedding.shape[1]}, "
                             f"{self.pos_embedding.shape[2]}), got {input.shape}")
        return self.ln(self.layers(self.dropout(input + self.pos_embedding)))


class VisionTransformer(ClassifierMixin, nn.Module):
    """ViT for image_size x image_size images cut into patch_size patches.

    ``representation_size`` adds torchvision's ``pre_logits`` Linear and a
    Tanh before the head. The head (``heads.head``) starts at zero, as in
    torchvision.
    """

    head_name = "heads.head"

    def __init__(self, image_size, patch_size, num_layers, num_heads,
                 hidden_dim, mlp_dim, dropout=0.0, attention_dropout=0.0,
                 num_classes=1000, representation_size=None):
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"VisionTransformer: image_size {image_size} is not "
                             f"divisible by patch_size {patch_size}")
        self.image_size, self.patch_size = image_size, patch_size
        self.num_layers, self.num_heads = num_layers, num_heads
        self.hidden_dim, self.mlp_dim = hidden_dim, mlp_dim
        self.dropout, self.attention_dropout = dropout, attention_dropout
        self.num_classes = num_classes
        self.representation_size = representation_size
        self.conv_proj = nn.Conv2d(3, hidden_dim, kernel_size=patch_size,
                                   stride=patch_size)
        self.seq_length = (image_size // patch_size) ** 2 + 1
        self.class_token = _parameter(1, 1, hidden_dim)
        init.zeros_(self.class_token)
        self.encoder = Encoder(self.seq_length, num_layers, num_heads,
                               hidden_dim, mlp_dim, dropout, attention_dropout)
        heads = OrderedDict()
        if representation_size is None:
            heads["head"] = nn.Linear(hidden_dim, num_classes)
        else:
            heads["pre_logits"] = nn.Linear(hidden_dim, representation_size)
            heads["act"] = nn.Tanh()
            heads["head"] = nn.Linear(representation_size, num_classes)
        self.heads = nn.Sequential(heads)
        self._reset_parameters()

    def _reset_parameters(self):
        """torchvision's: truncated normal patch projection (std
        sqrt(1/fan_in)), zero biases, a zero head."""
        fan_in = 3 * self.patch_size * self.patch_size
        init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
        init.zeros_(self.conv_proj.bias)
        if self.representation_size is not None:
            pre_logits = self.heads.pre_logits
            init.trunc_normal_(pre_logits.weight,
                               std=math.sqrt(1 / pre_logits.in_features))
            init.zeros_(pre_logits.bias)
        init.zeros_(self.heads.head.weight)
        init.zeros_(self.heads.head.bias)

    def _process_input(self, x):
        """(N, 3, H, W) images -> (N, T, D) patch vectors."""
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2:] != \
                (self.image_size, self.image_size):
            raise ValueError(f"VisionTransformer: expected images of shape "
                             f"(N, 3, {self.image_size}, {self.image_size}), got "
                             f"{x.shape}")
        n = x.shape[0]
        x = self.conv_proj(x)
        x = x.reshape(n, self.hidden_dim, -1)
        return x.permute(0, 2, 1)

    def forward(self, x):
        x = self._process_input(x)
        n = x.shape[0]
        class_tokens = self.class_token.expand(n, -1, -1)
        x = ops.cat([class_tokens, x], dim=1)
        x = self.encoder(x)
        return self.heads(x[:, 0])


# -- configurations -------------------------------------------------------------
# name -> VisionTransformer's settings (torchvision's for the ImageNet ones).
CONFIGS = {
    "vit_b_16": dict(image_size=224, patch_size=16, num_layers=12, num_heads=12,
                     hidden_dim=768, mlp_dim=3072),
    "vit_b_32": dict(image_size=224, patch_size=32, num_layers=12, num_heads=12,
                     hidden_dim=768, mlp_dim=3072),
    "vit_l_16": dict(image_size=224, patch_size=16, num_layers=24, num_heads=16,
                     hidden_dim=1024, mlp_dim=4096),
    # A small ViT for 32 x 32 images (CIFAR-10): 64 patches of 4 x 4, six
    # blocks of width 192 with 3 heads of 64 (ViT-Tiny's width).
    "vit_tiny_cifar": dict(image_size=32, patch_size=4, num_layers=6,
                           num_heads=3, hidden_dim=192, mlp_dim=768),
}


def vision_transformer(name, num_classes, **overrides):
    """The ViT `name` of :data:`CONFIGS` (keyword arguments replace any of
    its settings, e.g. ``image_size`` or ``dropout``)."""
    return VisionTransformer(num_classes=num_classes,
                             **{**CONFIGS[name], **overrides})
