"""Tensor: an array plus what autograd needs to differentiate through it.

A Tensor wraps one NumPy or CuPy array (``.data``). If it ``requires_grad``,
ops that use it record a Function in the graph, and ``backward()`` fills
``.grad`` of every leaf that requires grad. ``grad_fn`` is the Function that
produced the tensor (``None`` for a leaf, made by the user).

``_version`` counts how often the array was overwritten in place, so a
Function that saved this tensor can tell at backward time that the values
are no longer the ones it used.
"""
import numbers

import numpy as np

from . import backend
from .autograd.grad_mode import is_grad_enabled

from . import dtypes
from .dtypes import (bool_, float16, float32, float64, int8, int16,  # noqa: F401
                     int32, int64, uint8)


class VersionCounter:
    """How many times an array was overwritten in place.

    Shared by every Tensor that uses the same array (``detach()``, the
    outputs of reshape or basic indexing, which are views), so writing
    through any of them is seen by a Function that saved another.
    """
    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class Tensor:
    # Make NumPy hand `ndarray * Tensor` to Tensor.__rmul__ instead of
    # broadcasting over the Tensor object.
    __array_priority__ = 1000

    def __init__(self, data, requires_grad=False):
        if isinstance(data, np.generic):  # NumPy reductions return scalars
            data = np.asarray(data)       # (immutable), not 0-d arrays
        self.data = data
        self.grad = None
        self.grad_fn = None
        self.output_index = 0
        self._version_counter = VersionCounter()
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @property
    def _version(self):
        """How often the array was overwritten in place (read only: writers
        call :meth:`_bump_version`)."""
        return self._version_counter.value

    def _bump_version(self):
        """Record that the array was just overwritten in place, outside
        autograd (an optimizer step, ``init``, ``load_state_dict``, a running
        statistic). Every writer of ``self.data[...]`` calls this, so a
        Function that saved this tensor refuses to run backward on values it
        did not see. PyTorch does the same inside its in-place kernels."""
        self._version_counter.value += 1

    # -- basic facts ---------------------------------------------------------
    @property
    def shape(self):
        return tuple(self.data.shape)

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self):
        return backend.device_of(self.data)

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self):
        """The last two dims swapped (a batch of matrices transposed)."""
        if self.ndim < 2:
            raise RuntimeError(f"mT: expects a tensor with >= 2 dimensions, "
                               f"but got shape {self.shape}")
        return self.transpose(-2, -1)

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        return int(self.data.size)

    def dim(self):
        return self.ndim

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError("bool() of a tensor with {} elements is ambiguous; "
                               "use .any() or .all()".format(self.data.size))
        return bool(self.data.reshape(()).item())

    def any(self):
        return Tensor(self.data.any())

    def all(self):
        return Tensor(self.data.all())

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        """The sub-tensors along dim 0 (``x[0]``, ``x[1]``, ...)."""
        for i in range(len(self)):
            yield self[i]

    def __repr__(self):
        extra = ""
        if self.grad_fn is not None:
            extra = ", grad_fn=<{}>".format(self.grad_fn.name)
        elif self.requires_grad:
            extra = ", requires_grad=True"
        if self.device.type != "cpu":
            extra = ", device='{}'".format(self.device) + extra
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        if self.data.size == 0 and self.ndim > 1:  # "[]" alone hides the shape
            body += ", size={}".format(self.shape)
        return "tensor({}, dtype={}{})".format(body, self.dtype, extra)

    # -- conversions ---------------------------------------------------------
    def numpy(self):
        """The values as a NumPy array (copied from the GPU if needed)."""
        return backend.to_numpy(self.data)

    def item(self):
        if self.data.size != 1:
            raise ValueError("item(): tensor of shape {} has {} elements, "
                             "expected 1".format(self.shape, self.data.size))
        return self.data.reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    # Python's number conversions, for one-element tensors (as PyTorch).
    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __complex__(self):
        return complex(self.item())

    def __index__(self):
        """A one-element integer tensor used as a Python index
        (``items[t]``, ``range(t)``)."""
        if self.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError(f"only integer tensors of a single element can be "
                            f"converted to an index (got dtype {self.dtype}, "
                            f"shape {self.shape})")
        return int(self.item())

    def __format__(self, spec):
        """A 0-d tensor formats as its value (``f"{loss:.3f}"``)."""
        if self.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def detach(self):
        """The same array (and version counter), cut from the graph."""
        result = Tensor(self.data)
        result._version_counter = self._version_counter
        return result

    def detach_(self):
        """Cut this tensor from the graph in place: it becomes a leaf that
        does not require gradients (PyTorch's ``detach_``)."""
        self.grad_fn = None
        self.requires_grad = False
        return self

    def contiguous(self, memory_format=None):
        """self: minidl's ops never depend on how an array is laid out in
        memory, so there is nothing to copy (PyTorch copies non-contiguous
        tensors here; the values are the same)."""
        return self

    def detach_copy(self):
        """A copy of the array, cut from the graph."""
        return Tensor(self.data.copy())

    def clone(self):
        from . import ops
        return ops.clone(self)

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.dtype.kind not in "fc":
            raise RuntimeError("requires_grad: only floating-point tensors can "
                               "require gradients, got dtype {}".format(self.dtype))
        self.requires_grad = bool(requires_grad)
        return self

    def to(self, *args, device=None, dtype=None, non_blocking=False, copy=False):
        """A tensor on `device` and/or of `dtype` (self when nothing changes).

        As in PyTorch, positional arguments may be a device (``"cuda"``), a
        dtype (``minidl.float64``) or a tensor (take its device and dtype):
        ``x.to("cpu", minidl.float16)``, ``x.to(y)``. `non_blocking` is
        accepted and ignored; ``copy=True`` always returns a new tensor.

        Differentiable: the gradient flows back to the original device/dtype.
        """
        from . import ops
        for arg in args:
            if isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif isinstance(arg, (str, backend.Device)):
                device = arg
            else:
                dtype = arg
        result = self
        if dtype is not None:
            dtype = dtypes.as_dtype(dtype, "to")
        if dtype is not None and dtype != self.dtype:
            result = ops.astype(result, dtype)
        if device is not None and backend.Device(device) != self.device:
            result = ops.to_device(result, device)
        if copy and result is self:
            result = ops.clone(self)
        return result

    def cpu(self):
        return self.to("cpu")

    def cuda(self, index=0):
        return self.to("cuda:{}".format(index))

    def float(self):
        return self.to(dtype=float32)

    def double(self):
        return self.to(dtype=float64)

    def long(self):
        return self.to(dtype=int64)

    def type_as(self, other):
        return self.to(dtype=other.dtype)

    def int(self):
        return self.to(dtype=int32)

    def bool(self):
        return self.to(dtype=bool_)

    def half(self):
        return self.to(dtype=float16)

    def short(self):
        return self.to(dtype=int16)

    def char(self):
        return self.to(dtype=int8)

    def byte(self):
        return self.to(dtype=uint8)

    def type(self, dtype=None):
        """With no argument, PyTorch's type string ('torch.FloatTensor',
        'torch.cuda.LongTensor'); with a dtype or such a string, the tensor
        converted to it."""
        if dtype is None:
            return dtypes.type_name(self.dtype, self.device.type)
        return self.to(dtype=dtypes.as_dtype(dtype, "type"))

    def is_floating_point(self):
        return self.dtype.kind == "f"

    def is_complex(self):
        return self.dtype.kind == "c"

    def element_size(self):
        """Bytes per element."""
        return self.dtype.itemsize

    def t(self):
        """The transpose of a matrix; a 0-d or 1-d tensor as it is (PyTorch's
        rule: more than 2 dims is an error)."""
        if self.ndim > 2:
            raise RuntimeError(f"t(): expects a tensor with <= 2 dimensions, "
                               f"but got shape {self.shape}; use "
                               f"transpose(dim0, dim1) or permute")
        return self.transpose(0, 1) if self.ndim == 2 else self

    # -- autograd ------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=False, create_graph=False):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf.

        `gradient` is required unless self has one element (then it is 1).
        """
        from .autograd import backward
        backward([self], None if gradient is None else [gradient],
                 retain_graph=retain_graph, create_graph=create_graph)

    def zero_grad_(self):
        self.grad = None

    def retain_grad(self):
        """Keep the gradient of this non-leaf tensor in ``.grad`` during
        backward (leaves always get theirs)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: a tensor of shape {} that does not "
                               "require grad has no gradient to keep"
                               .format(self.shape))
        if self.grad_fn is not None:
            self.grad_fn.retain_grad_of(self)

    # -- in-place changes ----------------------------------------------------
    def _assign(self, result):
        """Make self hold `result` (a Tensor of self's shape, or one that
        broadcasts to it): the common end of every in-place op.

        Inside a graph (grad mode on, and self or result requires grad) the
        array is not overwritten. Self is pointed at result's array and takes
        result's place in the graph, so whatever a Function saved of the old
        value stays valid and no gradient can come out wrong. Unlike PyTorch,
        which overwrites the memory, views taken of self earlier
        (``self[0]``, ``self.reshape(...)``) keep the old values.

        Outside a graph the array is overwritten in place and its version
        counter goes up: a Function that saved it refuses to run backward.
        """
        from . import ops
        result = as_tensor(result, like=self)
        record = is_grad_enabled() and (self.requires_grad or result.requires_grad)
        if record and self.requires_grad and self.is_leaf:
            raise RuntimeError("in-place op on a leaf tensor of shape {} that "
                               "requires grad; wrap it in minidl.no_grad() "
                               "if this is an update".format(self.shape))
        if not _broadcasts_to(result.shape, self.shape):
            raise RuntimeError("in-place op: a result of shape {} cannot be "
                               "stored in a tensor of shape {}".format(
                                   result.shape, self.shape))
        if not record:
            xp = backend.get_array_module(self.data)
            self.data[...] = xp.broadcast_to(result.data, self.shape)
            self._bump_version()
            return self
        if result.dtype != self.dtype:
            result = ops.astype(result, self.dtype)
        if result.shape != self.shape:
            # A broadcast view is read-only: clone it so self owns its array.
            result = ops.clone(ops.expand(result, self.shape))
        self.data = result.data
        self.grad_fn, self.output_index = result.grad_fn, result.output_index
        self.requires_grad = result.requires_grad
        self._version_counter = result._version_counter
        return self

    def add_(self, other, alpha=1):
        return self._assign(self + other * alpha if alpha != 1 else self + other)

    def sub_(self, other, alpha=1):
        return self._assign(self - other * alpha if alpha != 1 else self - other)

    def mul_(self, other):
        return self._assign(self * other)

    def div_(self, other):
        return self._assign(self / other)

    def clamp_(self, min=None, max=None):
        return self._assign(self.clamp(min, max))

    def copy_(self, source):
        """Copy the values of `source` (broadcast to self's shape) into self."""
        from . import ops
        source = as_tensor(source, like=self).to(device=self.device,
                                                 dtype=self.dtype)
        # A clone, so that self never shares its array with `source`.
        return self._assign(ops.clone(source))

    def zero_(self):
        return self.fill_(0)

    def fill_(self, value):
        """Set every element to `value`. Inside a graph, self becomes a
        constant (its gradient history is dropped)."""
        xp = backend.get_array_module(self.data)
        return self._assign(Tensor(xp.full(self.shape, value, self.dtype)))

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __setitem__(self, index, value):
        from . import ops
        return self._assign(ops.index_put(self, index, value))

    # Gradient-free tensors are hashable by identity, like PyTorch's.
    __hash__ = object.__hash__


