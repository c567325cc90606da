"""Datasets: things with a length that return one sample per index.

A :class:`Dataset` needs ``__len__`` and ``__getitem__(i)``. Datasets that
hold their samples in arrays also offer a *batch path*,
``get_batch(indices, rng=None)``, returning whole batches of arrays at once;
the :class:`~minidl.data.DataLoader` prefers it, because a Python call per
sample is far too slow for tens of thousands of images per epoch.

Image datasets (:class:`ImageArrayDataset`, and through it ``CIFAR10`` and
``ImageFolder``) follow one convention:

* ``images``: a uint8 NumPy array of shape (N, H, W, C), channels last, as
  image files and CIFAR's batches store them;
* ``targets``: an int64 NumPy array of shape (N,), class indices;
* ``classes`` (names) and ``class_to_idx`` (name -> index);
* ``get_batch(indices, rng)`` returns ``(images[indices], targets[indices])``
  with ``transform(images, rng)`` applied to the images when a transform is
  set (see :mod:`minidl.data.transforms`).
"""
import bisect
import numbers

import numpy as np

from .. import backend
from .. import random as minidl_random
from ..tensor import array_of
from .transforms import call_one, call_transform


class Dataset:
    """Base class: subclasses define ``__getitem__(index)`` and ``__len__()``.

    ``a + b`` concatenates two datasets (:class:`ConcatDataset`).
    """

    def __getitem__(self, index):
        raise NotImplementedError("{} must define __getitem__".format(
            type(self).__name__))

    def __len__(self):
        raise NotImplementedError("{} must define __len__".format(
            type(self).__name__))

    def __add__(self, other):
        return ConcatDataset([self, other])


def has_batch_path(dataset):
    """True when `dataset` can return whole batches (``get_batch``)."""
    return callable(getattr(dataset, "get_batch", None))


def _as_index_array(indices, length, name):
    """`indices` as an int64 array, checked against `length`."""
    array = np.asarray(indices)
    if array.dtype == bool:
        raise TypeError("{}: indices must be integers, got a boolean mask"
                        .format(name))
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype.kind not in "iu":
        raise TypeError("{}: indices must be integers, got dtype {}".format(
            name, array.dtype))
    array = array.astype(np.int64).reshape(-1)
    if array.min() < -length or array.max() >= length:
        raise IndexError("{}: index out of range for a dataset of length {} "
                         "(got indices from {} to {})".format(
                             name, length, array.min(), array.max()))
    return np.where(array < 0, array + length, array)


def _check_index(index, length, name):
    """A single integer index, negative ones counted from the end."""
    if not isinstance(index, numbers.Integral):
        raise TypeError("{}: index must be an integer, got {!r}".format(
            name, index))
    if not -length <= index < length:
        raise IndexError("{}: index {} out of range for a dataset of length {}"
                         .format(name, index, length))
    return int(index) % length


class TensorDataset(Dataset):
    """Samples are rows of equally long arrays or Tensors (e.g. inputs, labels).

    ``TensorDataset(x, y)[i]`` is ``(x[i], y[i])`` as arrays;
    ``get_batch(indices)`` is ``(x[indices], y[indices])``. Tensors are stored
    as their arrays (NumPy or CuPy); the DataLoader turns batches back into
    Tensors.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array")
        self.arrays = tuple(array_of(a) for a in arrays)
        lengths = [a.shape[0] if a.ndim else None for a in self.arrays]
        if None in lengths or len(set(lengths)) != 1:
            raise ValueError("TensorDataset: all arrays need the same first "
                             "dimension, got shapes {}".format(
                                 [tuple(a.shape) for a in self.arrays]))

    def __len__(self):
        return self.arrays[0].shape[0]

    def __getitem__(self, index):
        index = _check_index(index, len(self), "TensorDataset")
        return tuple(a[index] for a in self.arrays)

    def get_batch(self, indices, rng=None):
        indices = _as_index_array(indices, len(self), "TensorDataset.get_batch")
        batch = []
        for array in self.arrays:
            xp = backend.get_array_module(array)
            batch.append(array[xp.asarray(indices)])
        return tuple(batch)


class ImageArrayDataset(Dataset):
    """Images held in one uint8 array (N, H, W, C) with int64 targets (N,).

    The base of ``CIFAR10`` and ``ImageFolder``; usable on its own for
    images already in memory. `transform` (optional) takes one uint8 image
    (H, W, C) and, if it has an ``rng`` parameter, a numpy Generator; the
    batch path hands it whole batches when it is batched (minidl's
    transforms); see :mod:`minidl.data.transforms`.
    """

    def __init__(self, images, targets, classes=None, transform=None):
        images = np.asarray(images)
        targets = np.asarray(targets)
        if images.ndim != 4 or images.dtype != np.uint8:
            raise ValueError("{}: images must be a uint8 array (N, H, W, C), got "
                             "dtype {} shape {}".format(type(self).__name__,
                                                        images.dtype,
                                                        images.shape))
        if targets.shape != (images.shape[0],) or targets.dtype.kind not in "iu":
            raise ValueError("{}: targets must be integers of shape ({},), got "
                             "dtype {} shape {}".format(
                                 type(self).__name__, images.shape[0],
                                 targets.dtype, targets.shape))
        self.images = images
        self.targets = targets.astype(np.int64, copy=False)
        if classes is None:
            count = int(self.targets.max()) + 1 if len(self.targets) else 0
            classes = [str(i) for i in range(count)]
        self.classes = list(classes)
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
        self.transform = transform

    def __len__(self):
        return self.images.shape[0]

    def __getitem__(self, index):
        """(image, target): the image (H, W, C) after the transform, an int."""
        index = _check_index(index, len(self), type(self).__name__)
        image = self.images[index]
        if self.transform is not None:
            image = call_one(self.transform, image, None)  # one image
        return image, int(self.targets[index])

    def get_batch(self, indices, rng=None):
        """(images (B, H, W, C) uint8 or transformed, targets (B,) int64)."""
        indices = _as_index_array(indices, len(self),
                                  type(self).__name__ + ".get_batch")
        images = self.images[indices]
        if self.transform is not None:
            images = call_transform(self.transform, images, rng)
        return images, self.targets[indices]

    def __repr__(self):
        return "{}({} images of {}, {} classes)".format(
            type(self).__name__, len(self), "x".join(
                str(s) for s in self.images.shape[1:]), len(self.classes))


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = _as_index_array(indices, len(dataset), "Subset")

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        index = _check_index(index, len(self), "Subset")
        return self.dataset[int(self.indices[index])]

    def __getattr__(self, name):
        # Show the parent's `classes`, `class_to_idx`, ... (not `targets`,
        # which would be the parent's full list).
        if name in ("classes", "class_to_idx"):
            return getattr(self.dataset, name)
        raise AttributeError("{!r} object has no attribute {!r}".format(
            type(self).__name__, name))

    @property
    def targets(self):
        """The subset's targets, when the parent dataset has ``targets``."""
        return np.asarray(self.dataset.targets)[self.indices]

    def get_batch(self, indices, rng=None):
        if not has_batch_path(self.dataset):
            raise AttributeError("Subset.get_batch: the parent dataset {} has no "
                                 "get_batch".format(type(self.dataset).__name__))
        indices = _as_index_array(indices, len(self), "Subset.get_batch")
        return self.dataset.get_batch(self.indices[indices], rng=rng)


