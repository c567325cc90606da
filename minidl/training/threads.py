"""How many threads NumPy's BLAS (OpenBLAS) uses for matrix products.

Convolutions here are matrix products, run by the BLAS library NumPy was
built with. OpenBLAS starts one thread per core; on a machine where other
programs compete for the cores, its threads wait for each other and small
products get many times slower, so one thread can be much faster. The
usual way to choose is the environment variable ``OPENBLAS_NUM_THREADS``,
read when NumPy is imported; :func:`set_blas_threads` changes it in a
running program (Linux, OpenBLAS only), which ``--threads`` uses.
"""
import ctypes

# The setter's name in NumPy's bundled OpenBLAS (64-bit integers, renamed
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
    """Make OpenBLAS use `count` threads. Returns True when it could."""
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
