"""The global random generator: ``manual_seed``, ``randn``, ``rand``, ``randint``.

One NumPy Generator serves initialisation, dropout and shuffling, so a
single ``minidl.manual_seed(0)`` makes a run reproducible. Numbers are drawn
on the CPU and moved to the requested device.
"""
import numpy as np

from . import backend

_generator = np.random.default_rng(0)


def manual_seed(seed):
    """Reset the global generator to `seed`."""
    global _generator
    _generator = np.random.default_rng(seed)


def generator():
    """The global numpy Generator."""
    return _generator


def get_rng_state():
    return _generator.bit_generator.state


def set_rng_state(state):
    _generator.bit_generator.state = state


def _make(array, dtype, device, requires_grad):
    from .tensor import Tensor, float32
    device = backend.Device(device) if device is not None \
        else backend.default_device()
    array = backend.move_array(array.astype(dtype or float32), device)
    return Tensor(array, requires_grad=requires_grad)


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Standard normal samples."""
    return _make(_generator.standard_normal(_shape(shape)), dtype, device,
                 requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1)."""
    return _make(_generator.random(_shape(shape)), dtype, device, requires_grad)


def randint(low, high, size=None, dtype=None, device=None):
    """Integers in [low, high) of shape `size`; ``randint(high, size)``
    draws from [0, high), as in PyTorch."""
    if size is None:
        low, high, size = 0, low, high
    return _make(_generator.integers(low, high, size), dtype or np.int64,
                 device, False)
