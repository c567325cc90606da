"""CuPy implementations of the registry's kernels (imported only with CuPy)."""
import cupyx

from . import register


@register("scatter_add", "cupy")
def _scatter_add_cupy(target, index, values):
    """target[index] += values, adding repeated indices up (atomic adds)."""
    cupyx.scatter_add(target, index, values)