class ConcatDataset(Dataset):
    """Several datasets one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: needs at least one dataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets])

    def __len__(self):
        return int(self.cumulative_sizes[-1])

    def _locate(self, index):
        """(which dataset, index inside it) for a global index."""
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = 0 if which == 0 else int(self.cumulative_sizes[which - 1])
        return which, index - start

    def __getitem__(self, index):
        index = _check_index(index, len(self), "ConcatDataset")
        which, local = self._locate(index)
        return self.datasets[which][local]

    def get_batch(self, indices, rng=None):
        """Gather from each part, then put the rows back in request order."""
        if not all(has_batch_path(d) for d in self.datasets):
            raise AttributeError("ConcatDataset.get_batch: not every part has "
                                 "get_batch")
        indices = _as_index_array(indices, len(self), "ConcatDataset.get_batch")
        which = np.searchsorted(self.cumulative_sizes, indices, side="right")
        starts = np.concatenate([[0], self.cumulative_sizes[:-1]])
        pieces, positions = [], []
        for part in np.unique(which):
            chosen = np.nonzero(which == part)[0]
            local = indices[chosen] - starts[part]
            pieces.append(self.datasets[part].get_batch(local, rng=rng))
            positions.append(chosen)
        # `order[k]` is the row of the concatenated pieces that goes to k.
        order = np.argsort(np.concatenate(positions), kind="stable")
        fields = []
        for field in zip(*pieces):
            xp = backend.get_array_module(field[0])
            fields.append(xp.concatenate(field)[xp.asarray(order)])
        return tuple(fields)


def _split_lengths(lengths, total):
    """Counts from `lengths` (counts summing to total, or fractions summing
    to 1, the remainder handed out one by one from the first split)."""
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    is_fraction = all(isinstance(x, numbers.Real) and
                      not isinstance(x, numbers.Integral) for x in lengths)
    if is_fraction:
        if any(not 0 <= x <= 1 for x in lengths) or abs(sum(lengths) - 1) > 1e-6:
            raise ValueError("random_split: fractions must lie in [0, 1] and sum "
                             "to 1, got {} (sum {})".format(lengths, sum(lengths)))
        counts = [int(np.floor(total * x)) for x in lengths]
        for i in range(total - sum(counts)):
            counts[i % len(counts)] += 1
        return counts
    if any(not isinstance(x, numbers.Integral) or x < 0 for x in lengths):
        raise ValueError("random_split: lengths must be non-negative integers "
                         "or fractions summing to 1, got {}".format(lengths))
    if sum(lengths) != total:
        raise ValueError("random_split: lengths {} sum to {}, but the dataset "
                         "has {} samples".format(lengths, sum(lengths), total))
    return [int(x) for x in lengths]


def random_split(dataset, lengths, seed=None):
    """Split `dataset` into non-overlapping random :class:`Subset` s.

    `lengths`: counts (summing to ``len(dataset)``) or fractions (summing to
    1; e.g. ``[0.9, 0.1]``). The permutation comes from
    ``numpy.random.default_rng(seed)``, so one seed always gives the same
    split; with ``seed=None`` a seed is drawn from minidl's global generator
    (see ``minidl.manual_seed``).
    """
    counts = _split_lengths(lengths, len(dataset))
    if seed is None:
        seed = int(minidl_random.generator().integers(2 ** 63))
    permutation = np.random.default_rng(seed).permutation(len(dataset))
    subsets, start = [], 0
    for count in counts:
        subsets.append(Subset(dataset, permutation[start:start + count]))
        start += count
    return subsets
