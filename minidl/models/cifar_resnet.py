"""ResNets for CIFAR-10 (He et al. 2015, section 4.2): resnet20/32/44/56/110.

A 3x3 convolution with 16 channels, three stages of n BasicBlocks with 16,
32 and 64 channels (the 2nd and 3rd stages start with stride 2), global
average pooling and a Linear layer: 6n + 2 layers. The shortcut of a block
that changes shape is "option A": no parameters, the input subsampled
(``x[:, :, ::2, ::2]``) and zero-padded with planes // 4 channels on each
side. Names and layout follow Yerlan Idelbayev's widely used PyTorch
implementation (``conv1``, ``bn1``, ``layer1.0.conv1``, ..., ``linear``), so
its checkpoints load after conversion (see :mod:`minidl.convert`).

Input: (N, 3, 32, 32) images normalised with
``INPUT_MEAN``/``INPUT_STD``. Output: (N, num_classes) logits.
"""
from .. import nn, ops
from ..nn import functional as F
from ..nn import init
from .common import ClassifierMixin

# The normalisation the published checkpoints were trained with.
INPUT_MEAN = (0.485, 0.456, 0.406)
INPUT_STD = (0.229, 0.224, 0.225)


class OptionAShortcut(nn.Module):
    """Shortcut without parameters: (N, C, H, W) -> (N, C + 2 * pad, H/2, W/2),
    keeping every other row and column and adding `pad` zero channels on
    each side of the channel dim."""

    def __init__(self, pad_channels):
        super().__init__()
        self.pad_channels = pad_channels

    def forward(self, x):
        subsampled = x[:, :, ::2, ::2]
        # ops.pad pads the last dims first: (W left, W right, H top, H
        # bottom, C front, C back).
        return ops.pad(subsampled, (0, 0, 0, 0, self.pad_channels,
                                    self.pad_channels))

    def extra_repr(self):
        return "pad_channels={}".format(self.pad_channels)


class BasicBlock(nn.Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), 3x3 convs."""

    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride,
                               padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1,
                               padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            self.shortcut = OptionAShortcut(planes // 4)
        else:
            self.shortcut = nn.Sequential()  # identity, as in the reference

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + self.shortcut(x)
        return F.relu(out)


def _kaiming_init(module):
    """The reference's initialisation: Kaiming-normal (fan_in) weights for
    every Conv2d and Linear; biases and BatchNorm keep PyTorch's defaults."""
    if isinstance(module, (nn.Linear, nn.Conv2d)):
        init.kaiming_normal_(module.weight)


class CifarResNet(ClassifierMixin, nn.Module):
    """ResNet for 32x32 inputs with `num_blocks` BasicBlocks per stage."""

    head_name = "linear"

    def __init__(self, num_blocks, num_classes=10):
        super().__init__()
        self.num_classes = num_classes
        self.in_planes = 16
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, stride=1, padding=1,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(16, num_blocks[0], stride=1)
        self.layer2 = self._make_layer(32, num_blocks[1], stride=2)
        self.layer3 = self._make_layer(64, num_blocks[2], stride=2)
        self.linear = nn.Linear(64, num_classes)
        self.apply(_kaiming_init)

    def _make_layer(self, planes, blocks, stride):
        layers = []
        for block_stride in [stride] + [1] * (blocks - 1):
            layers.append(BasicBlock(self.in_planes, planes, block_stride))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward_features(self, x):
        """(N, 3, H, W) -> (N, 64) pooled features, before the classifier."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError("{}: expected images of shape (N, 3, H, W), got {}"
                             .format(type(self).__name__, x.shape))
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.adaptive_avg_pool2d(out, 1)  # global average pool, any H, W
        return out.reshape(out.shape[0], -1)

    def forward(self, x):
        return self.linear(self.forward_features(x))


def _blocks_for_depth(depth):
    if (depth - 2) % 6:
        raise ValueError("CIFAR ResNet depth must be 6n + 2, got {}".format(depth))
    n = (depth - 2) // 6
    return [n, n, n]


def cifar_resnet(depth, num_classes=10):
    """A CIFAR ResNet of `depth` = 6n + 2 layers (20, 32, 44, 56, 110, ...)."""
    return CifarResNet(_blocks_for_depth(depth), num_classes)
