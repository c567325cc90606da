"""minidl: a small deep learning framework on NumPy (and CuPy on a GPU).

Start reading at ``tensor.py`` and ``autograd/``; ``docs/tour.md`` gives the
order.
"""
from . import backend, kernels
from .autograd import enable_grad, grad, no_grad, set_grad_enabled, is_grad_enabled
from .backend import Device as device, get_array_module
from .parallel import get_num_threads, set_num_threads
from .ops import *  # noqa: F401,F403  (add, matmul, sum, cat, ...)
from .ops import install_methods as _install_methods
from .random import manual_seed, rand, randint, randn
from .tensor import (Tensor, arange, as_tensor, bool_, empty, float16, float32,
                     float64, full, int32, int64, ones, ones_like, tensor,
                     uint8, zeros, zeros_like)

from .creation import (empty_like, eye, full_like, linspace, logspace,  # noqa: F401
                       rand_like, randint_like, randn_like, tril_indices,
                       triu_indices)

_install_methods(Tensor)
from .autograd.inference_mode import inference_mode  # noqa: E402,F401
from .dtypes import (bfloat16, cdouble, cfloat, complex64, complex128,  # noqa: E402,F401
                     double, half, int8, int16, long, short)
from .tensor_utils import (from_numpy, get_default_dtype, is_floating_point,  # noqa: E402,F401
                           is_tensor)
from .dtypes import bool_ as bool, float32 as float, int32 as int  # noqa: E402,F401,A001
from .dtypes import (BoolTensor, ByteTensor, CharTensor, DoubleTensor,  # noqa: E402,F401
                     FloatTensor, HalfTensor, IntTensor, LongTensor, ShortTensor)


class cuda:
    """``minidl.cuda.is_available()``, as in PyTorch."""
    is_available = staticmethod(backend.cuda_is_available)


from . import autograd, utils  # noqa: E402
from . import nn  # noqa: E402
from .serialization import load, save  # noqa: E402
from . import models  # noqa: E402  (after nn, which it builds on)
# minidl.linalg is linalg.py (torch.linalg's norms), not ops/linalg.py, which
# the star import above brought in under that name.
import importlib as _importlib  # noqa: E402
linalg = _importlib.import_module(".linalg", __name__)
from . import data, optim  # noqa: E402
from . import special  # noqa: E402,F401
# The activations PyTorch also has at the top level (torch.selu, ...).
from .nn.functional import (celu, celu_, prelu, relu_, selu, selu_,  # noqa: E402,F401
                            threshold, threshold_)
from . import peft  # noqa: E402  (LoRA, on nn)

__version__ = "0.1.0"
