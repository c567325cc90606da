"""The layers of minidl.nn, one small file per family."""
from .activation import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .activation_more import (CELU, ELU, GLU, SELU, Hardshrink, Hardsigmoid,
                              Hardswish, Hardtanh, LeakyReLU, LogSigmoid, Mish,
                              PReLU, ReLU6, SiLU, Softmin, Softplus, Softshrink,
                              Softsign, Tanhshrink, Threshold)
from .batchnorm import BatchNorm1d, BatchNorm2d
from .containers import ModuleDict, ModuleList, Sequential
from .conv import Conv2d, ConvTranspose2d
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
from .conv_nd import Conv1d, Conv3d
from .resize import (CircularPad1d, CircularPad2d, ConstantPad1d, ConstantPad2d,
                     ConstantPad3d, ReflectionPad1d, ReflectionPad2d,
                     ReflectionPad3d, ReplicationPad1d, ReplicationPad2d,
                     ReplicationPad3d, Upsample, UpsamplingBilinear2d,
                     UpsamplingNearest2d, ZeroPad1d, ZeroPad2d)
from .pooling_nd import (AdaptiveAvgPool1d, AdaptiveAvgPool3d, AvgPool1d,
                         AvgPool3d, MaxPool1d, MaxUnpool1d, MaxUnpool2d)
from .loss_more import (BCELoss, BCEWithLogitsLoss, CosineSimilarity, HuberLoss,
                        KLDivLoss, L1Loss, PairwiseDistance, SmoothL1Loss,
                        Unflatten)

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d",
           "ConvTranspose2d",
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
__all__ += ["AdaptiveAvgPool1d", "AdaptiveAvgPool3d", "AvgPool1d", "AvgPool3d",
            "BCELoss", "BCEWithLogitsLoss", "CircularPad1d", "CircularPad2d",
            "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "Conv1d", "Conv3d",
            "CosineSimilarity", "HuberLoss", "KLDivLoss", "L1Loss", "MaxPool1d",
            "MaxUnpool1d", "MaxUnpool2d", "PairwiseDistance", "ReflectionPad1d",
            "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
            "ReplicationPad2d", "ReplicationPad3d", "SmoothL1Loss", "Unflatten",
            "Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d", "ZeroPad1d",
            "ZeroPad2d"]
