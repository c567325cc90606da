"""LoRA on a whole model: choose the layers, wrap them, freeze the rest;
merge, save and load the adapters.

::

    from minidl import peft
    peft.add_lora(model, rank=8, alpha=16)          # in place; returns model
    peft.print_trainable_parameters(model)
    ...train...                                      # only adapters (+ head)
    adapters = peft.lora_state_dict(model)           # lora_A / lora_B (+ head)
    plain = peft.merge_lora(model)                   # W + (alpha / r) B A

The names follow the PEFT library (``LoraConfig(r, lora_alpha,
target_modules, lora_dropout, modules_to_save)``, ``merge_and_unload``):
``rank`` is PEFT's ``r``, ``alpha`` its ``lora_alpha``, ``targets`` its
``target_modules`` and ``trainable`` its ``modules_to_save``.

Which layers (``targets``):

* ``None``: every Linear, Conv2d and attention module (torch's
  MultiheadAttention layout) except the classifier head (the model's
  ``head_name``, e.g. ``fc`` or ``linear``), which usually is new and
  trained in full. PEFT asks for ``target_modules``; a default that covers
  every weight layer is what LoRA on a CNN needs.
* a type (``nn.Conv2d``), a type's name (``"Linear"``, ``"Conv2d"``,
  ``"MultiheadAttention"``), or a string naming modules: a module is chosen
  when its dotted name equals the string, ends with ``"." + string`` (PEFT's
  rule for a list of names: ``"conv2"`` is every ``*.conv2``) or matches
  it as a regular expression in full (PEFT's rule for a single string:
  ``"layer3\\..*\\.conv2"``, or loosely ``"layer3.*.conv2"``);
* a compiled ``re.Pattern``: the names it matches in full, nothing else;
* a list of any of these.

Every item must choose at least one layer LoRA can wrap (an error lists
some names otherwise). The ``out_proj`` of an attention module is wrapped
with its attention module, never alone: attention reads its weight
without calling it, so an adapter there alone would be ignored.

``trainable`` (PEFT's ``modules_to_save``): module names whose parameters
stay trainable; ``None`` means the classifier head, when the model names
one. Every other parameter gets ``requires_grad = False``.

BatchNorm layers are not touched: their parameters are frozen like all
others. The fine-tuning command keeps such fully frozen BatchNorm layers in
evaluation mode during training (:func:`minidl.training.freeze.set_train_mode`),
so their running statistics stay the pretrained ones and the output at the
start is the pretrained model's in training mode too.
"""
import re
from collections import OrderedDict

from .. import nn
from .layers import (LORA_LAYERS, LoRAConv2d, LoRALayer, LoRALinear,
                     LoRAMultiheadAttention, check_lora_arguments, is_attention)

TYPE_NAMES = ("Linear", "Conv2d", "MultiheadAttention")
ADAPTER_KEYS = (".lora_A.", ".lora_B.")


def lora_class(module):
    """The LoRA layer class that wraps `module`, or None if none does (or it
    already is a LoRA layer)."""
    if isinstance(module, LORA_LAYERS):
        return None
    if is_attention(module):
        return LoRAMultiheadAttention
    if isinstance(module, nn.Linear):
        return LoRALinear
    if isinstance(module, nn.Conv2d):
        return LoRAConv2d
    return None


def _matches_type(module, target):
    """Whether `module` is of the type `target` names (a class or one of
    TYPE_NAMES)."""
    if isinstance(target, type):
        return isinstance(module, target)
    if target == "MultiheadAttention":
        return is_attention(module)
    return any(cls.__name__ == target for cls in type(module).__mro__)


def _matches_name(name, pattern):
    """PEFT's rules: the same name, a ``.``-suffix, or a full regex match."""
    if name == pattern or name.endswith("." + pattern):
        return True
    try:
        return re.fullmatch(pattern, name) is not None
    except re.error as error:
        raise ValueError(f"add_lora: target {pattern!r} is not a module name "
                         f"and not a valid regular expression ({error})") \
            from None


def _attention_of(modules):
    """name of an attention module's out_proj -> the attention's name."""
    return {f"{name}.out_proj" if name else "out_proj": name
            for name, module in modules.items() if is_attention(module)}


