"""DataLoader: batches of a dataset, shuffled reproducibly, made in the
background while the model computes.

How a batch is made (``_make_batch``):

1. its indices: ``arange(N)`` or, with ``shuffle``, a permutation drawn from
   a generator seeded by (seed, epoch), cut into ``batch_size`` pieces;
2. its samples: ``dataset.get_batch(indices, rng)`` when the dataset has
   that batch path (array datasets: one fancy index per batch), otherwise
   ``collate_fn([dataset[i] for i in indices])``;
3. the loader's ``transform(images, rng)`` on the first field (the images);
4. every array becomes a minidl Tensor on `device`.

On a GPU, step 4 is split in two (see ``minidl/kernels/cuda_transfer.py``):
the batch is copied to the GPU on a CUDA stream of its own as soon as it
is made (from pinned host memory with ``pin_memory=True``, so the copy is
asynchronous), and handed over when the loop asks for it; without worker
threads the loop makes the next batch, starting its copy, before handing
over the current one. Either way the copy of the next batch overlaps the
current training step. On the CPU none of this happens.

`rng` is a generator seeded by (seed, epoch, batch index), so random
augmentations are the same whichever thread makes the batch and however
long it takes.

With ``num_workers > 0`` a pool of that many threads makes the next
``num_workers * prefetch_factor`` batches ahead of time. Threads suffice:
the heavy work (fancy indexing, arithmetic, the copy to the GPU) runs in
NumPy/CuPy code that releases the GIL. The pool is shut down when the
epoch ends, when the loop is left early (``break``: the iterator is
dropped), when the iterator is garbage-collected, and when a batch fails;
the error is raised again in the main thread with the worker's traceback.

Epochs: each ``iter(loader)`` (each ``for`` loop) uses ``loader.epoch`` and
then advances it, so successive epochs are shuffled differently but the
whole sequence is fixed by the seed. To resume at epoch e, call
``loader.set_epoch(e)`` (or ``load_state_dict``) before iterating.
"""
import collections
import numbers
import traceback
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import backend
from .. import random as minidl_random
from ..tensor import Tensor
from .dataset import has_batch_path
from .transforms import call_transform


def default_collate(samples):
    """Stack a list of samples into a batch.

    Tuples are collated field by field; arrays and Tensors are stacked along
    a new first axis; Python ints become int64 and Python floats float32.
    """
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(default_collate([sample[k] for sample in samples])
                     for k in range(len(first)))
    if isinstance(first, Tensor):
        samples = [sample.data for sample in samples]
        first = samples[0]
    if hasattr(first, "shape") and hasattr(first, "dtype"):  # arrays, scalars
        xp = backend.get_array_module(first)
        return xp.stack([xp.asarray(sample) for sample in samples])
    if isinstance(first, numbers.Integral):
        return np.array(samples, dtype=np.int64)
    if isinstance(first, numbers.Real):
        return np.array(samples, dtype=np.float32)
    raise TypeError("default_collate: cannot batch samples of type {}; pass a "
                    "collate_fn".format(type(first).__name__))


def _to_tensors(batch, device):
    """Arrays (or tuples of them) -> minidl Tensors on `device`."""
    if isinstance(batch, (tuple, list)):
        return tuple(_to_tensors(field, device) for field in batch)
    if isinstance(batch, Tensor):
        batch = batch.data
    return Tensor(backend.move_array(batch, device))


def _make_batch(loader, epoch, batch_index, indices, transfer=None):
    """Batch `batch_index` of `epoch`: samples, transform, Tensors.

    A plain function of the loader (not a method of the iterator), so the
    work queued in the thread pool never keeps the iterator alive. With a
    `transfer` (on a GPU) the result is a batch whose copy to the GPU has
    started, for ``transfer.finish``.
    """
    rng = loader.batch_generator(epoch, batch_index)
    dataset = loader.dataset
    if loader.collate_fn is None and has_batch_path(dataset):
        batch = dataset.get_batch(indices, rng=rng)
    else:
        collate = loader.collate_fn or default_collate
        batch = collate([dataset[int(i)] for i in indices])
    if loader.transform is not None:
        if isinstance(batch, (tuple, list)):
            images = call_transform(loader.transform, batch[0], rng)
            batch = (images,) + tuple(batch[1:])
        else:
            batch = call_transform(loader.transform, batch, rng)
    if transfer is not None:
        return transfer.start(batch)
    return _to_tensors(batch, loader.device)


