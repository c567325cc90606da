"""What ``python -m minidl.finetune`` does with no data and no weights: the
embedded default, so that a fresh install runs the main job with nothing to
download.

When the command line names none of ``--data``, ``--weights``, ``--arch``
and ``--resume``, :func:`parse_with_sample_defaults` sets the argparse
defaults to :data:`SAMPLE_RECIPE` and parses again. Any option given on
the command line still wins (``python -m minidl.finetune --epochs 1``
is the same recipe with one epoch). The recipe: the ResNet-20 weights that
ship with minidl, fine-tuned on the 1,000 CIFAR-10 images that ship with it
(:mod:`minidl.data.embedded`), 800 for training and 200 for validation
(seed 0); the backbone is frozen and only the classifier learns (the
weights were trained on CIFAR-10's original PNG images, and the head
adapts to the JPEG copies), three epochs of SGD with a cosine schedule.
The outputs go to ``runs/sample`` in the working directory.
"""
import os

from ..data.embedded import sample_root

SAMPLE_OUT = os.path.join("runs", "sample")
SAMPLE_WEIGHTS = "resnet20-cifar10-embedded"


def sample_recipe():
    """The argparse defaults of the no-argument run."""
    return {"data": sample_root(), "weights": SAMPLE_WEIGHTS,
            "out": SAMPLE_OUT, "val_split": 0.2, "freeze": "backbone",
            "optimizer": "sgd", "lr": 0.01, "epochs": 3, "batch_size": 64,
            "schedule": "cosine", "seed": 0}


def names_a_job(args):
    """True when the parsed command line says what to train on or with."""
    return any(getattr(args, name) is not None
               for name in ("data", "weights", "arch", "resume"))


def parse_with_sample_defaults(parser, argv):
    """``parser.parse_args(argv)``; when `argv` names no job (see
    :func:`names_a_job`), parsed again over the defaults of
    :func:`sample_recipe`, with a line saying so."""
    args = parser.parse_args(argv)
    if names_a_job(args):
        return args
    parser.set_defaults(**sample_recipe())
    args = parser.parse_args(argv)
    print("no --data or --weights: fine-tuning the ResNet-20 that ships with "
          "minidl ({}) on its embedded CIFAR-10 sample ({}); outputs in {}"
          .format(args.weights, args.data, args.out), flush=True)
    return args
