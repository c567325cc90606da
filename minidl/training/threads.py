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


def set_blas_threads(count):
    """Make OpenBLAS use `count` threads. Returns True when it could."""
    done = False
    for path in _loaded_openblas():
        library = ctypes.CDLL(path)
        for name in _SETTERS:
            setter = getattr(library, name, None)
            if setter is not None:
                setter(ctypes.c_int(count))
                done = True
                break
    return done
