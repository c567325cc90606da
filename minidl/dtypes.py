"""The dtypes under PyTorch's names, and PyTorch's tensor type strings.

minidl's dtypes are NumPy dtypes, so ``x.dtype == minidl.float32`` and
``x.dtype == numpy.float32`` both hold. PyTorch's aliases are the same
objects: ``minidl.float is minidl.float32``, ``minidl.long is
minidl.int64``, ``minidl.half is minidl.float16`` ...

NumPy has no bfloat16: ``minidl.bfloat16`` exists so that code naming it
imports, but making a tensor of it raises a TypeError that says so.
"""
import numbers

import numpy as np

float16 = half = np.dtype("float16")
float32 = np.dtype("float32")
float64 = double = np.dtype("float64")
uint8 = np.dtype("uint8")
int8 = np.dtype("int8")
int16 = short = np.dtype("int16")
int32 = np.dtype("int32")
int64 = long = np.dtype("int64")
bool_ = np.dtype("bool")
complex64 = cfloat = np.dtype("complex64")
complex128 = cdouble = np.dtype("complex128")


class _MissingDtype:
    """A dtype NumPy lacks: any use of it as a dtype raises a clear error.

    NumPy asks an object passed as ``dtype=`` for its ``.dtype``; that
    attribute raises here.
    """

    def __init__(self, name, advice):
        self.name, self.advice = name, advice

    @property
    def dtype(self):
        raise TypeError(f"minidl.{self.name}: NumPy (and so minidl) has no "
                        f"{self.name} dtype; {self.advice}")

    def __repr__(self):
        return f"minidl.{self.name}"


bfloat16 = _MissingDtype("bfloat16", "use minidl.float16 or minidl.float32")

# PyTorch's legacy tensor type names, as ``Tensor.type()`` returns them.
_TYPE_NAMES = {
    float16: "HalfTensor", float32: "FloatTensor", float64: "DoubleTensor",
    uint8: "ByteTensor", int8: "CharTensor", int16: "ShortTensor",
    int32: "IntTensor", int64: "LongTensor", bool_: "BoolTensor",
    complex64: "ComplexFloatTensor", complex128: "ComplexDoubleTensor",
}
_DTYPES_BY_TYPE_NAME = {name: dtype for dtype, name in _TYPE_NAMES.items()}


class _LegacyTensorType:
    """Base of ``minidl.FloatTensor`` and friends, PyTorch's legacy
    constructors: ``FloatTensor([1, 2])`` makes a float32 tensor of those
    values, ``FloatTensor(2, 3)`` one of that shape (zeros here; PyTorch
    leaves it uninitialised). The class also works as a dtype:
    ``x.type(minidl.LongTensor)``, ``x.to(dtype=minidl.FloatTensor)``
    (NumPy reads its ``dtype`` attribute)."""

    dtype = None

    def __new__(cls, *args, device=None):
        from .tensor import tensor, zeros
        if len(args) == 1 and not isinstance(args[0], numbers.Integral):
            return tensor(args[0], dtype=cls.dtype, device=device)
        return zeros(*(args or (0,)), dtype=cls.dtype, device=device)


def _legacy_type(dtype):
    name = _TYPE_NAMES[dtype]
    return type(name, (_LegacyTensorType,), {"dtype": dtype,
                                             "__doc__": f"{dtype} tensors"})


HalfTensor, FloatTensor = _legacy_type(float16), _legacy_type(float32)
DoubleTensor, ByteTensor = _legacy_type(float64), _legacy_type(uint8)
CharTensor, ShortTensor = _legacy_type(int8), _legacy_type(int16)
IntTensor, LongTensor = _legacy_type(int32), _legacy_type(int64)
BoolTensor = _legacy_type(bool_)


def type_name(dtype, device_type="cpu"):
    """PyTorch's name of a tensor type: 'torch.FloatTensor' for float32 on
    the CPU, 'torch.cuda.FloatTensor' on a GPU. The 'torch.' prefix is
    PyTorch's, kept so that code comparing these strings runs unchanged."""
    prefix = "torch.cuda." if device_type == "cuda" else "torch."
    return prefix + _TYPE_NAMES[np.dtype(dtype)]


def as_dtype(value, op="dtype"):
    """`value` as a NumPy dtype: a dtype, a NumPy type, a dtype name
    ('float32'), or a tensor type name ('torch.FloatTensor',
    'minidl.cuda.LongTensor', 'FloatTensor')."""
    if isinstance(value, str):
        name = value.rsplit(".", 1)[-1]
        if name in _DTYPES_BY_TYPE_NAME:
            return _DTYPES_BY_TYPE_NAME[name]
    try:
        return np.dtype(value)
    except TypeError as error:
        if isinstance(value, _MissingDtype):
            raise
        raise TypeError(f"{op}: {value!r} is not a dtype (expected e.g. "
                        f"minidl.float32 or 'torch.FloatTensor'): {error}") from None


def is_floating_dtype(dtype):
    return np.dtype(dtype).kind == "f"
