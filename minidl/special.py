"""minidl.special: the functions of PyTorch's ``torch.special`` that
minidl has (the ops themselves live in :mod:`minidl.ops`)."""
from .ops import (erf, erfc, erfinv, exp2, expm1, log1p, log_softmax,  # noqa: F401
                  logsumexp, round, sigmoid as expit, softmax, xlogy)
