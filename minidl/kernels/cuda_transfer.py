"""Copying DataLoader batches to the GPU while the model computes.

Used by :class:`minidl.data.DataLoader` when its device is CUDA (on the CPU
nothing here runs). A batch goes to the GPU in two steps:

1. :meth:`BatchTransfer.start` (in a worker thread, or one batch ahead in
   the loop itself): each array is copied into a *staging* array on the GPU
   on a CUDA stream of its own, the copy stream. The copy is asynchronous
   when the host array is in pinned (page-locked) memory, which
   ``pin_memory=True`` arranges; the GPU's copy engine then moves it while
   the compute stream runs the current training step.
2. :meth:`BatchTransfer.finish` (in the loop, when the batch is handed
   over): the compute stream waits, on the GPU, for that copy to end (the
   host does not wait), then copies the staging array to an array of its
   own (a device-to-device copy, about a microsecond for a CIFAR batch).

Why the second copy: CuPy's memory pool gives freed memory back to the
stream that allocated it. If the batch were used straight from the staging
array, freeing it would let the copy stream reuse that memory for the next
batch while the compute stream may still be reading it. The compute
stream's own copy belongs to the compute stream, and each staging array
(and pinned buffer) is kept until an event says the compute stream has
finished reading it.
"""
import collections
import threading

import numpy as np


class _Staged:
    """A batch whose copy to the GPU has started: the staging arrays (same
    nesting as the batch), the event that marks the end of the copies, and
    what must stay alive until the GPU has read it."""

    def __init__(self, arrays, copied, keep_alive):
        self.arrays, self.copied, self.keep_alive = arrays, copied, keep_alive


def _map(batch, function):
    """`function` applied to every leaf of a batch (tuples of arrays)."""
    if isinstance(batch, (tuple, list)):
        return tuple(_map(field, function) for field in batch)
    return function(batch)


class BatchTransfer:
    """Moves batches to one CUDA device through a copy stream of its own.

    `device` is a minidl Device of type "cuda"; with `pin_memory`, host
    arrays are first copied into pinned memory so that the copy to the GPU
    is asynchronous. Thread-safe: worker threads may call :meth:`start`
    while the main thread calls :meth:`finish`.
    """

    def __init__(self, device, pin_memory):
        import cupy
        self.device_index = device.index
        self.pin_memory = bool(pin_memory)
        with cupy.cuda.Device(self.device_index):
            self.stream = cupy.cuda.Stream(non_blocking=True)
        self._in_use = collections.deque()  # (keep_alive, event) pairs
        self._lock = threading.Lock()

    def start(self, batch):
        """Start copying `batch` (NumPy arrays, or tuples of them) to the
        GPU; returns a _Staged batch for :meth:`finish`."""
        import cupy
        from ..tensor import Tensor
        keep_alive = []

        def stage(array):
            if isinstance(array, Tensor):
                array = array.data
            if not isinstance(array, np.ndarray):
                return array  # already on a GPU, or not an array
            host = np.ascontiguousarray(array)
            if self.pin_memory:
                import cupyx
                pinned = cupyx.empty_pinned(host.shape, dtype=host.dtype)
                pinned[...] = host
                host = pinned
            # Allocated while the copy stream is current: the memory pool
            # files this memory under the copy stream.
            staging = cupy.empty(host.shape, dtype=host.dtype)
            staging.set(host, stream=self.stream)
            keep_alive.extend((host, staging))
            return staging

        with cupy.cuda.Device(self.device_index), self.stream:
            arrays = _map(batch, stage)
            copied = self.stream.record()
        return _Staged(arrays, copied, keep_alive)

    def finish(self, staged):
        """The batch as minidl Tensors owned by the current (compute)
        stream, once the copies of :meth:`start` are done (a wait on the
        GPU, not on the host)."""
        import cupy
        from ..tensor import Tensor
        staging_ids = {id(a) for a in staged.keep_alive}
        with cupy.cuda.Device(self.device_index):
            compute = cupy.cuda.get_current_stream()
            compute.wait_event(staged.copied)
            arrays = _map(staged.arrays, lambda a: a.copy()
                          if id(a) in staging_ids else a)
            read = compute.record()
        with self._lock:
            self._in_use.append((staged.keep_alive, read))
            # Let go of staging arrays the compute stream has finished
            # reading (a query, never a wait).
            while self._in_use and self._in_use[0][1].done:
                self._in_use.popleft()
        return _map(arrays, Tensor)

    def close(self):
        """Wait until the GPU is done with every staging array, then let
        them go."""
        with self._lock:
            while self._in_use:
                _, event = self._in_use.popleft()
                event.synchronize()
