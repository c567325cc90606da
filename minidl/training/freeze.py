"""Which parameters train: ``--freeze`` and the optimizer's parameter groups.

``--freeze`` takes

* ``none``: everything trains;
* ``backbone``: only the classifier head trains;
* ``until:layerN``: the stem (``conv1``, ``bn1``) and the stages ``layer1``
  to ``layerN`` are frozen; later stages and the head train.

A frozen parameter gets ``requires_grad = False`` (so autograd records no
graph through a fully frozen part, and backward is cheaper) and is left out
of the optimizer. A BatchNorm layer whose parameters are all frozen is kept
in evaluation mode during training, so its running statistics stay those
of the pretrained model (:func:`set_train_mode`).
"""
import re

from .. import nn
from ..models import head_parameter_names

_STEM = ("conv1", "bn1")


def parse_freeze(spec):
    """'none' -> None, 'backbone' -> 'backbone', 'until:layerN' -> N (int).

    Raises ValueError with the accepted forms for anything else.
    """
    if spec == "none":
        return None
    if spec == "backbone":
        return "backbone"
    match = re.fullmatch(r"until:layer(\d+)", spec or "")
    if match and int(match.group(1)) >= 1:
        return int(match.group(1))
    raise ValueError("--freeze {!r}: expected 'none', 'backbone' or "
                     "'until:layerN' (e.g. until:layer2)".format(spec))


def stage_count(model):
    """How many ``layerN`` stages the model has (3 for CIFAR ResNets, 4 for
    ImageNet ones)."""
    count = 0
    while hasattr(model, "layer{}".format(count + 1)):
        count += 1
    return count


def frozen_prefixes(model, rule):
    """Module-name prefixes frozen by a parsed ``--freeze`` rule."""
    if rule is None:
        return ()
    if rule == "backbone":
        head = model.head_name
        return tuple(name for name, _ in model.named_children() if name != head)
    stages = stage_count(model)
    if rule > stages:
        raise ValueError("--freeze until:layer{}: {} has only layer1..layer{}"
                         .format(rule, type(model).__name__, stages))
    return _STEM + tuple("layer{}".format(i) for i in range(1, rule + 1))


def _under(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def apply_freeze(model, rule):
    """Set requires_grad False on the frozen parameters. Returns the list of
    BatchNorm modules whose parameters are all frozen (to keep in eval
    mode)."""
    prefixes = frozen_prefixes(model, rule)
    for name, param in model.named_parameters():
        param.requires_grad_(not _under(name, prefixes))
    frozen_norms = []
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and \
                _under(name, prefixes):
            frozen_norms.append(module)
    return frozen_norms


def set_train_mode(model, frozen_norms):
    """model.train(), except frozen BatchNorm layers, which stay in eval."""
    model.train()
    for module in frozen_norms:
        module.eval()


def parameter_groups(model, lr, head_lr, weight_decay):
    """Optimizer groups of the trainable parameters: the backbone at `lr`
    and the head at `head_lr` (None: `lr`); empty groups are left out."""
    head_names = set(head_parameter_names(model))
    backbone, head = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (head if name in head_names else backbone).append(param)
    groups = []
    if backbone:
        groups.append({"params": backbone, "lr": lr,
                       "weight_decay": weight_decay, "name": "backbone"})
    if head:
        groups.append({"params": head, "lr": lr if head_lr is None else head_lr,
                       "weight_decay": weight_decay, "name": "head"})
    if not groups:
        raise ValueError("--freeze: every parameter is frozen; nothing to train")
    return groups
