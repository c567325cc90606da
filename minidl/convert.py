"""Convert a PyTorch checkpoint to a minidl weights file (``.npz``).

Command line::

    python -m minidl.convert SRC DST.npz [--arch NAME]

or from Python: ``minidl.convert.from_torch(src, dst, arch=None)``.

What it does, in order:

1. reads SRC with torch (``torch.load(..., weights_only=True)``: no code in
   the file is run). It accepts a bare state dict as torchvision saves it,
   or a dict holding one under ``state_dict`` or ``model_state_dict``, and
   strips the ``module.`` prefix that DataParallel adds;
2. takes the architecture from ``--arch`` or guesses it from the keys
   (``linear`` + three stages: a CIFAR ResNet of depth 6n + 2; ``fc`` +
   four stages: resnet18/34/50 by block type and count; ``conv_proj`` +
   ``encoder.pos_embedding``: a torchvision VisionTransformer, whose sizes
   are read from the shapes: vit_b_16/b_32/l_16 or vit_tiny_cifar when they
   match, else ``vision_transformer``, which needs ``--num-heads`` since
   the head count leaves no trace in the shapes), and the number of classes
   from the classifier's weight;
3. builds that minidl model and checks every key and shape against it,
   listing every mismatch in one error, before anything is written;
4. writes DST atomically (see :func:`minidl.save`): the same keys with
   float32 values, plus metadata: architecture, num_classes, source file
   name and SHA-256, input normalisation (mean/std), input size.

torch is needed for step 1 only, and is imported there; loading the result
(``minidl.models.resnet20(weights="resnet20.npz")``) needs only NumPy.
Checkpoints from PyTorch before 0.4.1 have no ``num_batches_tracked``; it is
set to 0, as PyTorch itself does when it loads them.
"""
import argparse
import hashlib
import os
import re
import sys
import zipfile

import numpy as np

from . import serialization

# Both families were trained on inputs normalised with ImageNet's statistics.
INPUT_MEAN = [0.485, 0.456, 0.406]
INPUT_STD = [0.229, 0.224, 0.225]


class ConversionError(ValueError):
    """A checkpoint that cannot be converted; the message names the file."""


# -- 1. reading the checkpoint ------------------------------------------------
def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_container(path):
    """Look at the file's first bytes so that the common mistakes get a clear
    message instead of an unpickling error: an empty file, a text file, a
    truncated zip (the format of torch.save since 1.6), or something else."""
    size = os.path.getsize(path)
    if size == 0:
        raise ConversionError("{}: the file is empty, not a PyTorch "
                              "checkpoint".format(path))
    with open(path, "rb") as file:
        head = file.read(512)
    if head.startswith(b"PK"):
        if not zipfile.is_zipfile(path):
            raise ConversionError("{}: truncated or damaged checkpoint (the zip "
                                  "archive that torch.save writes has no "
                                  "central directory; was the copy "
                                  "interrupted?)".format(path))
        with zipfile.ZipFile(path) as archive:
            if not any(name.endswith("data.pkl") for name in archive.namelist()):
                raise ConversionError("{}: a zip archive, but not a PyTorch "
                                      "checkpoint (no data.pkl inside)".format(
                                          path))
        return
    if head[:1] == b"\x80":  # a pickle: the legacy (pre-1.6) torch.save format
        return
    try:
        head.decode("utf-8")
        is_text = b"\x00" not in head
    except UnicodeDecodeError:
        is_text = False
    if is_text:
        raise ConversionError("{}: a text file, not a PyTorch checkpoint "
                              "(it starts with {!r})".format(path, head[:40]))
    raise ConversionError("{}: not a PyTorch checkpoint (unrecognised first "
                          "bytes {!r})".format(path, head[:8]))


