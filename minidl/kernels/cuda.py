"""CuPy implementations of the registry's kernels.

The registry (:mod:`minidl.kernels`) imports this module the first time an
op asks for a kernel with CuPy arrays; importing it registers, under the
backend ``"cupy"``, one implementation for every name the NumPy side
registers, with the same signature and the same results:

=================================  ==========================  ===============
kernel name                        CuPy kernels                module
=================================  ==========================  ===============
scatter_add                        cupyx.scatter_add           here
im2col, col2im                     IM2COL, COL2IM              cuda_conv
max_pool2d_forward / _backward     MAX_POOL_FORWARD/BACKWARD   cuda_pool
batch_norm_forward / _backward     PARTIAL_SUMS, NORMALIZE...  cuda_batchnorm
softmax_cross_entropy / _backward  ROWS, PROBABILITIES, ...    cuda_loss
sgd_update, adam_update            SGD..., ADAM...             cuda_optim
=================================  ==========================  ===============

Every kernel is a ``cupy.ElementwiseKernel`` described by an
:class:`~minidl.kernels.cuda_common.ElementwiseSource` (its CUDA source as
named strings, with a comment saying what each thread does), compiled once
per dtype and cached. :mod:`minidl.kernels.cuda_transfer` holds the
DataLoader's asynchronous copies to the GPU.

None of these modules imports CuPy at import time, so the sources can be
read, compiled with NVRTC and run on the CPU by the tests on a machine
without a GPU (``tests/test_cuda_kernels.py``).
"""
from . import register
# Importing the topic modules registers their kernels.
from . import cuda_batchnorm, cuda_conv, cuda_loss  # noqa: F401
from . import cuda_optim, cuda_pool  # noqa: F401
from .cuda_common import ElementwiseSource


@register("scatter_add", "cupy")
def _scatter_add_cupy(target, index, values):
    """target[index] += values, adding repeated indices up (atomic adds)."""
    import cupyx
    cupyx.scatter_add(target, index, values)


def all_sources():
    """Every ElementwiseSource minidl defines, by name."""
    return {source.name: source for source in ElementwiseSource.all_sources}
