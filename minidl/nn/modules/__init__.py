"""The layers of minidl.nn, one small file per family."""
from .activation import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .activation_more import (CELU, ELU, GLU, SELU, Hardshrink, Hardsigmoid,
                              Hardswish, Hardtanh, LeakyReLU, LogSigmoid, Mish,
                              PReLU, ReLU6, SiLU, Softmin, Softplus, Softshrink,
                              Softsign, Tanhshrink, Threshold)
from .batchnorm import BatchNorm1d, BatchNorm2d
from .containers import ModuleDict, ModuleList, Sequential
from .conv import Conv2d
from .dropout import Dropout
from .flatten import Flatten
from .linear import Identity, Linear
from .loss import CrossEntropyLoss, MSELoss, NLLLoss
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from .attention import MultiheadAttention
from .normalization import LayerNorm
from .sparse import Embedding
from .transformer import (TransformerEncoder, TransformerEncoderLayer,
                          generate_square_subsequent_mask)

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d",
           "Conv2d", "CrossEntropyLoss", "Dropout", "Flatten", "GELU",
           "Identity", "Linear", "LogSoftmax", "MSELoss", "MaxPool2d",
           "ModuleDict", "ModuleList", "NLLLoss", "ReLU", "Sequential",
           "Sigmoid", "Softmax", "Tanh"]
__all__ += ["Embedding", "LayerNorm", "MultiheadAttention", "TransformerEncoder",
            "TransformerEncoderLayer", "generate_square_subsequent_mask"]
__all__ += ["CELU", "ELU", "GLU", "SELU", "Hardshrink", "Hardsigmoid",
            "Hardswish", "Hardtanh", "LeakyReLU", "LogSigmoid", "Mish", "PReLU",
            "ReLU6", "SiLU", "Softmin", "Softplus", "Softshrink", "Softsign",
            "Tanhshrink", "Threshold"]
