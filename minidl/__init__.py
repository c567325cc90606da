"""minidl: a small deep learning framework on NumPy (and CuPy on a GPU).

Start reading at ``tensor.py`` and ``autograd/``; ``docs/tour.md`` gives the
order. This file only gathers the names PyTorch users expect at the top
level (``minidl.tensor``, ``minidl.zeros``, ``minidl.float32``, every op of
``minidl.ops``, ...) and the subpackages.
"""
from . import backend, kernels
from .autograd import enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled
from .autograd.inference_mode import inference_mode
from .backend import Device as device, get_array_module
from .parallel import get_num_threads, set_num_threads
from . import ops
from .ops import *  # noqa: F403  (add, matmul, sum, cat, sin, ...: ops.__all__)
from .random import manual_seed, rand, randint, randn
from .tensor import (Tensor, arange, as_tensor, bool_, empty, float16, float32,
                     float64, full, int32, int64, ones, ones_like, tensor,
                     uint8, zeros, zeros_like)
from .creation import (empty_like, eye, full_like, linspace, logspace,
                       rand_like, randint_like, randn_like, tril_indices,
                       triu_indices)
from .dtypes import (bfloat16, cdouble, cfloat, complex64, complex128,
                     double, half, int8, int16, long, short)
from .dtypes import bool_ as bool, float32 as float, int32 as int  # noqa: A001
from .dtypes import (BoolTensor, ByteTensor, CharTensor, DoubleTensor,
                     FloatTensor, HalfTensor, IntTensor, LongTensor, ShortTensor)
from .tensor_utils import from_numpy, get_default_dtype, is_floating_point, is_tensor
from . import autograd, utils
from . import nn  # after the ops, which its layers call
from .serialization import load, save
from . import models  # after nn, which it builds on
from . import data, linalg, optim, peft, special
# The activations PyTorch also has at the top level (torch.selu, ...).
from .nn.functional import (celu, celu_, prelu, relu_, selu, selu_, threshold,
                            threshold_)


class cuda:
    """``minidl.cuda.is_available()``, as in PyTorch."""
    is_available = staticmethod(backend.cuda_is_available)


__version__ = "0.1.0"

__all__ = [
    # subpackages and modules
    "autograd", "backend", "data", "kernels", "linalg", "models", "nn", "ops",
    "optim", "peft", "special", "utils", "cuda",
    # autograd switches
    "enable_grad", "grad", "inference_mode", "is_grad_enabled", "no_grad",
    "set_grad_enabled",
    # devices and threads
    "device", "get_array_module", "get_num_threads", "set_num_threads",
    # tensors and how to make them
    "Tensor", "arange", "as_tensor", "empty", "empty_like", "eye", "from_numpy",
    "full", "full_like", "linspace", "logspace", "ones", "ones_like", "rand",
    "rand_like", "randint", "randint_like", "randn", "randn_like", "tensor",
    "tril_indices", "triu_indices", "zeros", "zeros_like", "manual_seed",
    "get_default_dtype", "is_floating_point", "is_tensor",
    # dtypes, under PyTorch's names
    "bfloat16", "bool", "bool_", "cdouble", "cfloat", "complex64", "complex128",
    "double", "float", "float16", "float32", "float64", "half", "int", "int8",
    "int16", "int32", "int64", "long", "short", "uint8",
    "BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor",
    "HalfTensor", "IntTensor", "LongTensor", "ShortTensor",
    # saving, and the activations torch also has at the top level
    "load", "save", "celu", "celu_", "prelu", "relu_", "selu", "selu_",
    "threshold", "threshold_",
]
__all__ += ops.__all__
