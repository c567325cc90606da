"""minidl.models: ResNets for CIFAR-10 and ImageNet, and Vision
Transformers (vit_b_16, vit_b_32, vit_l_16, vit_tiny_cifar), with PyTorch's
and torchvision's names.

Each builder takes ``num_classes`` and ``weights``: a path to an ``.npz``
made by ``python -m minidl.convert``, a PyTorch checkpoint (converted on
first use; needs torch), a published name (``"resnet20-cifar10"``), or a
torchvision weights name, ``"DEFAULT"`` or ``"IMAGENET1K_V1"`` (ResNet-18)
and ``"CIFAR10_V1"`` (the CIFAR ResNets)::

    model = minidl.models.resnet20(weights="DEFAULT")   # ships with minidl
    model = minidl.models.resnet18(weights="IMAGENET1K_V1")  # downloaded once
    model = minidl.models.load_pretrained("resnet20.npz", num_classes=100)
    model.pretrained_metadata["input_mean"]

With weights, ``num_classes`` defaults to the file's; giving a different
count is an error (use ``load_pretrained(..., num_classes=...)`` or
``replace_head`` to get a fresh classifier for fine-tuning).
"""
import os

from . import cifar_resnet
from .cifar_resnet import CifarResNet
from .common import head_parameter_names, replace_head
from .resnet import BasicBlock, Bottleneck, ResNet
from .weights import WEIGHTS_NAMES, load_into, load_weights, resolve_model_weights
from . import vit
from .vit import VisionTransformer


def _num_classes(name, num_classes, weights, default):
    """The class count to build: the caller's, else the weights', else
    `default`; an error when the caller's and the weights' disagree."""
    if weights is None:
        return default if num_classes is None else num_classes
    _, metadata = load_weights(weights)
    stored = metadata.get("num_classes")
    if num_classes is not None and stored is not None and num_classes != stored:
        raise ValueError("{}: num_classes={} but the weights in {} have {} "
                         "classes; load them as they are and call "
                         "minidl.models.replace_head(model, {}) to fine-tune"
                         .format(name, num_classes, weights, stored, num_classes))
    if num_classes is not None:
        return num_classes
    return stored if stored is not None else default


def _build(name, make, default_classes, num_classes, weights):
    if weights is not None:
        weights = resolve_model_weights(name, weights)
    model = make(_num_classes(name, num_classes, weights, default_classes))
    if weights is not None:
        load_into(model, name, weights)
    return model


def resnet20(num_classes=None, weights=None):
    """CIFAR ResNet-20 (0.27M parameters), 10 classes unless told."""
    return _build("resnet20", lambda n: cifar_resnet.cifar_resnet(20, n), 10,
                  num_classes, weights)


def resnet32(num_classes=None, weights=None):
    """CIFAR ResNet-32 (0.46M parameters)."""
    return _build("resnet32", lambda n: cifar_resnet.cifar_resnet(32, n), 10,
                  num_classes, weights)


def resnet44(num_classes=None, weights=None):
    """CIFAR ResNet-44 (0.66M parameters)."""
    return _build("resnet44", lambda n: cifar_resnet.cifar_resnet(44, n), 10,
                  num_classes, weights)


def resnet56(num_classes=None, weights=None):
    """CIFAR ResNet-56 (0.85M parameters)."""
    return _build("resnet56", lambda n: cifar_resnet.cifar_resnet(56, n), 10,
                  num_classes, weights)


def resnet110(num_classes=None, weights=None):
    """CIFAR ResNet-110 (1.7M parameters)."""
    return _build("resnet110", lambda n: cifar_resnet.cifar_resnet(110, n), 10,
                  num_classes, weights)


def resnet18(num_classes=None, weights=None):
    """ImageNet ResNet-18 (torchvision layout), 1000 classes unless told."""
    return _build("resnet18", lambda n: ResNet(BasicBlock, [2, 2, 2, 2], n),
                  1000, num_classes, weights)


def resnet34(num_classes=None, weights=None):
    """ImageNet ResNet-34 (torchvision layout)."""
    return _build("resnet34", lambda n: ResNet(BasicBlock, [3, 4, 6, 3], n),
                  1000, num_classes, weights)


def resnet50(num_classes=None, weights=None):
    """ImageNet ResNet-50 (torchvision layout, Bottleneck blocks)."""
    return _build("resnet50", lambda n: ResNet(Bottleneck, [3, 4, 6, 3], n),
                  1000, num_classes, weights)


def vit_b_16(num_classes=None, weights=None, **overrides):
    """ViT-B/16 (torchvision layout, 86M parameters), 1000 classes unless
    told; `overrides` change settings such as ``image_size`` or
    ``dropout``."""
    return _build("vit_b_16", lambda n: vit.vision_transformer(
        "vit_b_16", n, **overrides), 1000, num_classes, weights)