def _reraise_from_worker(error, batch_index):
    """Raise `error` again in the main thread, its worker traceback in the
    message (same exception type when it can be built from one string)."""
    text = "".join(traceback.format_exception(type(error), error,
                                              error.__traceback__))
    message = ("DataLoader worker failed while making batch {}; original "
               "traceback:\n{}".format(batch_index, text))
    try:
        wrapped = type(error)(message)
    except Exception:
        wrapped = RuntimeError(message)
    raise wrapped from error


class _LoaderIterator:
    """One epoch of a DataLoader. Holds the thread pool, if any."""

    def __init__(self, loader, epoch):
        self.loader = loader
        self.epoch = epoch
        self.batches = loader.batch_indices(epoch)
        self.next_to_return = 0
        self.next_to_submit = 0
        self.pending = collections.deque()  # futures, in batch order
        self.ready = collections.deque()  # batches made in this thread
        # On a GPU: the copies of batches to it, on a stream of their own.
        self.transfer = None
        if loader.device.type == "cuda":
            from ..kernels.cuda_transfer import BatchTransfer
            self.transfer = BatchTransfer(loader.device, loader.pin_memory)
        self.pool = None
        if loader.num_workers > 0:
            self.pool = ThreadPoolExecutor(max_workers=loader.num_workers,
                                           thread_name_prefix="minidl-data")

    def __iter__(self):
        return self

    def __len__(self):
        return len(self.batches)

    def _submit_ahead(self):
        """Keep up to num_workers * prefetch_factor batches in the pool."""
        limit = self.loader.num_workers * self.loader.prefetch_factor
        while (len(self.pending) < limit and
               self.next_to_submit < len(self.batches)):
            index = self.next_to_submit
            self.pending.append(self.pool.submit(
                _make_batch, self.loader, self.epoch, index, self.batches[index],
                self.transfer))
            self.next_to_submit += 1

    def __next__(self):
        index = self.next_to_return
        if index >= len(self.batches):
            self.close()
            raise StopIteration
        self.next_to_return += 1
        if self.pool is None:
            return self._hand_over(self._made_here(index))
        if not self.pending:
            self._submit_ahead()
        future = self.pending.popleft()
        self._submit_ahead()  # the workers go on while this batch is used
        try:
            batch = future.result()
        except Exception as error:
            self.close()
            _reraise_from_worker(error, index)
        except BaseException:  # KeyboardInterrupt: stop the workers too
            self.close()
            raise
        return self._hand_over(batch)

    def _made_here(self, index):
        """Batch `index`, made in this thread. On a GPU the next batch is
        made, and its copy started, before this one is handed over: that
        copy then runs during this batch's training step."""
        if not self.ready:
            self.ready.append(_make_batch(self.loader, self.epoch, index,
                                          self.batches[index], self.transfer))
        batch = self.ready.popleft()
        if isinstance(batch, Exception):  # making it failed one step ago
            raise batch
        if self.transfer is not None and index + 1 < len(self.batches):
            try:
                self.ready.append(_make_batch(
                    self.loader, self.epoch, index + 1,
                    self.batches[index + 1], self.transfer))
            except Exception as error:  # raised when that batch is asked for
                self.ready.append(error)
        return batch

    def _hand_over(self, batch):
        """The batch as Tensors on the loader's device (on a GPU, once its
        copy is done: the compute stream waits for it, the host does not)."""
        if self.transfer is None:
            return batch
        return self.transfer.finish(batch)

    def close(self):
        """Cancel queued batches and wait for the worker threads to exit."""
        pool, self.pool = self.pool, None
        if pool is not None:
            for future in self.pending:
                future.cancel()
            self.pending.clear()
            pool.shutdown(wait=True, cancel_futures=True)
        self.ready.clear()
        if self.transfer is not None:
            self.transfer.close()
        self.next_to_return = len(self.batches)

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing left to clean
            pass


