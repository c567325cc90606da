"""Optimizer: the base class of SGD, Adam and AdamW.

An optimizer holds *parameter groups*: lists of parameters that share
hyper-parameters. ``SGD(model.parameters(), lr=0.1)`` makes one group;
a list of dicts makes several::

    SGD([{"params": backbone, "lr": 1e-3},
         {"params": head}],             # lr taken from the defaults
        lr=1e-2, momentum=0.9)

Each group is a dict holding ``"params"`` (a list of leaf Tensors) and
every hyper-parameter, the optimizer's defaults filled in where the group
gave none. Schedulers change a group's ``"lr"`` between steps.

``optimizer.state[p]`` holds what the update keeps between steps for
parameter ``p`` (SGD's momentum buffer, Adam's moment estimates).
``state_dict()`` saves that state keyed by the parameter's POSITION (an
index counted over all groups, in order), as PyTorch does, so that it can be
loaded into a fresh optimizer built over a fresh model, and training
resumes exactly where it stopped.

Subclasses write two methods: ``_check_group(group)`` (reject bad
hyper-parameters) and ``_update_parameter(param, grad, state, group)`` (one
parameter's update, in place).
"""
import numbers
from collections import defaultdict

import numpy as np

from .. import backend
from ..autograd.grad_mode import enable_grad, no_grad
from ..serialization import from_plain, to_plain
from ..tensor import Tensor


_SET_ERROR = ("{}: parameters must be given in an ordered collection (a list), "
              "not a set: a set's order changes between runs, and the state "
              "is saved by position")


