"""Devices and array modules: the only place that knows NumPy from CuPy.

A :class:`Device` names where arrays live (``"cpu"`` for NumPy, ``"cuda"`` or
``"cuda:N"`` for CuPy) and carries the array module ``xp`` that ops use. Ops
never ask "am I on the GPU?"; they call ``xp.something`` on the module of
their inputs, and reach GPU-specific kernels through :mod:`minidl.kernels`.

The default device is chosen once, at import: ``$MINIDL_DEVICE`` if set,
otherwise CUDA when CuPy imports and sees a GPU, otherwise the CPU.
"""
import os

import numpy as np

_cupy = None
_cupy_error = None
try:  # CuPy is optional: without it minidl runs on NumPy alone.
    import cupy as _cupy
except Exception as error:  # ImportError, or a broken CUDA installation
    _cupy_error = error


def _gpu_count():
    if _cupy is None:
        return 0
    try:
        return _cupy.cuda.runtime.getDeviceCount()
    except Exception:
        return 0


def cuda_is_available():
    """True when CuPy imports and sees at least one GPU."""
    return _gpu_count() > 0


def _why_no_cuda():
    if _cupy is None:
        return ("CuPy is not installed ({}); install it with "
                "`pip install minidl[cuda12]` or `pip install minidl[cuda13]` "
                "to match your CUDA driver".format(_cupy_error))
    return ("CuPy is installed but sees no GPU; check `nvidia-smi` and the "
            "CUDA driver, or use device='cpu'")


class Device:
    """Where a tensor's array lives: ``Device("cpu")`` or ``Device("cuda:0")``.

    ``device.xp`` is the array module (numpy or cupy) for arrays on it.
    """

    def __init__(self, spec="cpu"):
        if isinstance(spec, Device):
            self.type, self.index = spec.type, spec.index
            return
        if not isinstance(spec, str):
            raise ValueError("unknown device {!r}: expected 'cpu', 'cuda' or "
                             "'cuda:N'".format(spec))
        kind, _, index = spec.partition(":")
        if kind == "cpu" and not index:
            self.type, self.index = "cpu", None
        elif kind == "cuda" and (not index or index.isdigit()):
            self.type, self.index = "cuda", int(index) if index else 0
        else:
            raise ValueError("unknown device {!r}: expected 'cpu', 'cuda' or "
                             "'cuda:N'".format(spec))
        if self.type == "cuda":
            count = _gpu_count()
            if count == 0:
                raise RuntimeError("device {!r} is not available: {}".format(
                    spec, _why_no_cuda()))
            if self.index >= count:
                raise RuntimeError("device {!r} is not available: only {} GPU(s) "
                                   "found".format(spec, count))

    @property
    def xp(self):
        return np if self.type == "cpu" else _cupy

    def __enter__(self):
        """On CUDA, make this GPU current for kernels and allocations."""
        if self.type == "cuda":
            self._context = _cupy.cuda.Device(self.index)
            self._context.__enter__()
        return self

    def __exit__(self, *exc):
        if self.type == "cuda":
            self._context.__exit__(*exc)

    def __eq__(self, other):
        if isinstance(other, str):
            other = Device(other)
        return (isinstance(other, Device) and self.type == other.type
                and self.index == other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.type == "cpu" else "cuda:{}".format(self.index)

    def __repr__(self):
        return "device(type='{}'{})".format(
            self.type, "" if self.index is None else ", index={}".format(self.index))


def _choose_default_device():
    requested = os.environ.get("MINIDL_DEVICE")
    if requested:
        try:
            return Device(requested)
        except (ValueError, RuntimeError) as error:
            raise type(error)("MINIDL_DEVICE={}: {}".format(requested, error)) \
                from None
    return Device("cuda") if cuda_is_available() else Device("cpu")


_default_device = _choose_default_device()


def default_device():
    """The device new tensors go to when none is given."""
    return _default_device


def set_default_device(device):
    global _default_device
    _default_device = Device(device)


def get_array_module(*arrays):
    """numpy or cupy: the module that owns these arrays or Tensors (numpy
    for scalars)."""
    if _cupy is not None:
        for array in arrays:
            if hasattr(array, "grad_fn"):  # a Tensor: look at its array
                array = array.data
            if isinstance(array, _cupy.ndarray):
                return _cupy
    return np


def device_of(array):
    """The Device an array lives on."""
    if get_array_module(array) is np:
        return Device("cpu")
    return Device("cuda:{}".format(array.device.id))


def move_array(array, device):
    """Copy `array` to `device` (no copy when it is already there)."""
    device = Device(device)
    if device_of(array) == device:
        return array
    if device.type == "cpu":
        return _cupy.asnumpy(array)
    with _cupy.cuda.Device(device.index):
        return _cupy.asarray(array)


def to_numpy(array):
    """A NumPy array with the same values (copied from the GPU if needed)."""
    if get_array_module(array) is np:
        return np.asarray(array)
    return _cupy.asnumpy(array)
