"""Which parts of PyTorch's API minidl has, by namespace.

    python -m minidl.testing.api_coverage [--missing]

The names are the ones PyTorch user code reaches for most (the op lists of
the coverage issue, the layers of torchvision's models and of the
Transformer, the optimizers and schedulers), not all of torch's 2,000
public names: most of those (quantization, sparse, distributed, jit, ...)
are out of minidl's scope. For each namespace it prints how many of the
listed names exist in minidl and, with ``--missing``, which do not.
``tests/test_api_coverage.py`` keeps the counts from falling, and checks
that every name it counts also exists in torch (so the list cannot drift
from PyTorch's spelling).

A name that exists is not yet a name that is right: the op tests
(``tests/op_specs*.py``) compare values and gradients with torch.
"""
import argparse

import minidl

_TOP_LEVEL = """
tensor as_tensor from_numpy zeros ones full empty zeros_like ones_like
full_like empty_like arange linspace logspace eye rand randn randint
rand_like randn_like randint_like manual_seed
float float32 float64 double half float16 int int8 int16 int32 int64 long
uint8 bool
no_grad enable_grad set_grad_enabled is_grad_enabled inference_mode
add sub mul div true_divide floor_divide remainder fmod pow neg abs sign
sqrt rsqrt exp exp2 expm1 log log2 log10 log1p sigmoid tanh relu
sin cos tan asin acos atan atan2 sinh cosh asinh acosh atanh arcsin
arccos arctan erf erfc erfinv floor ceil round trunc frac copysign lerp
logaddexp logaddexp2 hypot clamp clip clamp_min clamp_max maximum minimum
where isclose allclose isnan isinf isfinite nan_to_num square reciprocal
logical_and logical_or logical_xor logical_not bitwise_and bitwise_or
bitwise_xor bitwise_not bitwise_left_shift bitwise_right_shift
eq ne lt le gt ge equal
sum mean prod std var std_mean var_mean max min amax amin argmax argmin
logsumexp cumsum cumprod cummax cummin logcumsumexp all any norm
sort argsort topk kthvalue median mode nonzero masked_select
count_nonzero
cat concat stack reshape flatten squeeze unsqueeze permute transpose
movedim swapaxes t chunk split tensor_split unbind narrow flip fliplr
flipud roll repeat_interleave tile broadcast_to broadcast_tensors
meshgrid tril triu diag diagonal diag_embed trace gather scatter
scatter_add scatter_reduce index_select index_add masked_fill
take_along_dim matmul mm bmm addmm baddbmm dot outer cross kron
tensordot einsum softmax log_softmax unflatten atleast_1d atleast_2d
atleast_3d
"""

_TENSOR = """
backward grad requires_grad requires_grad_ detach detach_ item tolist
numpy shape size dim ndim numel dtype device to cpu clone contiguous
type int long float double bool half is_floating_point
view view_as reshape reshape_as expand expand_as flatten unflatten
squeeze unsqueeze permute transpose t T mT chunk split unbind flip roll
repeat repeat_interleave unfold narrow movedim
add sub mul div pow neg abs exp log sqrt sigmoid tanh relu sin cos
floor ceil round clamp clip maximum minimum sum mean prod std var max
min amax amin argmax argmin logsumexp cumsum cumprod sort argsort topk
all any norm softmax log_softmax matmul mm bmm dot gather scatter
scatter_add index_select masked_fill masked_fill_ fill_ zero_ add_ mul_
sub_ div_ copy_ tril triu diagonal eq ne lt le gt ge isnan isfinite
new_zeros new_ones new_full new_tensor
"""

