"""The PyTorch twin of :mod:`minidl.models.cifar_resnet`, defined once.

``torch_cifar_resnet(torch, depth)`` builds a PyTorch CIFAR ResNet (He et
al. 2015, section 4.2, option-A shortcuts) with the parameter names of the
published checkpoints (``conv1``, ``bn1``, ``layer1.0.conv1``, ...,
``linear``). The tests compare minidl's model with it, the example
``check_real_weights.py`` loads real checkpoints into it, and the benchmarks
time it. The ``torch`` module is passed in so this file never imports torch.
"""


def torch_cifar_resnet(torch, depth, num_classes=10):
    """A PyTorch CIFAR ResNet of `depth` = 6n + 2 layers: input (N, 3, 32, 32),
    output (N, num_classes) logits; the twin of minidl's ``resnet<depth>``."""
    if (depth - 2) % 6 != 0:
        raise ValueError("torch_cifar_resnet: depth must be 6n + 2 (20, 32, "
                         "44, 56, 110), got {}".format(depth))
    tnn, F = torch.nn, torch.nn.functional

    class PadShortcut(tnn.Module):
        """Option A: keep every other row and column, pad the channels."""

        def __init__(self, pad):
            super().__init__()
            self.pad = pad

        def forward(self, x):
            return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))

    class Block(tnn.Module):
        """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))."""

        def __init__(self, inputs, planes, stride):
            super().__init__()
            self.conv1 = tnn.Conv2d(inputs, planes, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
            self.shortcut = tnn.Sequential()
            if stride != 1 or inputs != planes:
                self.shortcut = PadShortcut(planes // 4)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            n = (depth - 2) // 6
            self.conv1 = tnn.Conv2d(3, 16, 3, 1, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(16)
            widths, strides, inputs = [16, 32, 64], [1, 2, 2], 16
            for stage, (planes, stride) in enumerate(zip(widths, strides)):
                blocks = []
                for i in range(n):
                    blocks.append(Block(inputs, planes, stride if i == 0 else 1))
                    inputs = planes
                setattr(self, "layer{}".format(stage + 1),
                        tnn.Sequential(*blocks))
            self.linear = tnn.Linear(64, num_classes)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.layer3(self.layer2(self.layer1(out)))
            out = F.avg_pool2d(out, out.size(3)).flatten(1)
            return self.linear(out)

    return Net()
