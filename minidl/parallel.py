"""Using several CPU cores: minidl splits a batch over threads itself.

NumPy runs each call on one core, except matrix products, which its BLAS
(OpenBLAS) may split across threads. For the products of a convolution
that split works badly: they are small (one per image, a few million
operations each), so the BLAS threads spend much of their time waking and
waiting for each other, and after each product they keep a core busy
spinning for a while, which halves the speed of the copies the main thread
does next (im2col). Measured on 2 cores, a ResNet-20 training step took
longer with 2 BLAS threads than with 1.

So minidl splits the work at the level where it is large: the images of a
batch are divided into chunks, and the chunks run on minidl's own threads
(NumPy releases Python's global lock while it copies or multiplies, so the
threads really run at once), with BLAS on one thread. Chunks are also kept
small enough for a convolution's column matrix to stay in the cache
between the im2col copy that writes it and the product that reads it,
which helps even on one thread. Measured on 2 cores (ResNet-20 training
step, batch 128): 706 ms with 2 BLAS threads, 359 ms with minidl's 2
threads and cache-sized chunks; on one thread, 675 ms without the
cache-sized chunks, 578 ms with them.

The chunks depend only on the batch and the size of the work, never on
the number of threads, and the parts that a reduction adds (a
convolution's weight gradient, batch norm's sums) are added in chunk
order: so 1, 2 or 16 threads give the same results, bit for bit (a run
resumed on another machine goes on exactly as it would have).

:func:`set_num_threads` chooses the number of threads (default: the
``MINIDL_NUM_THREADS``, ``OMP_NUM_THREADS`` or ``OPENBLAS_NUM_THREADS``
environment variable, else the number of cores this process may use).
Whenever minidl runs chunks it sets NumPy's BLAS to one thread, for
the whole process (OpenBLAS has only a process-wide setting).
"""
import ctypes
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

# A chunk smaller than this many array elements is not worth a thread of
# its own: handing it over costs tens of microseconds.
MIN_CHUNK_ELEMENTS = 2 ** 16
# A chunk's largest array should fit in the cache (4 MB of float32).
MAX_CHUNK_ELEMENTS = 2 ** 20
# The number of chunks is a multiple of this (unless the batch or the work
# is too small), so that 1, 2 or 4 threads get equal shares.
CHUNK_MULTIPLE = 4

_ENVIRONMENT_VARIABLES = ("MINIDL_NUM_THREADS", "OMP_NUM_THREADS",
                          "OPENBLAS_NUM_THREADS")

_state = {"threads": None, "pool": None, "blas_set": False}
_lock = threading.Lock()
_in_worker = threading.local()


# -- how many threads ----------------------------------------------------------

def _default_threads():
    for name in _ENVIRONMENT_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) >= 1:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def get_num_threads():
    """How many threads minidl's NumPy kernels use (as PyTorch's)."""
    if _state["threads"] is None:
        _state["threads"] = _default_threads()
    return _state["threads"]


def set_num_threads(count):
    """Use `count` threads for minidl's NumPy kernels, and one thread for
    NumPy's BLAS (see the module docstring)."""
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError("set_num_threads: count must be a positive int, got "
                         "{!r}".format(count))
    with _lock:
        _state["threads"] = count
        if _state["pool"] is not None:
            _state["pool"].shutdown(wait=True)
            _state["pool"] = None
    set_blas_threads(1)
    _state["blas_set"] = True


# -- running chunks of a batch ---------------------------------------------------

