"""minidl.linalg: the norms of torch.linalg (norm, vector_norm, matrix_norm)
and its aliases of matrix products."""
from .ops.matrix import cross as _cross
from .ops.linalg import matmul  # noqa: F401
from .ops.norms import linalg_norm as norm, matrix_norm, vector_norm  # noqa: F401


def cross(x, y, dim=-1):
    """torch.linalg.cross: the cross product along dim (default the last)."""
    return _cross(x, y, dim)
