"""Module: the base class of every layer and model.

A Module owns three ordered dictionaries, filled by plain attribute
assignment in ``__init__`` (``__setattr__`` sorts values by type):

* ``_parameters``: name -> Parameter (what the optimizer updates),
* ``_buffers``: name -> Tensor (state that is not learned, such as
  BatchNorm's running mean; saved in the state dict unless registered with
  ``persistent=False``),
* ``_modules``: name -> child Module.

Everything else (walking the tree, ``state_dict()`` keys such as
``layer1.0.conv1.weight``, ``train()``/``eval()``, moving to a device) is a
walk over these dictionaries in registration order, so the order is the
same on every run and the same as PyTorch's for the same model.
"""
from collections import OrderedDict, namedtuple

import numpy as np

from .. import backend
from ..tensor import Tensor, array_of
from .parameter import Parameter


class IncompatibleKeys(namedtuple("IncompatibleKeys",
                                  ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict(strict=False)`` returns, as in PyTorch."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


class RemovableHandle:
    """Returned by ``register_forward_hook``; ``handle.remove()`` undoes it."""

    _next_id = 0

    def __init__(self, hooks):
        self.hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        self.hooks.pop(self.id, None)


def _add_indent(text, spaces):
    """Indent every line of `text` but the first (for nested reprs)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


class Module:
    """Base class for layers and models.

    Subclasses call ``super().__init__()`` first, assign their Parameters,
    buffers and sub-modules as attributes, and define ``forward``. Calling
    the module (``model(x)``) runs ``forward``.
    """

    def __init__(self):
        # object.__setattr__: our own __setattr__ needs these to exist.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())

    def forward(self, *inputs):
        raise NotImplementedError("{} has no forward() method".format(
            type(self).__name__))

    def __call__(self, *args, **kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_pre_hook(self, hook):
        """``hook(module, args)`` runs before forward; it may return new args."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook):
        """``hook(module, args, output)`` runs after forward; it may return a
        replacement output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # -- registration --------------------------------------------------------
    def _check_new_name(self, kind, name):
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot register a {} before Module.__init__() "
                                 "is called".format(kind))
        if not isinstance(name, str):
            raise TypeError("{} name should be a string, got {}".format(
                kind, type(name).__name__))
        if name == "" or "." in name:
            raise KeyError("{} name {!r} must be non-empty and contain no "
                           "'.'".format(kind, name))

    def register_parameter(self, name, param):
        """Add a Parameter (or None, a placeholder) under `name`."""
        self._check_new_name("parameter", name)
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError("attribute {!r} already exists".format(name))
        if param is not None and not isinstance(param, Parameter):
            raise TypeError("cannot assign {!r} object to parameter {!r} "
                            "(minidl.nn.Parameter or None required)".format(
                                type(param).__name__, name))
        if param is not None and not param.is_leaf:
            raise ValueError("cannot assign a non-leaf tensor to parameter {!r}; "
                             "wrap a detached copy in Parameter".format(name))
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add a buffer: a Tensor that is module state but not learned.

        Persistent buffers appear in ``state_dict()``; others do not.
        """
        self._check_new_name("buffer", name)
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError("attribute {!r} already exists".format(name))
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError("cannot assign {!r} object to buffer {!r} "
                            "(minidl.Tensor or None required)".format(
                                type(tensor).__name__, name))
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        """Add a child module (or None) under `name`."""
        self._check_new_name("module", name)
        if hasattr(self, name) and name not in self._modules:
            raise KeyError("attribute {!r} already exists".format(name))
        if module is not None and not isinstance(module, Module):
            raise TypeError("{} is not a Module subclass".format(
                type(module).__name__))
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name, value):
        """``self.name = value``, as in PyTorch: a Parameter or a Module is
        registered under `name` (replacing whatever had that name); a name
        already registered as a parameter, child module or buffer takes a
        value of that kind or None; anything else is a plain attribute."""
        if isinstance(value, (Parameter, Module)):
            if "_parameters" not in self.__dict__:
                raise AttributeError(f"cannot assign {type(value).__name__} "
                                     f"{name!r} before Module.__init__() is "
                                     "called")
            if isinstance(value, Parameter):
                self._forget(name, keep=self._parameters)
                self.register_parameter(name, value)
            else:
                self._forget(name, keep=self._modules)
                self._modules[name] = value
            return
        for table, kind, required, required_name in (
                ("_parameters", "parameter", Parameter, "minidl.nn.Parameter"),
                ("_modules", "child module", Module, "Module"),
                ("_buffers", "buffer", Tensor, "minidl.Tensor")):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                if value is not None and not isinstance(value, required):
                    raise TypeError(f"cannot assign {type(value).__name__!r} "
                                    f"object to {kind} {name!r} "
                                    f"({required_name} or None required)")
                entries[name] = value
                return
        object.__setattr__(self, name, value)

    def _forget(self, name, keep):
        """Remove `name` from wherever it was, before it is registered in
        the table `keep`; there it stays where it was, so replacing a layer
        keeps the order of the layers (as PyTorch)."""
        self.__dict__.pop(name, None)
        for table in (self._parameters, self._buffers, self._modules):
            if table is not keep:
                table.pop(name, None)
        self._non_persistent_buffers_set.discard(name)

    def __getattr__(self, name):
        # Only called when normal lookup fails: look in the three tables.
        for table in ("_parameters", "_buffers", "_modules"):
            values = self.__dict__.get(table)
            if values is not None and name in values:
                return values[name]
        raise AttributeError("'{}' object has no attribute '{}'".format(
            type(self).__name__, name))

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        names = list(super().__dir__())
        names += list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(set(names))

    # -- walking the tree ----------------------------------------------------
    def named_children(self):
        """(name, module) for each direct child, in registration order."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(qualified name, module) for self and every descendant, depth first.

        A module reachable under two names is listed once (the first), unless
        ``remove_duplicate=False``.
        """
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            child_prefix = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, child_prefix, remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def _named_members(self, table, prefix, recurse, remove_duplicate):
        seen = set()
        if recurse:
            owners = self.named_modules(prefix=prefix,
                                        remove_duplicate=remove_duplicate)
        else:
            owners = [(prefix, self)]
        for owner_prefix, module in owners:
            for name, value in getattr(module, table).items():
                if value is None:
                    continue
                if remove_duplicate:
                    if id(value) in seen:  # ids: Tensor == is elementwise
                        continue
                    seen.add(id(value))
                yield owner_prefix + ("." if owner_prefix else "") + name, value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(qualified name, Parameter) pairs; a shared Parameter comes once."""
        return self._named_members("_parameters", prefix, recurse,
                                   remove_duplicate)

    def parameters(self, recurse=True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def get_submodule(self, target):
        """The module at dotted path `target` (``"layer1.0.conv1"``)."""
        module = self
        if target == "":
            return module
        walked = []
        for name in target.split("."):
            if name not in module._modules or module._modules[name] is None:
                raise AttributeError("{} has no submodule {!r} (looking up {!r})"
                                     .format(".".join([type(self).__name__] + walked),
                                             name, target))
            module = module._modules[name]
            walked.append(name)
        return module

    def apply(self, fn):
        """Call fn(module) on every child (recursively), then on self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -- modes and gradients -------------------------------------------------
    def train(self, mode=True):
        """Set training mode on self and every descendant (Dropout and
        BatchNorm behave differently in training and evaluation)."""
        if not isinstance(mode, bool):
            raise ValueError("train(): mode is expected to be a bool, got {!r}"
                             .format(mode))
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Freeze (False) or unfreeze (True) every parameter."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Forget accumulated gradients (set them to None, or to zeros)."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad = Tensor(param.grad.data * 0)

    # -- devices and dtypes --------------------------------------------------
    def _apply_to_arrays(self, convert):
        """Replace the array of every parameter, gradient and buffer by
        ``convert(array)``, in place: the Tensor objects stay the same, so an
        optimizer built on ``model.parameters()`` keeps working."""
        for module in self.modules():
            tensors = [p for p in module._parameters.values() if p is not None]
            tensors += [b for b in module._buffers.values() if b is not None]
            for tensor in tensors:
                new = convert(tensor.data)
                if new is not tensor.data:
                    tensor.data = new
                    tensor._bump_version()
                if tensor.grad is not None:
                    tensor.grad = Tensor(convert(tensor.grad.data))
        return self

    def to(self, device=None, dtype=None):
        """Move parameters and buffers to `device` and/or cast floating ones
        to `dtype`, in place; returns self. ``to("cuda")``, ``to(float64)``
        and ``to(device, dtype)`` all work, as in PyTorch."""
        if device is not None and not isinstance(device, (str, backend.Device)):
            device, dtype = None, device  # to(dtype)
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind != "f":
                raise TypeError("Module.to only accepts floating point dtypes, "
                                "got {}".format(dtype))
        target = backend.Device(device) if device is not None else None

        def convert(array):
            if target is not None:
                array = backend.move_array(array, target)
            if dtype is not None and array.dtype.kind == "f":
                array = array.astype(dtype, copy=False)
            return array

        return self._apply_to_arrays(convert)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=0):
        return self.to("cuda:{}".format(device) if isinstance(device, int)
                       else device)

    def float(self):
        return self.to(dtype=np.float32)

    def double(self):
        return self.to(dtype=np.float64)

    # -- state dict ----------------------------------------------------------
    def _state_entries(self):
        """(local name, tensor) pairs this module saves: its parameters, then
        its persistent buffers, in registration order."""
        for name, param in self._parameters.items():
            if param is not None:
                yield name, param
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers_set:
                yield name, buffer

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """An ordered name -> Tensor mapping of everything needed to restore
        the module: parameters and persistent buffers of self and all
        descendants, keyed like PyTorch's (``layer1.0.bn1.running_mean``).

        Values share memory with the module (detached), unless
        ``keep_vars=True``, which returns the Parameters themselves.
        """
        if destination is None:
            destination = OrderedDict()
        for name, tensor in self._state_entries():
            destination[prefix + name] = tensor if keep_vars else tensor.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def _load_from_state_dict(self, state_dict, prefix, expected_keys,
                              missing_keys, errors, copies):
        """Check this module's own entries in `state_dict` (load_state_dict
        does the recursion): note the keys it expects, the missing ones and
        shape errors, and append (tensor, value) pairs to `copies`.
        Subclasses may adapt old checkpoint formats here."""
        for name, tensor in self._state_entries():
            key = prefix + name
            expected_keys.add(key)
            if key not in state_dict:
                missing_keys.append(key)
                continue
            value = _state_array(state_dict[key])
            if tuple(value.shape) != tensor.shape:
                errors.append("size mismatch for {}: copying a param with shape "
                              "{} from checkpoint, the shape in current model "
                              "is {}.".format(key, tuple(value.shape), tensor.shape))
                continue
            copies.append((tensor, value))

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from `state_dict` into the parameters and buffers.

        Values (Tensors, NumPy/CuPy arrays, numbers, or other libraries'
        tensors with ``.numpy()`` or ``__array__``, so
        ``model.load_state_dict(torch_model.state_dict())`` works) are copied into the
        existing arrays, which keep their dtype and device, so optimizers
        holding the Parameters stay valid. Shape mismatches are always an
        error; with ``strict=True`` (the default) so are missing and
        unexpected keys. Every problem is listed in one error, and nothing is
        copied when there is one. Returns ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError("load_state_dict: expected a mapping of name -> "
                            "tensor, got {}".format(type(state_dict).__name__))
        state_dict = OrderedDict(state_dict)  # modules may add entries
        expected_keys, missing_keys, errors = set(), [], []
        copies = []
        for prefix, module in self.named_modules():
            module._load_from_state_dict(
                state_dict, prefix + ("." if prefix else ""), expected_keys,
                missing_keys, errors, copies)
        unexpected_keys = [key for key in state_dict if key not in expected_keys]
        if strict:
            if unexpected_keys:
                errors.insert(0, "Unexpected key(s) in state_dict: {}.".format(
                    ", ".join('"{}"'.format(k) for k in unexpected_keys)))
            if missing_keys:
                errors.insert(0, "Missing key(s) in state_dict: {}.".format(
                    ", ".join('"{}"'.format(k) for k in missing_keys)))
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}"
                               .format(type(self).__name__, "\n\t".join(errors)))
        for tensor, value in copies:
            value = backend.move_array(value, tensor.device)
            tensor.data[...] = value.astype(tensor.dtype, copy=False)
            tensor._bump_version()
        return IncompatibleKeys(missing_keys, unexpected_keys)

    # -- printing ------------------------------------------------------------
    def extra_repr(self):
        """The text inside ``Name(...)`` before the children; override it."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = ["({}): {}".format(name, _add_indent(repr(module), 2))
                       for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if len(extra_lines) == 1 and not child_lines:
            text += extra_lines[0]
        elif lines:
            text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"


def _state_array(value):
    """A state-dict value as an array. A foreign tensor with ``.numpy()``
    (torch) is detached and moved to the CPU first, since torch refuses
    ``.numpy()`` on a tensor that requires grad or lives on a GPU."""
    if not isinstance(value, Tensor) and callable(getattr(value, "numpy", None)):
        for step in ("detach", "cpu"):
            if callable(getattr(value, step, None)):
                value = getattr(value, step)()
        value = value.numpy()
    return array_of(value)
