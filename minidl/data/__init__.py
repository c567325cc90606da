"""Data: datasets, the DataLoader and batch transforms.

* :mod:`.dataset`: ``Dataset``, ``TensorDataset``, ``Subset``,
  ``ConcatDataset``, ``random_split``, and ``ImageArrayDataset``, the
  convention for image datasets: ``images`` uint8 (N, H, W, C),
  ``targets`` int64 (N,), and a batch path ``get_batch(indices, rng)``;
* :mod:`.cifar`: ``CIFAR10`` from the official python-format files;
* :mod:`.embedded`: ``load_sample()``, the CIFAR-10 sample that ships inside
  minidl, and ``sample_weights_path()``, its ResNet-20 weights;
* :mod:`.folder`: ``ImageFolder``, class sub-folders of JPEG/PNG files,
  decoded once and cached;
* :mod:`.dataloader`: ``DataLoader``, seeded shuffling, background threads;
* :mod:`.transforms`: vectorised transforms on uint8 batches.
"""
from . import transforms
from .cifar import CIFAR10
from .dataloader import DataLoader, default_collate
from .dataset import (ConcatDataset, Dataset, ImageArrayDataset, Subset,
                      TensorDataset, random_split)
from .embedded import load_sample, sample_root, sample_weights_path
from .folder import ImageFolder, default_cache_dir

__all__ = ["CIFAR10", "ConcatDataset", "DataLoader", "Dataset",
           "ImageArrayDataset", "ImageFolder", "Subset", "TensorDataset",
           "default_cache_dir", "default_collate", "load_sample", "random_split",
           "sample_root", "sample_weights_path", "transforms"]