def _broadcasts_to(shape, target):
    """True when an array of `shape` broadcasts to exactly `target`."""
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


def _infer_dtype(data):
    """The dtype of nested lists of Python numbers, as PyTorch picks it:
    float32 if any is a float, else int64 for ints, bool for bools."""
    kind = np.asarray(data).dtype.kind
    if kind == "b":
        return bool_
    if kind in "iu":
        return int64
    if kind == "c":
        return np.dtype("complex64")
    return float32


def tensor(data, requires_grad=False, dtype=None, device=None):
    """A new leaf tensor holding a copy of `data`, on `device` (default: the
    default device, see :mod:`minidl.backend`).

    Python floats become float32, Python ints int64; NumPy/CuPy arrays keep
    their dtype (float64 stays float64) unless `dtype` is given.
    """
    if isinstance(data, Tensor):
        data = data.data
    if dtype is None and not hasattr(data, "dtype"):
        dtype = _infer_dtype(data)
    device = backend.Device(device) if device is not None \
        else backend.default_device()
    xp = device.xp
    if backend.get_array_module(data) is not xp:
        data = backend.move_array(data, device)
    with device:
        array = xp.array(data, dtype=dtype, copy=True)
    return Tensor(array, requires_grad=requires_grad)


def array_of(value):
    """The array behind a Tensor; NumPy/CuPy arrays pass through; anything
    else (a number, a list) becomes a NumPy array."""
    if isinstance(value, Tensor):
        return value.data
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return value
    return np.asarray(value)


