"""embedding: look rows of a weight table up by integer index."""
from ...autograd.function import Function
from ...backend import get_array_module
from ...ops.indexing import IndexAdd
from ...tensor import Tensor


class Embedding(Function):
    """y = weight[indices]: indices (*) integers, weight (V, D), y (*, D).

    dweight = zeros (V, D) with each gy row added at its index (rows picked
    twice get both), except that the row ``padding_idx`` gets no gradient.
    That scatter-add (:class:`minidl.ops.indexing.IndexAdd`) is itself
    differentiable (its gradient is a gather), so second order works.
    """

    def __init__(self, indices, padding_idx):
        self.indices, self.padding_idx = indices, padding_idx

    def forward(self, weight):
        self.weight_shape = weight.shape
        return weight[self.indices]

    def backward(self, gy):
        if self.padding_idx is not None:
            keep = (self.indices != self.padding_idx)[..., None]
            gy = gy * Tensor(keep.astype(gy.dtype))
        return IndexAdd((self.indices,), self.weight_shape)(gy)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of `weight` (V, D) at the integer indices `input` (*): (*, D).

    The row `padding_idx` (if given; negative counts from the end) gets no
    gradient. ``max_norm``, ``scale_grad_by_freq`` and ``sparse`` are not
    supported.
    """
    if max_norm is not None:
        raise NotImplementedError("embedding: max_norm (renormalising the looked "
                                  "up rows in place) is not supported")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq and sparse "
                                  "gradients are not supported")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be (num_embeddings, "
                         f"embedding_dim), got shape {weight.shape}")
    indices = input.data if isinstance(input, Tensor) else input
    xp = get_array_module(weight.data)
    indices = xp.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype "
                        f"{indices.dtype}")
    count = weight.shape[0]
    if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= count):
        raise IndexError(f"embedding: index out of range: indices span "
                         f"[{int(indices.min())}, {int(indices.max())}] for a "
                         f"table of {count} rows")
    if padding_idx is not None:
        if not -count <= padding_idx < count:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be "
                             f"within num_embeddings ({count})")
        padding_idx = padding_idx % count
    return Embedding(indices, padding_idx)(weight)