class Optimizer:
    """Base class: parameter groups, ``step``, ``zero_grad``, state dicts.

    Args:
        params: an iterable of leaf Tensors, of ``(name, Tensor)`` pairs
            (as ``model.named_parameters()`` gives), or of dicts (parameter
            groups, each with a ``"params"`` entry).
        defaults: the hyper-parameters a group takes when it gives none.
    """

    # State entries that are plain numbers (not arrays shaped like the
    # parameter); load_state_dict turns them back into Python numbers.
    _scalar_state_keys = ("step",)

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = defaultdict(dict)
        self.param_groups = []
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError("{}: params should be an iterable of Tensors or dicts, "
                            "got a single Tensor of shape {}; wrap it in a list"
                            .format(name, params.shape))
        if isinstance(params, dict):
            raise TypeError("{}: params should be an iterable of Tensors or dicts, "
                            "got a single dict; wrap it in a list".format(name))
        if isinstance(params, (set, frozenset)):
            raise TypeError(_SET_ERROR.format(name))
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("{}: got an empty parameter list".format(name))
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # -- parameter groups ------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group of parameters with its own hyper-parameters.

        Useful when fine-tuning: layers unfrozen later join the optimizer
        with, for example, a lower learning rate.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError("{}.add_param_group: expected a dict, got {}".format(
                name, type(param_group).__name__))
        if "params" not in param_group:
            raise KeyError("{}.add_param_group: the group has no 'params' entry "
                           "(keys: {})".format(name, sorted(param_group)))
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(_SET_ERROR.format(name))
        params = list(params)

        tensors, names = [], []
        for item in params:
            if isinstance(item, tuple) and len(item) == 2:
                names.append(item[0])
                item = item[1]
            tensors.append(item)
        if names and len(names) != len(tensors):
            raise ValueError("{}: give every parameter with a name, or none: {} of "
                             "{} have names".format(name, len(names), len(tensors)))
        for position, tensor in enumerate(tensors):
            if not isinstance(tensor, Tensor):
                raise TypeError("{}: can only optimize Tensors, but parameter {} "
                                "of the group is a {}".format(
                                    name, position, type(tensor).__name__))
            if not tensor.is_leaf:
                raise ValueError("{}: can't optimize a non-leaf Tensor (parameter "
                                 "{} of the group, shape {}, made by {}); optimize "
                                 "the leaf tensors it was computed from".format(
                                     name, position, tensor.shape,
                                     tensor.grad_fn.name))
        group["params"] = tensors
        if names:
            group["param_names"] = names

        for key, default in self.defaults.items():
            group.setdefault(key, default)
        self._check_group(group)

        seen = set()
        for tensor in tensors:
            if id(tensor) in seen:
                raise ValueError("{}: a parameter of shape {} appears twice in the "
                                 "same parameter group".format(name, tensor.shape))
            seen.add(id(tensor))
        for index, other in enumerate(self.param_groups):
            for tensor in other["params"]:
                if id(tensor) in seen:
                    raise ValueError("{}: a parameter of shape {} appears in more "
                                     "than one parameter group (already in group "
                                     "{})".format(name, tensor.shape, index))
        self.param_groups.append(group)

    def _check_group(self, group):
        """Raise a clear error if a group's hyper-parameters are invalid."""

    def _check_non_negative(self, group, key):
        value = group[key]
        if not isinstance(value, numbers.Real) or value < 0:
            raise ValueError("{}: invalid {} {!r}: expected a number >= 0".format(
                type(self).__name__, key, value))

    # -- the update ----------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Forget the gradients before the next backward pass.

        ``set_to_none=True`` (the default, as in PyTorch) drops them, so the
        next backward writes fresh arrays and parameters that get no
        gradient are skipped by ``step``; ``False`` fills them with zeros.
        """
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if set_to_none:
                    param.grad = None
                elif param.grad.grad_fn is not None:
                    # A gradient kept with create_graph=True: cut it loose.
                    param.grad = Tensor(param.grad.data * 0)
                else:
                    param.grad.requires_grad = False
                    param.grad.data.fill(0)
                    param.grad._bump_version()

    def step(self, closure=None):
        """Update every parameter that has a gradient (others are skipped).

        `closure`, if given, recomputes the loss (forward and backward) and
        returns it; step returns that loss.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for param in group["params"]:
                    if param.grad is None:
                        continue
                    grad = self._checked_grad(param)
                    self._update_parameter(param, grad, self.state[param], group)
                    # The array changed in place: functions that saved this
                    # parameter for backward must see that it is stale.
                    param._bump_version()
        return loss

    def _checked_grad(self, param):
        grad = param.grad.data
        if tuple(grad.shape) != param.shape:
            raise RuntimeError("{}.step: the gradient of a parameter of shape {} "
                               "has shape {}".format(type(self).__name__,
                                                     param.shape, tuple(grad.shape)))
        if backend.get_array_module(grad) is not backend.get_array_module(param.data):
            raise RuntimeError("{}.step: a parameter on {} has its gradient on {}"
                               .format(type(self).__name__, param.device,
                                       backend.device_of(grad)))
        return grad

    def _update_parameter(self, param, grad, state, group):
        """Update `param.data` in place from `grad` (an array)."""
        raise NotImplementedError

    # -- saving and resuming ---------------------------------------------------
    def state_dict(self):
        """The optimizer's state as plain data, for saving.

        Returns ``{"state": {index: {name: array or number}},
        "param_groups": [{hyper-parameters..., "params": [index, ...]}]}``
        where ``index`` counts parameters over all groups in order, as in
        PyTorch. Arrays are NumPy copies (a snapshot, also for parameters on
        a GPU); tuples such as Adam's ``betas`` are written as lists.
        """
        position = {}
        packed_groups = []
        for group in self.param_groups:
            packed = {key: to_plain(value) for key, value in group.items()
                      if key != "params"}
            indices = []
            for param in group["params"]:
                position[id(param)] = len(position)
                indices.append(position[id(param)])
            packed["params"] = indices
            packed_groups.append(packed)
        packed_state = {}
        for param, entries in self.state.items():
            if entries and id(param) in position:
                packed_state[position[id(param)]] = {
                    key: _snapshot(value) for key, value in entries.items()}
        return {"state": packed_state, "param_groups": packed_groups}

    def load_state_dict(self, state_dict):
        """Restore a state saved by ``state_dict()`` (possibly through
        ``minidl.save``/``minidl.load``).

        The optimizer must have the same number of groups, each with the
        same number of parameters, as the one that was saved. Arrays are
        copied to each parameter's device and dtype; hyper-parameters
        (including a scheduler's ``lr``) are taken from the saved groups.
        """
        name = type(self).__name__
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise KeyError("{}.load_state_dict: missing key {!r} (got keys {})"
                               .format(name, key, sorted(state_dict)))
        saved_groups = _as_list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("{}.load_state_dict: the state has {} parameter groups, "
                             "the optimizer has {}".format(
                                 name, len(saved_groups), len(self.param_groups)))
        params_by_index = {}
        new_groups = []
        for number, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            saved_indices = [int(i) for i in _as_list(saved["params"])]
            if len(saved_indices) != len(group["params"]):
                raise ValueError("{}.load_state_dict: parameter group {} has {} "
                                 "parameters in the state and {} in the optimizer"
                                 .format(name, number, len(saved_indices),
                                         len(group["params"])))
            params_by_index.update(zip(saved_indices, group["params"]))
            new_group = {}
            for key, value in saved.items():
                if key == "params":
                    continue
                value = from_plain(value)
                if isinstance(group.get(key), tuple) and isinstance(value, list):
                    value = tuple(value)
                new_group[key] = value
            new_group["params"] = group["params"]
            # Keys the saved group lacks (param_names, or a hyper-parameter
            # newer than the file) keep their current values.
            for key, value in group.items():
                new_group.setdefault(key, value)
            self._check_group(new_group)
            new_groups.append(new_group)

        new_state = defaultdict(dict)
        for index, entries in state_dict["state"].items():
            index = int(index)
            if index not in params_by_index:
                raise ValueError("{}.load_state_dict: the state has an entry for "
                                 "parameter {}, but the optimizer has only {} "
                                 "parameters".format(name, index, len(params_by_index)))
            param = params_by_index[index]
            new_state[param] = {key: self._restore_state_value(param, key, value)
                                for key, value in entries.items()}
        self.param_groups = new_groups
        self.state = new_state

    def _restore_state_value(self, param, key, value):
        if key in self._scalar_state_keys:
            return from_plain(value)
        if tuple(np.shape(value)) != param.shape:
            raise ValueError("{}.load_state_dict: state {!r} has shape {} for a "
                             "parameter of shape {}".format(
                                 type(self).__name__, key, tuple(np.shape(value)),
                                 param.shape))
        array = value if hasattr(value, "dtype") else np.asarray(value)
        moved = backend.move_array(array, param.device)
        # Copy, so the optimizer never shares memory with the given dict,
        # unless moving to another device already made a fresh array.
        return moved.astype(param.dtype, copy=moved is array)

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for index, group in enumerate(self.param_groups):
            lines.append("Parameter Group {}".format(index))
            for key in sorted(group):
                if key != "params":
                    lines.append("    {}: {}".format(key, group[key]))
        lines.append(")")
        return "\n".join(lines)


def decayed_gradient(param, grad, weight_decay, maximize, copy):
    """(-grad if maximize else grad) + weight_decay * param: the direction
    the update kernels step along (an L2 penalty folded into the gradient).

    Returns a new array, or `grad` itself when neither term changes it and
    `copy` is False. `grad` belongs to the caller and is never modified.
    """
    xp = backend.get_array_module(param)
    if weight_decay != 0:
        direction = xp.multiply(param, weight_decay, out=xp.empty_like(param))
        if maximize:
            xp.subtract(direction, grad, out=direction)
        else:
            xp.add(direction, grad, out=direction)
        return direction
    if maximize:
        return xp.negative(grad, out=xp.empty_like(grad))
    return grad.copy() if copy else grad


def _snapshot(value):
    """A NumPy copy of a state array (numbers pass through)."""
    if isinstance(value, numbers.Number):
        return value
    if backend.get_array_module(value) is np:
        return np.array(value, copy=True)
    return backend.to_numpy(value)


def _as_list(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    return list(value)