def vit_b_32(num_classes=None, weights=None, **overrides):
    """ViT-B/32 (torchvision layout, 88M parameters)."""
    return _build("vit_b_32", lambda n: vit.vision_transformer(
        "vit_b_32", n, **overrides), 1000, num_classes, weights)


def vit_l_16(num_classes=None, weights=None, **overrides):
    """ViT-L/16 (torchvision layout, 304M parameters)."""
    return _build("vit_l_16", lambda n: vit.vision_transformer(
        "vit_l_16", n, **overrides), 1000, num_classes, weights)


def vit_tiny_cifar(num_classes=None, weights=None, **overrides):
    """A small ViT for 32 x 32 images: 4 x 4 patches, 6 blocks of width 192,
    3 heads, MLP 768 (2.7M parameters); 10 classes unless told."""
    return _build("vit_tiny_cifar", lambda n: vit.vision_transformer(
        "vit_tiny_cifar", n, **overrides), 10, num_classes, weights)


def vision_transformer(num_classes=None, weights=None, **config):
    """A ViT of any size: VisionTransformer's settings as keywords, or, with
    `weights` (a file converted from a ViT of another size), the settings
    stored in its metadata (``vit_config``)."""
    if weights is not None:
        _, metadata = load_weights(weights)
        config = {**metadata.get("vit_config", {}), **config}
    missing = [key for key in ("image_size", "patch_size", "num_layers",
                               "num_heads", "hidden_dim", "mlp_dim")
               if key not in config]
    if missing:
        raise ValueError(f"vision_transformer: missing settings {missing} "
                         f"(give them, or weights whose metadata has them)")
    return _build("vision_transformer",
                  lambda n: VisionTransformer(num_classes=n, **config), 1000,
                  num_classes, weights)


_BUILDERS = {
    "resnet20": resnet20, "resnet32": resnet32, "resnet44": resnet44,
    "resnet56": resnet56, "resnet110": resnet110,
    "resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50,
}
_BUILDERS.update({"vit_b_16": vit_b_16, "vit_b_32": vit_b_32,
                  "vit_l_16": vit_l_16, "vit_tiny_cifar": vit_tiny_cifar,
                  "vision_transformer": vision_transformer})

CIFAR_MODELS = ("resnet20", "resnet32", "resnet44", "resnet56", "resnet110")
IMAGENET_MODELS = ("resnet18", "resnet34", "resnet50")
VIT_MODELS = ("vit_b_16", "vit_b_32", "vit_l_16", "vit_tiny_cifar",
              "vision_transformer")


def list_models():
    """Names accepted by :func:`get_model`."""
    return list(_BUILDERS)


def get_model(name, **kwargs):
    """Build a model by name: ``get_model("resnet20", num_classes=100)``."""
    if name not in _BUILDERS:
        raise ValueError("unknown model {!r}; available: {}".format(
            name, ", ".join(_BUILDERS)))
    return _BUILDERS[name](**kwargs)


def load_pretrained(weights, num_classes=None):
    """The model of a weights file alone: the architecture comes from its
    metadata. `weights`: what ``--weights`` takes (a converted ``.npz``, a
    PyTorch checkpoint, a published name such as ``"resnet20-cifar10"``).

    With `num_classes` different from the file's, the loaded model gets a
    fresh classifier with that many outputs (for fine-tuning). The file's
    metadata is ``model.pretrained_metadata``; its ``"input_mean"`` and
    ``"input_std"`` give the input normalisation."""
    from ..training.pretrained import resolve_weights, weights_cache_dir
    path = resolve_weights(weights, os.path.join(weights_cache_dir(),
                                                 "converted"))
    _, metadata = load_weights(path)
    name = metadata.get("architecture")
    if name not in _BUILDERS:
        raise ValueError("load_pretrained: {} does not name a known "
                         "architecture in its metadata (found {!r}); build the "
                         "model yourself and pass weights=".format(path, name))
    model = _BUILDERS[name](weights=path)
    if num_classes is not None and num_classes != model.num_classes:
        replace_head(model, num_classes)
    return model


__all__ = ["BasicBlock", "Bottleneck", "CifarResNet", "ResNet", "WEIGHTS_NAMES",
           "get_model",
           "head_parameter_names", "list_models", "load_pretrained",
           "load_weights", "replace_head", "resnet110", "resnet18", "resnet20",
           "resnet32", "resnet34", "resnet44", "resnet50", "resnet56"]
__all__ += ["VisionTransformer", "vision_transformer", "vit_b_16", "vit_b_32",
            "vit_l_16", "vit_tiny_cifar"]
