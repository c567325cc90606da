"""What every CuPy kernel of minidl is made of: an :class:`ElementwiseSource`.

Each kernel is a ``cupy.ElementwiseKernel``: CuPy generates the loop over
elements and the indexing, and minidl writes what ONE thread does for ONE
element ``i`` of the output. The parts are kept here as plain strings:

* ``arrays``, ``scalars``, ``outputs``: CuPy's parameter lists, e.g.
  ``"raw T x, T y"``, ``"int32 width"`` and ``"T z"``; a call passes the
  input arrays, then the scalars, then the output arrays, in that order.
  ``T`` is a type placeholder: CuPy fills it in from the arrays passed
  (``float`` for float32, ``double`` for float64) and compiles one version
  per dtype, once, caching the binary in memory and on disk. A ``raw``
  array is not indexed for the thread: the code reads ``x[k]`` at any flat
  (C-order) index ``k``. Non-raw arrays are read (inputs) or written
  (outputs) at element ``i``; all of them have the same shape.
* ``operation``: the C++ body one thread runs, with ``i`` its element.
* ``preamble``: helper code placed before the kernel.

Keeping the source apart from CuPy means it can be read, compiled with
NVRTC and even run on the CPU (``tests/test_cuda_kernels.py`` does both)
on a machine without a GPU or without CuPy: this module imports CuPy only
when a kernel is first built.

Index arithmetic (divisions to turn ``i`` into (n, c, h, w)) is done in
``index_t``: ``int`` when every array involved has fewer than 2**31
elements, ``long long`` otherwise. 64-bit integer division is several
times slower on a GPU, and these kernels do a few per element.
"""
import threading

INT32_LIMIT = 2 ** 31 - 1


def index_type(*sizes):
    """The C type for index arithmetic over arrays of these sizes."""
    return "int" if max(sizes, default=0) <= INT32_LIMIT else "long long"


class ElementwiseSource:
    """The source of one ``cupy.ElementwiseKernel`` and its compiled kernels.

    ``kernel(index)`` builds the kernel for index type `index` ("int" or
    "long long") the first time it is asked for and returns the same object
    afterwards (a memoised factory, as Chainer's ``@cupy.memoize``); CuPy
    then compiles one binary per dtype on first call and caches it.
    """

    all_sources = []  # every kernel minidl defines, for tests and tools

    def __init__(self, name, arrays, scalars, outputs, operation,
                 preamble=""):
        self.name = name
        self.arrays, self.scalars, self.outputs = arrays, scalars, outputs
        self.operation, self.preamble = operation, preamble
        self._kernels = {}
        self._lock = threading.Lock()  # DataLoader threads may build too
        ElementwiseSource.all_sources.append(self)

    @property
    def in_params(self):
        """CuPy's input parameter list: the arrays, then the scalars."""
        return ", ".join(part for part in (self.arrays, self.scalars) if part)

    def full_preamble(self, index="int"):
        """The preamble with the index type defined (what CuPy compiles)."""
        return "typedef {} index_t;\n{}".format(index, self.preamble)

    def kernel(self, index="int"):
        """The cupy.ElementwiseKernel for index type `index` (memoised)."""
        with self._lock:
            if index not in self._kernels:
                import cupy
                self._kernels[index] = cupy.ElementwiseKernel(
                    self.in_params, self.outputs, self.operation,
                    "minidl_" + self.name,
                    preamble=self.full_preamble(index))
            return self._kernels[index]

    def __repr__(self):
        return "ElementwiseSource({!r})".format(self.name)


def contiguous(array):
    """`array` as a C-contiguous CuPy array (itself if it already is).

    Kernels read raw arrays at flat indices; on a C-contiguous array CuPy
    turns ``x[k]`` into a plain pointer offset, with no per-axis divisions.
    """
    import cupy
    return cupy.ascontiguousarray(array)


def scalar(value, like):
    """`value` as a NumPy scalar of `like`'s dtype, for a ``T`` parameter.

    A Python float would be a float64 argument; typed, it can neither
    change nor question what CuPy infers ``T`` to be (float32 stays float32).
    """
    return like.dtype.type(value)