def read_torch_checkpoint(path):
    """(state dict as {name: float32/int64 NumPy array}, {extra scalar
    entries such as best_prec1}) of the torch checkpoint at `path`."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConversionError("{}: no such file".format(path))
    _check_container(path)
    try:
        import torch
    except ImportError:
        raise ConversionError("{}: reading a PyTorch checkpoint needs torch "
                              "(pip install torch); the converted .npz file it "
                              "writes is then read without torch".format(path)) from None
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds; all mean "unreadable"
        message = str(error).strip().split("\n")[0]
        if isinstance(error, EOFError) or "Ran out of input" in message:
            message = "the file ends early ({})".format(message or "EOF")
        raise ConversionError("{}: truncated or damaged checkpoint: torch.load "
                              "failed with {}: {}".format(
                                  path, type(error).__name__, message)) from None
    state, extra = _find_state_dict(path, checkpoint, torch)
    arrays = {}
    for key, value in state.items():
        name = key[len("module."):] if key.startswith("module.") else key
        if name in arrays:
            raise ConversionError("{}: key {!r} appears both with and without "
                                  "the 'module.' prefix".format(path, name))
        array = value.detach().cpu()
        if array.is_floating_point():
            array = array.float()  # float16/bfloat16/float64 -> float32
        arrays[name] = array.numpy().copy()
    return arrays, extra


def _find_state_dict(path, checkpoint, torch):
    """The {name: tensor} mapping inside a loaded checkpoint, and the plain
    numbers stored beside it."""
    if not isinstance(checkpoint, dict):
        raise ConversionError("{}: expected a state dict or a dict holding one, "
                              "found a {}".format(path,
                                                  type(checkpoint).__name__))
    extra = {}
    for wrapper in ("state_dict", "model_state_dict"):
        if isinstance(checkpoint.get(wrapper), dict):
            for key, value in checkpoint.items():
                if isinstance(value, (int, float, str)) and not isinstance(
                        value, bool):
                    extra[key] = value
                elif torch.is_tensor(value) and value.numel() == 1:
                    extra[key] = value.item()
            checkpoint = checkpoint[wrapper]
            break
    tensors = {key: value for key, value in checkpoint.items()
               if torch.is_tensor(value)}
    if not tensors:
        raise ConversionError("{}: no tensors found; expected a state dict or a "
                              "dict with 'state_dict' or 'model_state_dict' "
                              "(top-level keys: {})".format(
                                  path, sorted(map(str, checkpoint))[:10]))
    others = sorted(str(k) for k in checkpoint if k not in tensors)
    if others:
        raise ConversionError("{}: the state dict holds non-tensor entries {}"
                              .format(path, others[:10]))
    return tensors, extra


# -- 2. the architecture ------------------------------------------------------
def _blocks_per_stage(keys, stage):
    pattern = re.compile(r"^layer{}\.(\d+)\.".format(stage))
    indices = {int(m.group(1)) for m in map(pattern.match, keys) if m}
    return max(indices) + 1 if indices else 0


def vit_config(state):
    """The VisionTransformer settings a torchvision ViT state dict shows
    (all but num_heads), or None when it is not one."""
    if "conv_proj.weight" not in state or "encoder.pos_embedding" not in state:
        return None
    hidden_dim, _, patch_size, _ = state["conv_proj.weight"].shape
    seq_length = state["encoder.pos_embedding"].shape[1]
    side = int(round((seq_length - 1) ** 0.5))
    pattern = re.compile(r"^encoder\.layers\.encoder_layer_(\d+)\.")
    layers = {int(m.group(1)) for m in map(pattern.match, state) if m}
    config = {"image_size": side * int(patch_size),
              "patch_size": int(patch_size),
              "num_layers": max(layers) + 1 if layers else 0,
              "hidden_dim": int(hidden_dim)}
    mlp_key = "encoder.layers.encoder_layer_0.mlp.0.weight"
    if mlp_key in state:
        config["mlp_dim"] = int(state[mlp_key].shape[0])
    if "heads.pre_logits.weight" in state:
        config["representation_size"] = int(
            state["heads.pre_logits.weight"].shape[0])
    return config


def _named_vit(config):
    """vit_b_16 etc. when `config` (without num_heads) is one of those."""
    from .models import vit
    for name, known in vit.CONFIGS.items():
        if config == {k: v for k, v in known.items() if k != "num_heads"}:
            return name
    return None


def guess_architecture(state):
    """The minidl model name a state dict belongs to, or None."""
    config = vit_config(state)
    if config is not None:
        return _named_vit(config) or "vision_transformer"
    keys = list(state)
    stages = [_blocks_per_stage(keys, s) for s in (1, 2, 3, 4)]
    if "linear.weight" in state and stages[3] == 0 and stages[0] > 0:
        if stages[0] == stages[1] == stages[2]:
            name = "resnet{}".format(6 * stages[0] + 2)
            from . import models
            return name if name in models.list_models() else None
        return None
    if "fc.weight" in state and stages[3] > 0:
        bottleneck = "layer1.0.conv3.weight" in state
        known = {("basic", (2, 2, 2, 2)): "resnet18",
                 ("basic", (3, 4, 6, 3)): "resnet34",
                 ("bottleneck", (3, 4, 6, 3)): "resnet50"}
        return known.get(("bottleneck" if bottleneck else "basic",
                          tuple(stages)))
    return None


def _head_key(arch):
    from . import models
    if arch in models.VIT_MODELS:
        return "heads.head.weight"
    return "linear.weight" if arch in models.CIFAR_MODELS else "fc.weight"


# -- 3. checking against the model -------------------------------------------
def check_against_model(path, state, arch, num_classes=None, settings=None):
    """The minidl model's state dict, with the checkpoint's values, after
    checking every key and shape; fills in a missing num_batches_tracked.
    `settings`: keyword arguments for the builder (a vision_transformer's
    sizes). Returns (state dict, filled keys, num_classes)."""
    from . import models
    if arch not in models.list_models():
        raise ConversionError("{}: unknown architecture {!r}; choose one of {}"
                              .format(path, arch, ", ".join(models.list_models())))
    head_key = _head_key(arch)
    if head_key not in state:
        raise ConversionError("{}: no {!r} in the checkpoint, so it is not a "
                              "{} (first keys: {})".format(
                                  path, head_key, arch, list(state)[:5]))
    stored_classes = int(state[head_key].shape[0])
    if num_classes is not None and num_classes != stored_classes:
        raise ConversionError("{}: mismatched head: {} has shape {} ({} classes) "
                              "but {} classes were asked for".format(
                                  path, head_key, state[head_key].shape,
                                  stored_classes, num_classes))
    guess = guess_architecture(state)  # before num_batches_tracked is filled
    model = models.get_model(arch, num_classes=stored_classes,
                             **(settings or {}))
    expected = model.state_dict()
    filled = []
    for key, value in expected.items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = np.zeros((), dtype=np.int64)
            filled.append(key)
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = ["{}: checkpoint {} vs {} {}".format(
        k, tuple(state[k].shape), arch, expected[k].shape)
        for k in expected if k in state and tuple(state[k].shape)
        != expected[k].shape]
    if missing or unexpected or mismatched:
        problems = []
        if mismatched:
            problems.append("shape mismatch ({}): {}".format(
                len(mismatched), "; ".join(mismatched)))
        if missing:
            problems.append("missing keys ({}): {}".format(
                len(missing), ", ".join(missing)))
        if unexpected:
            problems.append("unexpected keys ({}): {}".format(
                len(unexpected), ", ".join(unexpected)))
        hint = " (its keys look like a {})".format(guess) \
            if guess and guess != arch else ""
        raise ConversionError("{}: does not match architecture {}{}:\n  {}"
                              .format(path, arch, hint, "\n  ".join(problems)))
    ordered = {}
    for key, value in expected.items():
        ordered[key] = state[key].astype(value.dtype, copy=False)
    return ordered, filled, stored_classes


# -- 4. writing ---------------------------------------------------------------
def _vit_settings(src, state, arch, num_heads):
    """The builder keywords and metadata of a ViT checkpoint: for
    vision_transformer its sizes (num_heads from the caller); for a named
    ViT nothing, unless `num_heads` differs from its own."""
    from .models import vit
    config = vit_config(state)
    if config is None:
        raise ConversionError(f"{src}: no conv_proj.weight and "
                              f"encoder.pos_embedding, so it is not a {arch}")
    if arch != "vision_transformer":
        expected = vit.CONFIGS[arch]["num_heads"]
        if num_heads is not None and num_heads != expected:
            raise ConversionError(f"{src}: {arch} has {expected} heads, not "
                                  f"--num-heads {num_heads}; use --arch "
                                  f"vision_transformer for another count")
        return {}, {**vit.CONFIGS[arch]}
    if num_heads is None:
        raise ConversionError(
            f"{src}: a VisionTransformer of a size minidl has no name for "
            f"({config}); its number of heads cannot be read from the "
            f"weights: pass --num-heads")
    if config["hidden_dim"] % num_heads:
        raise ConversionError(f"{src}: hidden_dim {config['hidden_dim']} is not "
                              f"divisible by --num-heads {num_heads}")
    config["num_heads"] = num_heads
    return config, config


def from_torch(src, dst, arch=None, num_classes=None, num_heads=None):
    """Convert the torch checkpoint `src` into the minidl weights file `dst`.

    `num_heads`: the attention heads of a VisionTransformer that is not one
    of the named sizes (the weights do not show it).

    Returns the metadata written. Raises ConversionError (naming `src`) when
    the checkpoint cannot be read or does not match the architecture; then
    nothing is written.
    """
    src, dst = os.fspath(src), os.fspath(dst)
    state, extra = read_torch_checkpoint(src)
    if arch is None:
        arch = guess_architecture(state)
        if arch is None:
            raise ConversionError("{}: cannot tell the architecture from its "
                                  "keys (first keys: {}); pass --arch".format(
                                      src, list(state)[:5]))
    from . import models, __version__
    if arch is None and num_heads is not None and vit_config(state):
        arch = "vision_transformer"  # the caller's head count, not a name's
    settings, vit_metadata = {}, None
    if arch in models.VIT_MODELS:
        settings, vit_metadata = _vit_settings(src, state, arch, num_heads)
    state, filled, classes = check_against_model(src, state, arch, num_classes,
                                                 settings)
    metadata = {
        "format": "minidl-weights",
        "architecture": arch,
        "num_classes": classes,
        "source_file": os.path.basename(src),
        "source_sha256": _sha256(src),
        "input_mean": INPUT_MEAN,
        "input_std": INPUT_STD,
        "input_size": 32 if arch in models.CIFAR_MODELS else 224,
        "filled_keys": filled,
        "source_extra": extra,
        "minidl_version": __version__,
    }
    if vit_metadata is not None:
        metadata["input_size"] = vit_metadata["image_size"]
        metadata["vit_config"] = vit_metadata
    serialization.save(state, dst, metadata=metadata)
    return metadata


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m minidl.convert",
        description="Convert a PyTorch ResNet or torchvision ViT checkpoint "
                    "to a minidl .npz.")
    parser.add_argument("src", help="the PyTorch checkpoint (.pth, .pt, .th)")
    parser.add_argument("dst", help="the .npz file to write")
    parser.add_argument("--arch", default=None,
                        help="architecture (resnet20/32/44/56/110, "
                             "resnet18/34/50, vit_b_16/b_32/l_16, vit_tiny_cifar, "
                             "vision_transformer); guessed from the keys if "
                             "omitted")
    parser.add_argument("--num-heads", type=int, default=None,
                        help="attention heads of a ViT of another size than "
                             "the named ones (not visible in the weights)")
    args = parser.parse_args(argv)
    try:
        metadata = from_torch(args.src, args.dst, arch=args.arch,
                              num_heads=args.num_heads)
    except (ConversionError, FileNotFoundError) as error:
        print("error: {}".format(error), file=sys.stderr)
        return 1
    print("wrote {} ({}, {} classes, from {} sha256 {})".format(
        args.dst, metadata["architecture"], metadata["num_classes"],
        metadata["source_file"], metadata["source_sha256"][:16]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