_NN = """
Module Parameter Sequential ModuleList ModuleDict Identity
Linear Conv1d Conv2d Conv3d ConvTranspose2d BatchNorm1d BatchNorm2d
LayerNorm Embedding Dropout Flatten Unflatten
MaxPool1d MaxPool2d AvgPool1d AvgPool2d AvgPool3d AdaptiveAvgPool1d
AdaptiveAvgPool2d MaxUnpool2d Upsample ReflectionPad2d ReplicationPad2d
ZeroPad2d ConstantPad2d
ReLU ReLU6 LeakyReLU ELU SELU CELU GELU SiLU Mish Sigmoid Tanh Softmax
LogSoftmax Softmin Softplus Softsign Hardtanh Hardsigmoid Hardswish
LogSigmoid PReLU
CrossEntropyLoss NLLLoss MSELoss L1Loss SmoothL1Loss HuberLoss BCELoss
BCEWithLogitsLoss KLDivLoss CosineSimilarity PairwiseDistance
MultiheadAttention TransformerEncoderLayer TransformerEncoder
"""

_FUNCTIONAL = """
linear conv1d conv2d conv3d conv_transpose2d batch_norm layer_norm
embedding dropout max_pool1d max_pool2d avg_pool1d avg_pool2d avg_pool3d
adaptive_avg_pool1d adaptive_avg_pool2d max_unpool2d interpolate pad
normalize one_hot scaled_dot_product_attention
relu relu6 leaky_relu elu selu celu gelu silu mish sigmoid tanh softmax
log_softmax softmin softplus softsign hardtanh hardsigmoid hardswish
logsigmoid
cross_entropy nll_loss mse_loss l1_loss smooth_l1_loss huber_loss
binary_cross_entropy binary_cross_entropy_with_logits kl_div
cosine_similarity pairwise_distance
"""

_INIT = """
uniform_ normal_ constant_ zeros_ ones_ kaiming_uniform_ kaiming_normal_
xavier_uniform_ xavier_normal_ calculate_gain
"""

_OPTIM = """
SGD Adam AdamW
"""

_LR_SCHEDULER = """
StepLR MultiStepLR ExponentialLR CosineAnnealingLR LinearLR OneCycleLR
LambdaLR SequentialLR ReduceLROnPlateau
"""

_AUTOGRAD = """
grad backward
"""

NAMESPACES = [
    # (label, where minidl has it, where torch has it, names)
    ("torch", "minidl", "torch", _TOP_LEVEL),
    ("torch.Tensor", "minidl.Tensor", "torch.Tensor", _TENSOR),
    ("torch.nn", "minidl.nn", "torch.nn", _NN),
    ("torch.nn.functional", "minidl.nn.functional", "torch.nn.functional",
     _FUNCTIONAL),
    ("torch.nn.init", "minidl.nn.init", "torch.nn.init", _INIT),
    ("torch.optim", "minidl.optim", "torch.optim", _OPTIM),
    ("torch.optim.lr_scheduler", "minidl.optim.lr_scheduler",
     "torch.optim.lr_scheduler", _LR_SCHEDULER),
    ("torch.autograd", "minidl.autograd", "torch.autograd", _AUTOGRAD),
]


def resolve(dotted, root):
    """The object at `dotted` ("minidl.nn.functional") below the module
    `root` (whose name is its first part)."""
    target = root
    for part in dotted.split(".")[1:]:
        target = getattr(target, part)
    return target


def coverage(namespaces=NAMESPACES):
    """[(label, present names, missing names)] for minidl."""
    rows = []
    for label, ours, _, names in namespaces:
        place = resolve(ours, minidl)
        if place is minidl.Tensor:  # .grad, .requires_grad: set per tensor
            place = minidl.zeros(2, 2)
        listed = names.split()
        present = [name for name in listed if hasattr(place, name)]
        missing = [name for name in listed if not hasattr(place, name)]
        rows.append((label, present, missing))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--missing", action="store_true",
                        help="also list the names minidl lacks")
    args = parser.parse_args(argv)
    print("| namespace | names minidl has | of those listed |")
    print("|---|---|---|")
    for label, present, missing in coverage():
        print(f"| `{label}` | {len(present)} | {len(present) + len(missing)} |")
    if args.missing:
        for label, _, missing in coverage():
            if missing:
                print(f"{label}: missing {', '.join(missing)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