class DataLoader:
    """Batches of `dataset`, as tuples of minidl Tensors.

    Arguments (PyTorch's names): `batch_size`, `shuffle`, `drop_last` (drop
    a last incomplete batch), `num_workers` (background threads; 0 makes
    batches in the loop itself), `collate_fn` (list of samples -> batch,
    used instead of the dataset's batch path), `prefetch_factor` (batches
    queued per worker). minidl's own:

    * `seed`: fixes the shuffling and the augmentations of every epoch
      (None: drawn from minidl's global generator, see ``manual_seed``);
    * `transform`: applied to the first field of each batch (the images),
      e.g. augmentation for a training split only;
    * `device`: where the batches go (None: minidl's default device);
    * `pin_memory`: on a GPU, stage each batch in pinned (page-locked) host
      memory, so that its copy to the GPU is asynchronous and overlaps the
      training step; no effect on the CPU.

    For an image dataset with ``ToTensor`` in a transform, a batch is
    ``(images float32 (B, C, H, W), targets int64 (B,))``.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False,
                 num_workers=0, seed=None, transform=None, collate_fn=None,
                 pin_memory=False, device=None, prefetch_factor=2):
        for name, value, low in (("batch_size", batch_size, 1),
                                 ("num_workers", num_workers, 0),
                                 ("prefetch_factor", prefetch_factor, 1)):
            if not isinstance(value, numbers.Integral) or value < low:
                raise ValueError("DataLoader: {} must be an integer >= {}, got "
                                 "{!r}".format(name, low, value))
        if seed is None:
            seed = int(minidl_random.generator().integers(2 ** 63))
        if not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError("DataLoader: seed must be a non-negative integer, got "
                             "{!r}".format(seed))
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.num_workers = int(num_workers)
        self.prefetch_factor = int(prefetch_factor)
        self.seed = int(seed)
        self.transform = transform
        self.collate_fn = collate_fn
        self.pin_memory = pin_memory
        self.device = backend.Device(device) if device is not None \
            else backend.default_device()
        self.epoch = 0

    def __len__(self):
        """Number of batches per epoch."""
        count = len(self.dataset)
        if self.drop_last:
            return count // self.batch_size
        return -(-count // self.batch_size)  # ceiling division

    # -- reproducibility -----------------------------------------------------
    # Generators are seeded from fixed-length lists, so (seed, epoch) for the
    # order and (seed, epoch, batch) for the augmentations never collide.
    def order(self, epoch):
        """The sample order of `epoch`: a seeded permutation, or 0..N-1."""
        count = len(self.dataset)
        if not self.shuffle:
            return np.arange(count)
        return np.random.default_rng([self.seed, epoch, 0, 0]).permutation(count)

    def batch_indices(self, epoch):
        """The list of index arrays, one per batch, of `epoch`."""
        order = self.order(epoch)
        stop = len(self) * self.batch_size if self.drop_last else len(order)
        return [order[start:start + self.batch_size]
                for start in range(0, stop, self.batch_size)]

    def batch_generator(self, epoch, batch_index):
        """The numpy Generator for the random transforms of one batch."""
        return np.random.default_rng([self.seed, epoch, 1, batch_index])

    def set_epoch(self, epoch):
        """Make the next iteration produce epoch `epoch` (for resuming)."""
        if not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError("DataLoader.set_epoch: epoch must be a non-negative "
                             "integer, got {!r}".format(epoch))
        self.epoch = int(epoch)

    def state_dict(self):
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state):
        missing = {"seed", "epoch"} - set(state)
        if missing:
            raise KeyError("DataLoader.load_state_dict: missing keys {}".format(
                sorted(missing)))
        self.seed = int(state["seed"])
        self.set_epoch(int(state["epoch"]))

    def __iter__(self):
        epoch = self.epoch
        self.epoch += 1
        return _LoaderIterator(self, epoch)

    def __repr__(self):
        return ("DataLoader({} samples, batch_size={}, shuffle={}, "
                "num_workers={}, seed={})".format(len(self.dataset),
                                                   self.batch_size, self.shuffle,
                                                   self.num_workers, self.seed))
