"""Tensor methods for the shape, scan, sort, scatter and matrix ops
(``x.flip(0)``, ``x.cumsum(1)``, ``x.scatter_(1, index, src)``, ...),
installed by ``ops.install_methods``. In-place forms (trailing ``_``) go
through ``Tensor._assign``, as every in-place op does."""
import importlib

from ..tensor import empty, full, ones, tensor, zeros
from .reduction import std_mean, var_mean


def _module(name):
    """The submodule itself (the package attribute `sort` is the function)."""
    return importlib.import_module(f".{name}", __package__)


matrix, norms, rearrange, scan, scatter, selection, sort = (
    _module(name) for name in
    ("matrix", "norms", "rearrange", "scan", "scatter", "selection", "sort"))

_OUT_OF_PLACE = {
    rearrange: ["flip", "fliplr", "flipud", "roll", "repeat", "repeat_interleave",
                "unflatten", "unfold", "chunk", "split", "tensor_split", "hsplit",
                "vsplit", "unbind", "narrow", "movedim", "swapaxes", "expand_as",
                "view_as", "reshape_as", "broadcast_to", "masked_fill",
                "take_along_dim", "tile"],
    scan: ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp", "prod", "diff"],
    sort: ["sort", "argsort", "msort", "topk", "kthvalue", "median", "mode"],
    selection: ["all", "any", "argwhere", "count_nonzero", "masked_select",
                "nonzero", "bincount"],
    norms: ["norm"],
    matrix: ["addbmm", "addmm", "addmv", "addr", "baddbmm", "bmm", "cross",
             "diag", "diag_embed", "diagflat", "diagonal", "dot", "ger", "inner",
             "kron", "mm", "mv", "outer", "tensordot", "trace", "tril", "triu",
             "vdot"],
    scatter: ["index_add", "index_copy", "index_fill", "index_select", "scatter",
              "scatter_add", "scatter_reduce", "take"],
}

_IN_PLACE = ["masked_fill", "scatter", "scatter_add", "scatter_reduce", "index_add",
             "index_copy", "index_fill", "tril", "triu"]


def _in_place(function):
    def method(self, *args, **kwargs):
        return self._assign(function(self, *args, **kwargs))
    method.__name__ = function.__name__ + "_"
    return method


def _new_factory(make):
    """x.new_zeros(shape) and friends: x's dtype and device by default."""
    def method(self, *args, dtype=None, device=None, requires_grad=False, **kwargs):
        return make(self, *args, dtype=dtype or self.dtype,
                    device=device or self.device, requires_grad=requires_grad,
                    **kwargs)
    return method


def _new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    return tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                  requires_grad=requires_grad)


def install_shape_methods(tensor_class):
    for module, names in _OUT_OF_PLACE.items():
        for name in names:
            setattr(tensor_class, name, getattr(module, name))
    for name in _IN_PLACE:
        setattr(tensor_class, name + "_", _in_place(getattr(tensor_class, name)))
    tensor_class.moveaxis = rearrange.movedim
    tensor_class.swapdims = rearrange.swapaxes
    tensor_class.std_mean = std_mean
    tensor_class.var_mean = var_mean
    tensor_class.new_zeros = _new_factory(
        lambda self, *shape, **k: zeros(*shape, **k))
    tensor_class.new_ones = _new_factory(
        lambda self, *shape, **k: ones(*shape, **k))
    tensor_class.new_empty = _new_factory(
        lambda self, *shape, **k: empty(*shape, **k))
    tensor_class.new_full = _new_factory(
        lambda self, shape, fill_value, **k: full(shape, fill_value, **k))
    tensor_class.new_tensor = _new_tensor
