"""Spread NumPy work over the CPU cores by splitting the batch.

The matrix products of a convolution already use every core (BLAS has its
own threads), but NumPy's copies and element-wise operations use one.
They release Python's GIL while they run, though, so threads that work on
separate images do run at the same time: on two cores im2col takes about
half as long. ``over_images`` does that split.

``MINIDL_NUM_THREADS`` sets how many threads (default: the number of cores,
at most 8); 1 turns the splitting off.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

THREADS = int(os.environ.get("MINIDL_NUM_THREADS", min(os.cpu_count() or 1, 8)))

# Below this many elements a split costs more than it saves.
MIN_ELEMENTS = 2 ** 18

_executor = None
_lock = threading.Lock()


def _get_executor():
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(THREADS - 1,
                                           thread_name_prefix="minidl")
        return _executor


def over_images(work, n, elements):
    """Call ``work(start, stop)`` on consecutive slices covering images
    0..n-1, in parallel when `elements` (the size of the job) is large.

    Each call must touch only its own images. The calling thread does the
    first slice; returns when all are done (re-raising any error).
    """
    parts = min(THREADS, n) if elements >= MIN_ELEMENTS else 1
    if parts <= 1 or threading.current_thread().name.startswith("minidl"):
        work(0, n)
        return
    bounds = [n * k // parts for k in range(parts + 1)]
    executor = _get_executor()
    futures = [executor.submit(work, bounds[k], bounds[k + 1])
               for k in range(1, parts)]
    try:
        work(bounds[0], bounds[1])
    finally:
        for future in futures:
            future.result()
