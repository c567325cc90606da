"""normalize, cosine_similarity, pairwise_distance and one_hot (PyTorch's
F. functions), composed from vector_norm, clamp and division."""
from ...ops.norms import vector_norm
from ...tensor import Tensor


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """input / max(||input||_p along dim, eps)."""
    norm = vector_norm(input, p, dim, keepdim=True)
    return input / norm.clamp(min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)) along dim (x1 and
    x2 broadcast), as PyTorch computes it."""
    from ...ops.rearrange import broadcast_tensors
    x1, x2 = broadcast_tensors(x1, x2)
    n1 = vector_norm(x1, 2, dim, keepdim=True).clamp(min=eps)
    n2 = vector_norm(x2, 2, dim, keepdim=True).clamp(min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dim."""
    difference = x1 - x2 + eps
    return vector_norm(difference, p, -1 if difference.ndim else None, keepdim=keepdim)


def one_hot(tensor, num_classes=-1):
    """int64 tensor (*shape, num_classes) with 1 at each element's class
    (num_classes=-1: the largest class + 1)."""
    from ...backend import get_array_module
    if tensor.dtype.kind not in "iu":
        raise ValueError(f"one_hot: expected an integer tensor of class indices, got "
                         f"{tensor.dtype}")
    xp = get_array_module(tensor.data)
    if num_classes == -1:
        if tensor.numel() == 0:
            raise ValueError("one_hot: cannot infer num_classes of an empty tensor")
        num_classes = int(tensor.data.max()) + 1
    if tensor.numel() and (int(tensor.data.min()) < 0 or
                           int(tensor.data.max()) >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got "
                         f"[{int(tensor.data.min())}, {int(tensor.data.max())}]")
    return Tensor((tensor.data[..., None] == xp.arange(num_classes)).astype("int64"))