def as_tensor(value, like=None):
    """`value` as a Tensor, for use as an op operand.

    Tensors pass through. Python numbers take the dtype and device of `like`
    (so ``x * 2.0`` stays float32); arrays keep their dtype.
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (numbers.Number, np.generic)) and like is not None:
        dtype = _scalar_dtype(value, like.dtype)
        xp = backend.get_array_module(like.data)
        return Tensor(xp.asarray(value, dtype=dtype))
    if hasattr(value, "dtype") and not isinstance(value, np.generic):
        return Tensor(value)
    return tensor(value, device=None if like is None else like.device)


def _scalar_dtype(value, tensor_dtype):
    """The dtype a Python number takes beside a tensor of `tensor_dtype`.

    As in PyTorch, a number never widens a tensor's dtype within its kind
    (float32 * 2.0 stays float32), but a float beside an integer or bool
    tensor is float32, and an int beside a bool tensor is int64.
    """
    value_kind = np.asarray(value).dtype.kind
    if tensor_dtype.kind in "fc":
        return tensor_dtype
    if value_kind in "fc":
        return float32
    if tensor_dtype.kind == "b" and value_kind != "b":
        return int64
    return tensor_dtype


def _creation(make, shape, dtype, device, requires_grad):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    device = backend.Device(device) if device is not None \
        else backend.default_device()
    with device:
        array = make(device.xp, tuple(shape), np.dtype(dtype or float32))
    return Tensor(array, requires_grad=requires_grad)


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    return _creation(lambda xp, s, d: xp.zeros(s, d), shape, dtype, device,
                     requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    return _creation(lambda xp, s, d: xp.ones(s, d), shape, dtype, device,
                     requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    """`shape` filled with `fill_value`; without `dtype`, bool for a bool,
    int64 for an int and float32 for a float (PyTorch's rule)."""
    if dtype is None and isinstance(fill_value, bool):
        dtype = bool_
    elif dtype is None and isinstance(fill_value, int):
        dtype = int64
    return _creation(lambda xp, s, d: xp.full(s, fill_value, d), (shape,),
                     dtype, device, requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad=False):
    return _creation(lambda xp, s, d: xp.empty(s, d), shape, dtype, device,
                     requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None):
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = int64 if all(isinstance(v, numbers.Integral)
                             for v in (start, end, step)) else float32
    device = backend.Device(device) if device is not None \
        else backend.default_device()
    return Tensor(device.xp.arange(start, end, step, dtype=dtype))


def zeros_like(x, dtype=None, requires_grad=False):
    return zeros(x.shape, dtype=dtype or x.dtype, device=x.device,
                 requires_grad=requires_grad)


def ones_like(x, dtype=None, requires_grad=False):
    return ones(x.shape, dtype=dtype or x.dtype, device=x.device,
                requires_grad=requires_grad)
