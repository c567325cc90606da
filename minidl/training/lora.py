"""LoRA in the fine-tuning command: ``--lora-rank R [--lora-alpha A]
[--lora-targets ...] [--lora-dropout P]``.

With ``--lora-rank``, the model's layers get LoRA adapters
(:func:`minidl.peft.add_lora`) after the weights are loaded (and before
the optimizer is built and a checkpoint restored); only the adapters and
the classifier head train. BatchNorm layers, whose parameters are then all
frozen, stay in evaluation mode during training, as with ``--freeze``.
The checkpoints (``best.npz``, ``last.npz``) hold the LoRA model, so
``--resume`` continues it. At the end the best epoch's adapters (and head)
are written alone to ``lora.npz``, then merged into the weights, so
``model.npz`` is a plain model that ``--weights``, evaluate and predict
read as any other.

The finetune command calls three functions: :func:`add_lora_options`
(argparse), :func:`apply_lora_from_args` (set-up) and
:func:`save_lora_outputs` (end of the run).
"""
import os
import re

from .. import nn, peft, serialization
from . import options as check
from .options import UsageError

LORA_FORMAT = "minidl-lora"
LORA_FILE = "lora.npz"


def add_lora_options(parser):
    """The ``lora`` argument group."""
    group = parser.add_argument_group(
        "LoRA", "train low-rank adapters (and the head) instead of the weights")
    group.add_argument("--lora-rank", type=check.positive_int, default=None, metavar="R",
                       help="add LoRA adapters of rank R and train only them "
                            "and the classifier head")
    group.add_argument("--lora-alpha", type=check.positive_float, default=None, metavar="A",
                       help="scale the update by A / R (default 2 R)")
    group.add_argument("--lora-targets", nargs="+", default=None,
                       metavar="NAME",
                       help="layers to adapt: names (conv2 = every *.conv2), "
                            "patterns (layer3.*.conv2) or types (Conv2d, "
                            "Linear); default: every Linear and Conv2d but the "
                            "head")
    group.add_argument("--lora-dropout", type=check.fraction_below_one, default=0.0, metavar="P",
                       help="dropout on the adapters' input (default 0)")


def _alpha(args):
    alpha = args.lora_alpha if args.lora_alpha is not None else 2 * args.lora_rank
    return int(alpha) if float(alpha).is_integer() else alpha


def frozen_batchnorms(model):
    """BatchNorm layers whose parameters are all frozen (kept in eval)."""
    return [module for module in model.modules()
            if isinstance(module, nn.modules.batchnorm._BatchNorm)
            and not any(p.requires_grad for p in module.parameters())]


def apply_lora_from_args(model, args, frozen_norms):
    """Add the adapters the options ask for and report the trainable
    parameters. Returns the BatchNorm layers to keep in eval mode
    (`frozen_norms` unchanged without ``--lora-rank``). UsageError for
    options that do not fit together."""
    if args.lora_rank is None:
        given = [name for name, value in (("--lora-alpha", args.lora_alpha),
                                          ("--lora-targets", args.lora_targets))
                 if value is not None]
        if args.lora_dropout:
            given.append("--lora-dropout")
        if given:
            raise UsageError(f"{', '.join(given)} need --lora-rank")
        return frozen_norms
    if args.freeze != "none":
        raise UsageError(f"--lora-rank trains the adapters and the head only "
                         f"and freezes the rest; it does not combine with "
                         f"--freeze {args.freeze}")
    try:
        peft.add_lora(model, rank=args.lora_rank, alpha=_alpha(args),
                      dropout=args.lora_dropout, targets=args.lora_targets)
    except ValueError as error:  # targets that match no layer
        raise UsageError(f"--lora-targets: {error}") from None
    layers = peft.lora_layers(model)
    print(f"LoRA r={args.lora_rank}, lora_alpha={_alpha(args)} on "
          f"{len(layers)} layers: {peft.trainable_parameters_report(model)}",
          flush=True)
    return frozen_batchnorms(model)


def lora_config(model):
    """What it takes to rebuild the adapters: PEFT's LoraConfig fields."""
    layers = peft.lora_layers(model)
    first = layers[0][1]
    dropout = first.lora_dropout.p if isinstance(first.lora_dropout,
                                                 nn.Dropout) else 0.0
    adapters = {name for name, _ in layers}
    trained = sorted({name.rsplit(".", 1)[0] for name, param in
                      model.named_parameters() if param.requires_grad
                      and ".lora_" not in "." + name})
    trainable, total = peft.count_trainable(model)
    return {"r": first.r, "lora_alpha": first.lora_alpha,
            "lora_dropout": dropout,
            "target_modules": [name for name, _ in layers
                               if name.rpartition(".")[0] not in adapters],
            "modules_to_save": trained,
            "trainable_parameters": trainable, "all_parameters": total}


def save_lora_outputs(model, args, out, metadata):
    """With ``--lora-rank``: write ``OUT/lora.npz`` (the adapters and the
    trained head, with the LoRA configuration in its metadata), then merge
    the adapters into the model in place (for ``model.npz``). Returns the
    path written, or None without LoRA."""
    if args.lora_rank is None:
        return None
    path = os.path.join(out, LORA_FILE)
    config = lora_config(model)
    serialization.save(peft.lora_state_dict(model), path, metadata=dict(
        metadata, format=LORA_FORMAT, lora=config))
    peft.merge_lora(model)
    print(f"wrote {path} ({config['trainable_parameters']:,} parameters: "
          f"adapters on {len(config['target_modules'])} layers and "
          f"{', '.join(config['modules_to_save']) or 'no other module'}); "
          f"merged the adapters into the weights", flush=True)
    return path


def load_lora_file(model, path):
    """Add the adapters described in a ``lora.npz`` to `model` (its base
    weights must be those the adapters were trained on) and load them.
    Returns the model, ready to use or to merge (:func:`minidl.peft.merge_lora`)."""
    state, metadata = serialization.load(path, with_metadata=True)
    if (metadata or {}).get("format") != LORA_FORMAT:
        raise ValueError(f"{path} is not a LoRA adapter file (its metadata "
                         f"format is {(metadata or {}).get('format')!r}, "
                         f"expected {LORA_FORMAT!r})")
    config = metadata["lora"]
    peft.add_lora(model, rank=config["r"], alpha=config["lora_alpha"],
                  dropout=config["lora_dropout"],
                  targets=re.compile("|".join(
                      re.escape(name) for name in config["target_modules"])),
                  trainable=config["modules_to_save"])
    return peft.load_lora(model, state)
