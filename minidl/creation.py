"""More tensor factories with PyTorch's names: eye, linspace, logspace,
full_like, empty_like, rand_like, randn_like, randint_like, tril_indices,
triu_indices. (zeros, ones, full, empty, arange live in tensor.py; rand,
randn, randint in random.py.)"""
import numpy as np

from . import backend
from .tensor import Tensor, float32, int64


def _device(device):
    return backend.Device(device) if device is not None else backend.default_device()


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """The n x m identity matrix (m = n by default)."""
    device = _device(device)
    with device:
        array = device.xp.eye(n, n if m is None else m, dtype=np.dtype(dtype or float32))
    return Tensor(array, requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """`steps` evenly spaced values from start to end, computed as PyTorch
    does: start + i * step for the first half, end - (steps - 1 - i) * step
    for the second, so both ends are exact."""
    dtype = np.dtype(dtype or float32)
    if steps < 0:
        raise ValueError(f"linspace: number of steps must be non-negative, got {steps}")
    work = dtype if dtype.kind == "f" else np.dtype("float64")
    i = np.arange(steps)
    step = (np.asarray(end, work) - np.asarray(start, work)) / max(steps - 1, 1)
    halfway = max(steps // 2, 1)  # one step: just start
    values = np.where(i < halfway, np.asarray(start, work) + step * i.astype(work),
                      np.asarray(end, work) - step * (steps - 1 - i).astype(work))
    if dtype.kind in "iu":
        values = np.trunc(values)
    array = backend.move_array(values.astype(dtype), _device(device))
    return Tensor(array, requires_grad=requires_grad)


def logspace(start, end, steps, base=10.0, dtype=None, device=None,
             requires_grad=False):
    """base ** linspace(start, end, steps)."""
    dtype = np.dtype(dtype or float32)
    exponents = linspace(start, end, steps, dtype="float64").numpy()
    array = backend.move_array(np.power(float(base), exponents).astype(dtype),
                               _device(device))
    return Tensor(array, requires_grad=requires_grad)


def _like(x, dtype, device):
    return np.dtype(dtype or x.dtype), device if device is not None else x.device


def full_like(x, fill_value, dtype=None, device=None, requires_grad=False):
    from .tensor import full
    dtype, device = _like(x, dtype, device)
    return full(x.shape, fill_value, dtype=dtype, device=device,
                requires_grad=requires_grad)


def empty_like(x, dtype=None, device=None, requires_grad=False):
    from .tensor import zeros
    dtype, device = _like(x, dtype, device)
    return zeros(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def rand_like(x, dtype=None, device=None, requires_grad=False):
    from .random import rand
    dtype, device = _like(x, dtype, device)
    return rand(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(x, dtype=None, device=None, requires_grad=False):
    from .random import randn
    dtype, device = _like(x, dtype, device)
    return randn(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randint_like(x, low, high=None, dtype=None, device=None):
    from .random import randint
    if high is None:
        low, high = 0, low
    dtype, device = _like(x, dtype, device)
    return randint(low, high, x.shape, dtype=dtype, device=device)


def _triangle_indices(row, col, offset, lower, device):
    i, j = np.meshgrid(np.arange(row), np.arange(col), indexing="ij")
    keep = (j - i <= offset) if lower else (j - i >= offset)
    indices = np.stack([i[keep], j[keep]]).astype(int64)
    return Tensor(backend.move_array(indices, _device(device)))


def tril_indices(row, col, offset=0, dtype=None, device=None):
    return _triangle_indices(row, col, offset, True, device)


def triu_indices(row, col, offset=0, dtype=None, device=None):
    return _triangle_indices(row, col, offset, False, device)
