"""The kernel registry: where an op gets a device-specific implementation.

Most ops need nothing of the sort: they call ``xp.exp`` or ``xp.matmul`` on
the array module of their inputs, and NumPy and CuPy both answer. A few
pieces of work are done better by hand on each device (a scatter-add, im2col,
a fused optimizer update). Ops ask for those by name::

    scatter_add = kernels.get("scatter_add", xp)
    scatter_add(target, index, values)

``get`` returns the implementation registered for that array module
("numpy" or "cupy"), or the generic ("any") one written with ``xp`` calls.
The NumPy implementations live beside the ops that use them (scatter_add,
used by several ops, lives here); the CuPy ones live in
:mod:`minidl.kernels.cuda`, imported only when CuPy is in use.
"""
_registry = {}
_cuda_loaded = False


def register(name, backend="any"):
    """Decorator: make `function` the implementation of `name` on `backend`."""
    if backend not in ("any", "numpy", "cupy"):
        raise ValueError("kernels.register: backend must be 'any', 'numpy' or "
                         "'cupy', got {!r}".format(backend))

    def decorate(function):
        _registry[(name, backend)] = function
        return function
    return decorate


def get(name, xp):
    """The implementation of `name` for array module `xp`."""
    backend = xp.__name__.split(".")[0]
    if backend == "cupy":
        _load_cuda_kernels()
    function = _registry.get((name, backend)) or _registry.get((name, "any"))
    if function is None:
        raise KeyError("no kernel named {!r} for {} (registered: {})".format(
            name, backend, sorted({n for n, _ in _registry})))
    return function


def _load_cuda_kernels():
    global _cuda_loaded
    if not _cuda_loaded:
        from . import cuda  # noqa: F401  (registers the CuPy kernels)
        _cuda_loaded = True


@register("scatter_add", "numpy")
def _scatter_add_numpy(target, index, values):
    """target[index] += values, adding repeated indices up (np.add.at)."""
    import numpy as np
    np.add.at(target, index, values)
