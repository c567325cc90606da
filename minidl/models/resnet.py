"""ImageNet ResNets (He et al. 2016) in torchvision's layout: resnet18/34/50.

A 7x7 stride-2 convolution with 64 channels, BatchNorm, ReLU, a 3x3
stride-2 max pool, four stages (``layer1``..``layer4``, 64/128/256/512
planes, stages 2-4 starting with stride 2), global average pooling and a
Linear ``fc``. resnet18/34 use BasicBlocks (two 3x3 convs); resnet50 uses
Bottlenecks (1x1 reduce, 3x3, 1x1 expand by 4), with the stride on the 3x3
conv as torchvision does ("ResNet v1.5"). A block that changes shape has a
``downsample`` shortcut: Sequential(1x1 conv with stride, BatchNorm), named
``downsample.0`` and ``downsample.1``. Every name matches torchvision, so its
state dicts load after conversion.

Input: (N, 3, H, W) images normalised with ``INPUT_MEAN``/``INPUT_STD``
(H, W >= 32). Output: (N, num_classes) logits.
"""
from .. import nn
from ..nn import init
from .common import ClassifierMixin

INPUT_MEAN = (0.485, 0.456, 0.406)
INPUT_STD = (0.229, 0.224, 0.225)


def conv3x3(in_planes, out_planes, stride=1, groups=1):
    """3x3 convolution, padding 1, no bias (BatchNorm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride,
                     padding=1, groups=groups, bias=False)


def conv1x1(in_planes, out_planes, stride=1):
    """1x1 convolution, no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride,
                     bias=False)


class BasicBlock(nn.Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), two 3x3 convs;
    the shortcut is `downsample` (x if None)."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1,
                 base_width=64):
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and "
                             "base_width=64")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x)):
    1x1 to `width` channels, 3x3 (with the stride), 1x1 to planes * 4."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1,
                 base_width=64):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(ClassifierMixin, nn.Module):
    """torchvision's ResNet: `block` (BasicBlock or Bottleneck), `layers`
    blocks per stage. ``zero_init_residual=True`` starts the last BN of
    each block at 0, so each block begins as the identity."""

    head_name = "fc"

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False,
                 groups=1, width_per_group=64):
        super().__init__()
        self.num_classes = num_classes
        self.inplanes = 64
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2,
                               padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        # torchvision's initialisation: He-normal (fan_out, relu) convs,
        # BatchNorm weight 1 and bias 0, default Linear.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                init.kaiming_normal_(module.weight, mode="fan_out",
                                     nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                init.constant_(module.weight, 1)
                init.constant_(module.bias, 0)
        if zero_init_residual:
            for module in self.modules():
                if isinstance(module, Bottleneck):
                    init.constant_(module.bn3.weight, 0)
                elif isinstance(module, BasicBlock):
                    init.constant_(module.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups,
                        self.base_width)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width))
        return nn.Sequential(*layers)

    def forward_features(self, x):
        """(N, 3, H, W) -> (N, 512 * expansion) pooled features."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError("ResNet: expected images of shape (N, 3, H, W), "
                             "got {}".format(x.shape))
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x)
        return x.reshape(x.shape[0], -1)

    def forward(self, x):
        return self.fc(self.forward_features(x))
