"""Loading converted weights (``.npz`` from :mod:`minidl.convert`).

Only NumPy is needed here: the file holds the state dict under PyTorch's
names plus metadata (architecture, number of classes, input normalisation,
the source checkpoint and its SHA-256).
"""
import enum
import os

from .. import serialization


def load_weights(path):
    """(state_dict, metadata) of a converted weights file.

    metadata is a dict (empty for an ``.npz`` without minidl metadata).
    """
    path = os.fspath(path)
    state, metadata = serialization.load(path, with_metadata=True)
    if not isinstance(state, dict):
        raise ValueError("{}: expected a state dict (name -> array), found a {}"
                         .format(path, type(state).__name__))
    return state, dict(metadata or {})


def load_into(model, name, path):
    """Load the weights at `path` into `model` (an architecture `name`),
    strictly; returns the file's metadata."""
    state, metadata = load_weights(path)
    architecture = metadata.get("architecture")
    if architecture is not None and architecture != name:
        raise ValueError("{}: weights file {} holds a {}; build it with "
                         "minidl.models.{} (or minidl.models.load_pretrained)"
                         .format(name, path, architecture, architecture))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise RuntimeError("{}: cannot load {}: {}".format(name, path, error)) \
            from None
    model.pretrained_metadata = metadata
    return metadata


# torchvision's names for an architecture's weights (``weights="DEFAULT"``,
# ``"IMAGENET1K_V1"``) -> a published name of minidl.training.pretrained.
# "DEFAULT" is the first entry. ResNet-20's CIFAR10_V1 is the copy that
# ships inside minidl (the same tensors as "resnet20-cifar10").
WEIGHTS_NAMES = {
    "resnet18": {"IMAGENET1K_V1": "resnet18-imagenet"},
    "resnet20": {"CIFAR10_V1": "resnet20-cifar10-embedded"},
    "resnet32": {"CIFAR10_V1": "resnet32-cifar10"},
    "resnet44": {"CIFAR10_V1": "resnet44-cifar10"},
    "resnet56": {"CIFAR10_V1": "resnet56-cifar10"},
    "vit_b_16": {"IMAGENET1K_V1": "vit_b_16-imagenet"},
    "vit_b_32": {"IMAGENET1K_V1": "vit_b_32-imagenet"},
    "vit_l_16": {"IMAGENET1K_V1": "vit_l_16-imagenet"},
}


def _weights_name(spec):
    """"IMAGENET1K_V1" from "IMAGENET1K_V1", "ResNet18_Weights.IMAGENET1K_V1"
    or torchvision's enum member of that name."""
    if isinstance(spec, enum.Enum):  # torchvision's WeightsEnum members
        return spec.name
    spec = os.fspath(spec)
    prefix, dot, rest = spec.partition(".")
    if dot and prefix.endswith("_Weights"):
        return rest
    return spec


def resolve_model_weights(name, weights):
    """The converted ``.npz`` for ``weights=`` of the builder `name`: a
    torchvision weights name (``"DEFAULT"``, ``"IMAGENET1K_V1"``, also
    spelled ``"ResNet18_Weights.IMAGENET1K_V1"``), or anything ``--weights``
    takes (a ``.npz``, a PyTorch checkpoint, a published name). Published
    files are fetched and converted once into the cache (see
    :mod:`minidl.training.pretrained`)."""
    from ..training.pretrained import resolve_weights, weights_cache_dir
    table = WEIGHTS_NAMES.get(name, {})
    spec = _weights_name(weights)
    if spec == "DEFAULT":
        if not table:
            raise ValueError(f"{name}: no published weights for "
                             f"weights=\"DEFAULT\"; pass the path of a "
                             f"converted .npz")
        spec = next(iter(table))
    if spec in table:
        spec = table[spec]
    elif spec.isupper() or spec.endswith("_V1"):
        available = ", ".join(["DEFAULT"] + list(table))
        raise ValueError(f"{name}: unknown weights {spec!r}; available: "
                         f"{available}")
    return resolve_weights(spec, os.path.join(weights_cache_dir(), "converted"),
                           architecture=name)
