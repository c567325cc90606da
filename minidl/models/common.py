"""What every classification model here shares: its classifier head.

A model names its final Linear layer in ``head_name`` (``"linear"`` for the
CIFAR ResNets, ``"fc"`` for the ImageNet ones, the dotted path ``"heads.head"``
for the Vision Transformers). Fine-tuning replaces it with
a fresh one for the new classes and often gives it its own learning rate,
which needs the names of its parameters.
"""
from .. import nn


def replace_head(model, num_classes):
    """Swap the model's final Linear for a new, freshly initialised one with
    `num_classes` outputs (same input size, device and dtype). Returns the
    new layer. PyTorch's default Linear initialisation is used:
    U(-1/sqrt(in), 1/sqrt(in)) for weight and bias."""
    name = getattr(model, "head_name", None)
    if name is None:
        raise TypeError("replace_head: {} does not say which layer is its "
                        "classifier (no head_name attribute)".format(
                            type(model).__name__))
    parent_name, _, local_name = name.rpartition(".")  # ViT: "heads.head"
    parent = model.get_submodule(parent_name)
    old = getattr(parent, local_name)
    if not isinstance(old, nn.Linear):
        raise TypeError("replace_head: {}.{} is a {}, expected Linear".format(
            type(model).__name__, name, type(old).__name__))
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError("replace_head: num_classes must be a positive int, got "
                         "{!r}".format(num_classes))
    new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    new.to(old.weight.device, old.weight.dtype)
    new.train(old.training)
    setattr(parent, local_name, new)
    model.num_classes = num_classes
    return new


def head_parameter_names(model):
    """State-dict names of the classifier's parameters, e.g.
    ``["fc.weight", "fc.bias"]``."""
    name = model.head_name
    return [name + "." + local for local, _ in
            model.get_submodule(name).named_parameters()]


class ClassifierMixin:
    """Gives a model with a ``head_name`` the methods ``reset_classifier``,
    ``get_classifier`` and ``head_parameter_names``."""

    head_name = None

    def get_classifier(self):
        return self.get_submodule(self.head_name)

    def reset_classifier(self, num_classes):
        """Replace the classifier by a fresh one with `num_classes` outputs."""
        return replace_head(self, num_classes)

    def head_parameter_names(self):
        return head_parameter_names(self)
