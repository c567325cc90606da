"""Fine-tune a ResNet: the same command as ``python -m minidl.finetune``.

    python examples/finetune.py --arch resnet20 --weights resnet20-cifar10 \
        --data path/to/images --epochs 4 --hflip --crop-padding 4 --out runs/demo

See ``minidl/finetune.py`` for the steps and ``--help`` for every option.
"""
import sys

from minidl.finetune import main

if __name__ == "__main__":
    sys.exit(main())
