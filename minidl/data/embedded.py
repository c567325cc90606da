"""The small real sample that ships inside minidl, in the spirit of
scikit-learn's ``load_digits``: ``python -m minidl.finetune`` with no
arguments, the examples and the tests use it, with nothing to download.

* :func:`load_sample`: 1,000 CIFAR-10 training images (100 per class,
  32x32 JPEG files in ``minidl/data/sample/cifar10/<class>/``) as an
  :class:`~minidl.data.ImageFolder`;
* :func:`sample_weights_path`: ResNet-20 weights trained on CIFAR-10,
  converted to minidl's ``.npz`` (published name
  ``resnet20-cifar10-embedded``; ``minidl.models.resnet20(weights="DEFAULT")``).

``minidl/data/sample/NOTICE`` gives the origin and licence of both (the
CIFAR-10 technical report of Krizhevsky, 2009; the BSD-2 checkpoint of
Yerlan Idelbayev) and how the images were chosen.
"""
import os

from .folder import ImageFolder

SAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sample")
SAMPLE_IMAGES = os.path.join(SAMPLE_DIR, "cifar10")
SAMPLE_WEIGHTS = os.path.join(SAMPLE_DIR, "resnet20-cifar10.npz")


def _check_installed(path):
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"minidl's embedded sample is missing: no {path}. It ships with "
            f"the package (setup.cfg [options.package_data]); reinstall minidl "
            f"from a full clone or wheel")
    return path


def sample_root():
    """The folder of the sample's class folders (an ImageFolder root)."""
    return _check_installed(SAMPLE_IMAGES)


def sample_weights_path():
    """The packaged ResNet-20 CIFAR-10 weights (``.npz``)."""
    return _check_installed(SAMPLE_WEIGHTS)


def load_sample(transform=None, cache_dir=False):
    """The embedded CIFAR-10 sample as an ImageFolder: ``images`` uint8
    (1000, 32, 32, 3), ``targets`` int64 (1000,), 100 per class, ``classes``
    the ten CIFAR-10 names in sorted order (airplane ... truck).

    `transform`: as for any dataset (:mod:`minidl.data.transforms`).
    `cache_dir`: the decoded-image cache (False, the default: decode the
    1,000 small files each time, well under a second; None: the user cache).
    """
    return ImageFolder(sample_root(), transform=transform, cache_dir=cache_dir)
