"""Small PyTorch functions about tensors: from_numpy, is_tensor,
is_floating_point, get_default_dtype."""
import numpy as np

from .tensor import Tensor, float32


def from_numpy(array):
    """A CPU tensor that shares memory with the NumPy `array` (as PyTorch:
    writing to one shows in the other)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got "
                        f"{type(array).__name__}")
    if array.dtype.kind not in "biufc":
        raise TypeError(f"from_numpy: arrays of dtype {array.dtype} are not "
                        f"supported (expected bool, integer, float or complex)")
    return Tensor(array)


def is_tensor(value):
    return isinstance(value, Tensor)


def is_floating_point(x):
    return x.is_floating_point()


def get_default_dtype():
    """float32: the dtype of tensors made from Python floats."""
    return float32
