"""Containers: modules that hold other modules.

* ``Sequential(a, b, c)``: forward is ``c(b(a(x)))``; children are named
  ``"0"``, ``"1"``, ... (or by the keys of an OrderedDict).
* ``ModuleList([...])``: a list whose modules are registered (so their
  parameters are found); it has no forward.
* ``ModuleDict({...})``: the same as a dict, in insertion order.
"""
import operator
from collections import OrderedDict

from ..module import Module


def _index(index, length, kind):
    """`index` as a position in 0..length-1 (negative counts from the end)."""
    index = operator.index(index)
    if not -length <= index < length:
        raise IndexError("{}: index {} is out of range for length {}".format(
            kind, index, length))
    return index % length


class _NumberedContainer(Module):
    """What Sequential and ModuleList share: children named "0", "1", ..."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def _renumber(self, modules):
        """Make `modules` the children "0", "1", ... (after a deletion or an
        insertion, as PyTorch keeps them)."""
        self._modules.clear()
        for position, module in enumerate(modules):
            self.add_module(str(position), module)


class Sequential(_NumberedContainer):
    """Modules applied one after the other: ``Sequential(conv, bn, relu)``."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for position, module in enumerate(args):
                self.add_module(str(position), module)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(OrderedDict(list(self._modules.items())[index]))
        position = _index(index, len(self), "Sequential")
        return list(self._modules.values())[position]

    def __setitem__(self, index, module):
        position = _index(index, len(self), "Sequential")
        name = list(self._modules.keys())[position]
        setattr(self, name, module)

    def __delitem__(self, index):
        if isinstance(index, slice):
            names = list(self._modules.keys())[index]
        else:
            names = [list(self._modules.keys())[_index(index, len(self),
                                                       "Sequential")]]
        for name in names:
            del self._modules[name]
        self._renumber(list(self._modules.values()))

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x


class ModuleList(_NumberedContainer):
    """A list of modules, registered as children ``"0"``, ``"1"``, ..."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(list(self._modules.values())[index])
        return self._modules[str(_index(index, len(self), "ModuleList"))]

    def __setitem__(self, index, module):
        self.add_module(str(_index(index, len(self), "ModuleList")), module)

    def __delitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[_index(index, len(self), "ModuleList")]
        self._renumber(modules)

    def __iadd__(self, modules):
        return self.extend(modules)

    def insert(self, index, module):
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._renumber(modules)

    def forward(self, *inputs):
        raise NotImplementedError("ModuleList has no forward(); iterate over "
                                  "it and call its modules")


class ModuleDict(Module):
    """A dict of modules, registered as children under their keys."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def pop(self, key):
        module = self._modules[key]
        del self._modules[key]
        return module

    def clear(self):
        self._modules.clear()

    def update(self, modules):
        pairs = modules.items() if hasattr(modules, "items") else modules
        for key, module in pairs:
            self[key] = module

    def forward(self, *inputs):
        raise NotImplementedError("ModuleDict has no forward(); look up its "
                                  "modules by key and call them")
