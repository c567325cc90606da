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

The full job is one flag away: ``--data cifar10 --download``
(:func:`resolve_data`) fetches the official CIFAR-10 archive into the cache
(``$MINIDL_CACHE`` or ``~/.cache/minidl``, under ``cifar10/``), checks its
MD5 and extracts it; ``--data cifar10`` alone uses that copy.
"""
import os

from ..data import cifar
from ..data.embedded import sample_root
from ..data.folder import default_cache_dir
from .options import UsageError

SAMPLE_OUT = os.path.join("runs", "sample")
SAMPLE_WEIGHTS = "resnet20-cifar10-embedded"


def sample_recipe():
    """The argparse defaults of the no-argument run."""
    return {"data": sample_root(), "weights": SAMPLE_WEIGHTS,
            "out": SAMPLE_OUT, "val_split": 0.2, "freeze": "backbone",
            "optimizer": "sgd", "lr": 0.01, "epochs": 3, "batch_size": 64,
            "schedule": "cosine", "seed": 0}


def add_data_arguments(group):
    """The options this module reads, added to the parser's data group."""
    group.add_argument("--download", action="store_true",
                       help="fetch CIFAR-10 (163 MB, MD5-checked) when --data "
                       "is 'cifar10' (the cache: $MINIDL_CACHE or "
                       "~/.cache/minidl) or a folder without its files")


def cifar10_cache_root():
    """Where ``--data cifar10`` lives: CACHE/cifar10."""
    return os.path.join(default_cache_dir(), "cifar10")


def resolve_data(data, download, option="--data"):
    """The folder for ``--data``: "cifar10" (unless a folder of that name is
    in the working directory) means :func:`cifar10_cache_root`; with
    `download`, CIFAR-10 is fetched there (or into the folder given) when
    its files are missing. Without it, a missing "cifar10" says what to
    download and where to put it."""
    if data is None:
        return None
    root = data
    if data == "cifar10" and not os.path.isdir(data):
        root = cifar10_cache_root()
        if not download and cifar._find_folder(root) is None:
            raise UsageError(
                f"{option} cifar10: CIFAR-10 is not in the cache {root}; add "
                f"--download, or {cifar._where_to_put(root)}")
    if download and cifar._find_folder(root) is None:
        print(f"downloading CIFAR-10 ({cifar.URL}, 163 MB) into {root}",
              flush=True)
        try:
            cifar.download_cifar10(root)
        except (OSError, cifar.DownloadError) as error:
            raise UsageError(str(error)) from None
    return root


def names_a_job(args):
    """True when the parsed command line says what to train on or with."""
    return any(getattr(args, name) is not None
               for name in ("data", "weights", "arch", "resume"))


def parse_with_sample_defaults(parser, argv):
    """``parser.parse_args(argv)``, with ``--data cifar10`` and
    ``--download`` resolved (:func:`resolve_data`); when `argv` names no job
    (see :func:`names_a_job`), parsed again over the defaults of
    :func:`sample_recipe`, with a line saying so."""
    args = parser.parse_args(argv)
    if names_a_job(args):
        args.data = resolve_data(args.data, args.download)
        return args
    parser.set_defaults(**sample_recipe())
    args = parser.parse_args(argv)
    print(f"no --data or --weights: fine-tuning the ResNet-20 that ships with "
          f"minidl ({args.weights}) on its embedded CIFAR-10 sample "
          f"({args.data}); outputs in {args.out}", flush=True)
    return args
