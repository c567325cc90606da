"""The model a fine-tuning run starts from: the checkpoint's when resuming,
else ``--weights`` (a converted ``.npz``, a PyTorch checkpoint or a
published name) or a random initialisation, with a new classifier when the
dataset's class count differs from the weights'."""
import os
from dataclasses import dataclass

from .. import models
from ..convert import guess_architecture
from .data import IMAGENET_MEAN, IMAGENET_STD
from .inference import build_model, read_model_file
from .options import UsageError
from .pretrained import key_mismatch, resolve_weights


@dataclass
class StartingModel:
    """The model, its architecture's name and its input normalisation."""
    model: object
    architecture: str
    mean: list
    std: list


def check_architecture(architecture, state, stored, weights):
    """Refuse --arch `architecture` for weights that are another one
    (`stored`: the one their metadata names, else guessed from the keys)."""
    found = stored or guess_architecture(state)
    if found is None or found == architecture:
        return
    mismatch = key_mismatch(architecture, set(state))
    raise UsageError("--arch {} but --weights {} holds a {}{}: use --arch {}, "
                     "or leave --arch out".format(
                         architecture, weights, found,
                         f" ({mismatch} for a {architecture})"
                         if mismatch else "", found))


def load_starting_model(options, classes, resumed):
    """A StartingModel for the run. `options`: the resolved options (arch,
    weights, out); `resumed`: (state, metadata) of the checkpoint or None."""
    if resumed is not None:
        metadata = resumed[1]
        architecture = metadata["architecture"]
        if options.arch is not None and options.arch != architecture:
            raise UsageError(f"--resume: the checkpoint holds a {architecture}"
                             f", not a {options.arch}")
        if list(metadata["classes"]) != list(classes):
            raise UsageError(f"--resume: the checkpoint was trained on the "
                             f"classes {metadata['classes']}, --data has "
                             f"{classes}")
        model = models.get_model(architecture, num_classes=len(classes))
        return StartingModel(model, architecture, list(metadata["input_mean"]),
                             list(metadata["input_std"]))
    if options.weights is None:
        print(f"no --weights: {options.arch} starts from a random "
              "initialisation")
        model = models.get_model(options.arch, num_classes=len(classes))
        return StartingModel(model, options.arch, list(IMAGENET_MEAN),
                             list(IMAGENET_STD))
    path = resolve_weights(options.weights, os.path.join(options.out,
                                                         "converted"),
                           architecture=options.arch)
    try:
        state, metadata = read_model_file(path)
    except (OSError, ValueError) as error:
        raise UsageError(f"--weights {options.weights}: {error}") from None
    stored = metadata.get("architecture")
    if options.arch is not None:
        check_architecture(options.arch, state, stored, options.weights)
    architecture = options.arch or stored
    if architecture is None:
        raise UsageError(f"--weights {options.weights} does not name its "
                         "architecture; give --arch")
    try:
        model = build_model(architecture, state, path)
    except ValueError as error:
        mismatch = key_mismatch(architecture, set(state)) \
            if architecture in models.list_models() else ""
        raise UsageError(f"--weights {options.weights}: "
                         f"{mismatch or error}") from None
    print(f"loaded {architecture} weights from {path}")
    if model.num_classes != len(classes):
        print(f"new {len(classes)}-class head (the weights have "
              f"{model.num_classes} classes)")
        models.replace_head(model, len(classes))
    mean = metadata.get("input_mean") or IMAGENET_MEAN
    std = metadata.get("input_std") or IMAGENET_STD
    return StartingModel(model, architecture, list(mean), list(std))