def batch_chunks(batch, elements):
    """The chunks [start, stop) that split range(batch), in order, for work
    whose largest array has `elements` elements.

    They depend on `batch` and `elements` only, never on the number of
    threads (see the module docstring). Chunks are made small enough for
    that array to stay in the processor's cache between the copy that
    writes it and the product that reads it (MAX_CHUNK_ELEMENTS), their
    number a multiple of CHUNK_MULTIPLE, but never smaller than
    MIN_CHUNK_ELEMENTS nor than one image.
    """
    pieces = -(-elements // MAX_CHUNK_ELEMENTS)  # ceiling
    count = CHUNK_MULTIPLE * -(-pieces // CHUNK_MULTIPLE)
    count = min(max(count, 1), batch, max(elements // MIN_CHUNK_ELEMENTS, 1))
    bounds = [batch * i // count for i in range(count + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def map_batch_chunks(work, batch, elements, like):
    """Call work(start, stop) for the chunks of :func:`batch_chunks`, on
    minidl's threads at once; return the results in chunk order (a caller
    that adds them adds them in that order, whatever the threads).

    The threads (the calling one among them) take chunks from a shared
    list until none is left. The whole batch is one chunk, run by the
    calling thread, when `like` is not a NumPy array (a GPU runs its own
    threads) or when this call comes from inside a chunk (no nesting). An
    exception in a chunk is raised here.
    """
    import numpy
    if (not isinstance(like, numpy.ndarray)
            or getattr(_in_worker, "active", False)):
        return [work(0, batch)]
    _blas_on_one_thread()
    chunks = batch_chunks(batch, elements)
    results = [None] * len(chunks)
    todo = queue.SimpleQueue()
    for index in range(len(chunks)):
        todo.put(index)

    def take_chunks():
        _in_worker.active = True
        try:
            while True:
                try:
                    index = todo.get_nowait()
                except queue.Empty:
                    return
                results[index] = work(*chunks[index])
        finally:
            _in_worker.active = False

    helpers = min(get_num_threads(), len(chunks)) - 1
    futures = [_pool().submit(take_chunks) for _ in range(helpers)]
    take_chunks()
    for future in futures:
        future.result()  # waits; raises a helper's exception
    return results


def _blas_on_one_thread():
    """NumPy's BLAS on one thread, once: minidl's chunks are the
    parallelism, also with one minidl thread (so that the products are
    the same calls whatever the thread count)."""
    if not _state["blas_set"]:
        set_blas_threads(1)
        _state["blas_set"] = True


def _pool():
    with _lock:
        if _state["pool"] is None:
            _state["pool"] = ThreadPoolExecutor(
                max_workers=max(1, get_num_threads() - 1),
                thread_name_prefix="minidl-parallel")
        return _state["pool"]


# -- NumPy's BLAS thread count (OpenBLAS, through its C functions) ---------------

# The function names in NumPy's bundled OpenBLAS (64-bit integers, renamed
# symbols) and in a plain system OpenBLAS.
_SETTERS = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
            "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
            "openblas_get_num_threads")


def _loaded_openblas():
    """Paths of the OpenBLAS libraries loaded in this process (Linux)."""
    import numpy  # noqa: F401  (makes sure NumPy's BLAS is loaded)
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                name = path.rsplit("/", 1)[-1].lower()
                if "openblas" in name and ".so" in name and path not in paths:
                    paths.append(path)
    except OSError:
        pass
    return paths


def _first_function(names):
    """The first of `names` found in a loaded OpenBLAS, or None."""
    for path in _loaded_openblas():
        library = ctypes.CDLL(path)  # already loaded: this only finds it
        for name in names:
            function = getattr(library, name, None)
            if function is not None:
                return function
    return None


def set_blas_threads(count):
    """Make OpenBLAS use `count` threads. Returns True when it could (False
    where NumPy uses another BLAS, or on a system without /proc)."""
    if not isinstance(count, int) or count < 1:
        raise ValueError("set_blas_threads: count must be a positive int, got "
                         "{!r}".format(count))
    setter = _first_function(_SETTERS)
    if setter is None:
        return False
    setter(ctypes.c_int(count))
    return True


def get_blas_threads():
    """How many threads OpenBLAS uses (None when no OpenBLAS is found)."""
    getter = _first_function(_GETTERS)
    if getter is None:
        return None
    getter.restype = ctypes.c_int
    return int(getter())
