"""Embedding: a table of vectors looked up by integer index."""
from ...tensor import array_of
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter
from .linear import _empty


class Embedding(Module):
    """y = weight[x]: integer indices x (*) -> vectors (*, embedding_dim).

    weight (num_embeddings, embedding_dim) ~ N(0, 1), as PyTorch; the row
    ``padding_idx`` (if given) starts at zero and gets no gradient.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None,
                 max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                 sparse=False, _weight=None, _freeze=False, device=None,
                 dtype=None):
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must be "
                                 f"within num_embeddings ({num_embeddings})")
            padding_idx = padding_idx % num_embeddings
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise NotImplementedError("Embedding: max_norm, scale_grad_by_freq "
                                      "and sparse are not supported")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = padding_idx
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = _empty((num_embeddings, embedding_dim), device, dtype)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight of shape {_weight.shape}, "
                                 f"expected {(num_embeddings, embedding_dim)}")
            self.weight = Parameter(array_of(_weight).copy())
        self.weight.requires_grad = not _freeze

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:  # the padding vector starts at zero
            self.weight.data[self.padding_idx] = 0
            self.weight._bump_version()

    def forward(self, x):
        return F.embedding(x, self.weight, self.padding_idx)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None,
                        max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                        sparse=False):
        """An Embedding holding a copy of the 2-d `embeddings`; frozen
        (no gradient) unless ``freeze=False``."""
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be "
                             f"2-d, got shape {embeddings.shape}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx=padding_idx, max_norm=max_norm,
                   norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq,
                   sparse=sparse, _weight=embeddings, _freeze=freeze)

    def extra_repr(self):
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text
