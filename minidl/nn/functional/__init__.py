"""minidl.nn.functional: the layer ops as plain functions (PyTorch's names).

Each op lives in a small module of its own; this file only gathers them.
"""
from .activation import (erf, gelu, log_softmax, pad, relu, sigmoid,  # noqa: F401
                         softmax, tanh)
from .dropout import dropout  # noqa: F401
from .linear import linear  # noqa: F401
from .loss import cross_entropy, mse_loss, nll_loss  # noqa: F401
from .normalization import batch_norm  # noqa: F401
from .conv import conv2d, conv_transpose2d  # noqa: F401
from .pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d  # noqa: F401
from .attention import scaled_dot_product_attention  # noqa: F401
from .embedding import embedding  # noqa: F401
from .layer_norm import layer_norm  # noqa: F401
from .activation import relu_  # noqa: F401
from .piecewise_activations import (hardshrink, hardsigmoid, hardswish,  # noqa: F401
                                    hardtanh, hardtanh_, leaky_relu,
                                    leaky_relu_, prelu, relu6, softshrink,
                                    threshold, threshold_)
from .smooth_activations import (celu, celu_, elu, elu_, glu, logsigmoid,  # noqa: F401
                                 mish, selu, selu_, silu, softmin, softplus,
                                 softsign, tanhshrink)
from .conv_nd import (adaptive_avg_pool1d, adaptive_avg_pool3d,  # noqa: F401
                      avg_pool1d, avg_pool3d, conv1d, conv3d, max_pool1d,
                      max_unpool1d, max_unpool2d)
from .interpolate import (interpolate, upsample, upsample_bilinear,  # noqa: F401
                          upsample_nearest)
from .distance import (cosine_similarity, normalize, one_hot,  # noqa: F401
                       pairwise_distance)
from .loss import (binary_cross_entropy, binary_cross_entropy_with_logits,  # noqa: F401
                   huber_loss, kl_div, l1_loss, smooth_l1_loss)
