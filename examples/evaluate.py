"""Accuracy of a checkpoint on a dataset: the same command as
``python -m minidl.evaluate``.

    python examples/evaluate.py runs/demo/best.npz --data path/to/images
    python examples/evaluate.py runs/demo/best.npz --data path/to/images \
        --subset val --val-split 0.1 --seed 0      # a run's validation split

Prints the accuracy, the per-class accuracy and the confusion matrix.
"""
import sys

from minidl.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