def _some_names(modules, count=8):
    names = [name for name, module in modules.items()
             if lora_class(module) is not None]
    text = ", ".join(names[:count])
    return text + (f", ... ({len(names)} in all)" if len(names) > count else "")


def find_targets(model, targets=None):
    """The dotted names of the layers `targets` chooses (see the module
    docstring), in the model's order. Raises ValueError for a target that
    chooses no layer LoRA can wrap, naming some that it could."""
    modules = OrderedDict((name, module) for name, module in
                          model.named_modules() if name)
    out_projs = _attention_of(modules)
    if targets is None:
        head = getattr(model, "head_name", None)
        chosen = [name for name, module in modules.items()
                  if lora_class(module) is not None and name != head
                  and name not in out_projs]
        if not chosen:
            raise ValueError(f"add_lora: {type(model).__name__} has no Linear, "
                             f"Conv2d or attention layer outside its head")
        return chosen
    items = [targets] if isinstance(targets, (str, type, re.Pattern)) \
        else list(targets)
    if not items:
        raise ValueError("add_lora: targets is an empty list; give layer "
                         "names, patterns or types (or None for the default)")
    chosen = set()
    for item in items:
        if isinstance(item, type) or item in TYPE_NAMES:
            found = [name for name, module in modules.items()
                     if _matches_type(module, item)
                     and lora_class(module) is not None
                     and name not in out_projs]
        elif isinstance(item, re.Pattern):  # compiled: a full match only
            found = [name for name, module in modules.items()
                     if item.fullmatch(name) and lora_class(module) is not None]
        elif isinstance(item, str):
            found = []
            for name, module in modules.items():
                if not _matches_name(name, item):
                    continue
                if name == item and lora_class(module) is None:
                    what = ("already a LoRA layer" if isinstance(module, LORA_LAYERS)
                            else f"a {type(module).__name__}")
                    raise ValueError(f"add_lora: target {item!r} is {what}; "
                                     f"LoRA wraps Linear, Conv2d and attention "
                                     f"layers, such as: {_some_names(modules)}")
                if lora_class(module) is not None:
                    found.append(name)
        else:
            raise TypeError(f"add_lora: a target is a layer name, a pattern or "
                            f"a type, got {type(item).__name__}")
        if not found:
            raise ValueError(f"add_lora: target {item!r} matches no Linear, "
                             f"Conv2d or attention layer of "
                             f"{type(model).__name__}; its layers are: "
                             f"{_some_names(modules)}")
        chosen.update(found)
    for name in sorted(chosen):
        if name in out_projs and out_projs[name] not in chosen:
            raise ValueError(f"add_lora: {name} is the out_proj of the attention "
                             f"module {out_projs[name] or 'at the root'}, whose "
                             f"forward reads its weight without calling it; "
                             f"target the attention module itself (it wraps "
                             f"in_proj and out_proj, as PEFT does)")
    return [name for name in modules if name in chosen
            and name not in out_projs]


