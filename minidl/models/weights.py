"""Loading converted weights (``.npz`` from :mod:`minidl.convert`).

Only NumPy is needed here: the file holds the state dict under PyTorch's
names plus metadata (architecture, number of classes, input normalisation,
the source checkpoint and its SHA-256).
"""
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