def _replace_child(model, name, new):
    """Put `new` at dotted path `name`, keeping the child's place in its
    parent's order (setattr would move it to the end, which changes the
    order of a Sequential and of the state dict)."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name)
    parent._modules[child] = new


def _trainable_names(model, trainable):
    if trainable is None:
        head = getattr(model, "head_name", None)
        return [head] if head is not None else []
    names = [trainable] if isinstance(trainable, str) else list(trainable)
    for name in names:
        model.get_submodule(name)  # AttributeError naming what is missing
    return names


def add_lora(model, rank=8, alpha=16, dropout=0.0, targets=None,
             trainable=None):
    """Wrap the layers `targets` chooses in LoRA layers (in place) and freeze
    every parameter but the adapters and those of the modules named in
    `trainable`. Returns `model`.

    rank (PEFT's r), alpha (lora_alpha; the update is scaled by alpha /
    rank) and dropout (lora_dropout, on the adapters' input only) are the
    same for every layer. At the start B = 0, so the model computes exactly
    what it did before.
    """
    if any(isinstance(module, LORA_LAYERS) for module in model.modules()):
        raise ValueError("add_lora: the model already has LoRA layers; merge "
                         "them (merge_lora) before adding new ones")
    check_lora_arguments(rank, alpha, dropout, "add_lora")
    names = find_targets(model, targets)
    keep = _trainable_names(model, trainable)
    for name in sorted(names, key=lambda n: n.count("."), reverse=True):
        base = model.get_submodule(name)
        layer = lora_class(base)(base, r=rank, lora_alpha=alpha,
                                 lora_dropout=dropout)
        _replace_child(model, name, layer)
    for name, param in model.named_parameters():
        is_adapter = any(key in "." + name for key in ADAPTER_KEYS)
        param.requires_grad_(is_adapter or any(
            name.startswith(prefix + ".") for prefix in keep))
    return model


def lora_layers(model):
    """(name, LoRA layer) pairs of the model, in its order."""
    return [(name, module) for name, module in model.named_modules()
            if isinstance(module, LORA_LAYERS)]


def _unwrap(model, merge, caller):
    layers = lora_layers(model)
    if not layers:
        raise ValueError(f"{caller}: the model has no LoRA layers")
    # Outermost first: an attention wrapper unwraps its own out_proj.
    for name, layer in layers:
        if not isinstance(model.get_submodule(name), LoRALayer):
            continue
        plain = layer.merge_and_unload() if merge else layer.unload()
        _replace_child(model, name, plain)
    return model


def merge_lora(model):
    """Fold every adapter into its layer's weight (W <- W + alpha / r * B A)
    and put the original layers back, in place (PEFT's
    ``merge_and_unload``): the result is a plain model with the same
    outputs and the state-dict keys it had before add_lora. Returns it.
    requires_grad is left as it is (copy.deepcopy the model first to keep
    the LoRA one)."""
    return _unwrap(model, merge=True, caller="merge_lora")


def unload_lora(model):
    """Put the original layers back without the adapters (PEFT's
    ``unload``), in place; returns the model."""
    return _unwrap(model, merge=False, caller="unload_lora")


def _is_adapter_key(key):
    return any(part in "." + key for part in ADAPTER_KEYS)


def lora_state_dict(model, include_trainable=True):
    """The adapters alone, keyed as in the model's state dict
    (``layer1.0.conv1.lora_A.weight``, ...; PEFT's names), plus, with
    `include_trainable`, the other parameters that train (the head: PEFT's
    ``modules_to_save``). Values share memory with the model (detached)."""
    if not lora_layers(model):
        raise ValueError("lora_state_dict: the model has no LoRA layers")
    params = dict(model.named_parameters())
    state = OrderedDict()
    for key, value in model.state_dict().items():
        trained = include_trainable and key in params and \
            params[key].requires_grad
        if _is_adapter_key(key) or trained:
            state[key] = value
    return state


def load_lora(model, state):
    """Copy adapters (and trained parameters) from `state`, as written by
    :func:`lora_state_dict`, into a model that has the same LoRA layers
    (add_lora with the same targets and rank). Every adapter of the model
    must be in `state`, and every key of `state` in the model; shapes must
    agree. Returns the model."""
    expected = model.state_dict()
    adapters = [key for key in expected if _is_adapter_key(key)]
    if not adapters:
        raise ValueError("load_lora: the model has no LoRA layers; call "
                         "add_lora with the same targets and rank first")
    unknown = [key for key in state if key not in expected]
    missing = [key for key in adapters if key not in state]
    problems = []
    if unknown:
        problems.append(f"keys the model does not have: {', '.join(unknown[:6])}"
                        + (" ..." if len(unknown) > 6 else ""))
    if missing:
        problems.append(f"adapters missing from the state: "
                        f"{', '.join(missing[:6])}"
                        + (" ..." if len(missing) > 6 else ""))
    if problems:
        raise ValueError("load_lora: " + "; ".join(problems))
    model.load_state_dict(state, strict=False)  # shape errors still raise
    return model


def count_trainable(model):
    """(trainable parameters, all parameters), counted in numbers."""
    trainable = total = 0
    for param in model.parameters():
        total += param.data.size
        if param.requires_grad:
            trainable += param.data.size
    return trainable, total


def trainable_parameters_report(model):
    """PEFT's line: ``trainable params: 7,386 || all params: 279,610 ||
    trainable%: 2.6415``."""
    trainable, total = count_trainable(model)
    share = 100 * trainable / total if total else 0.0
    return (f"trainable params: {trainable:,} || all params: {total:,} || "
            f"trainable%: {share:.4f}")


def print_trainable_parameters(model):
    """Print :func:`trainable_parameters_report` (PEFT's method name)."""
    print(trainable_parameters_report(model))
