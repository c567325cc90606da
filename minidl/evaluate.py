"""Accuracy of a trained model on a labelled image set:
``python -m minidl.evaluate CHECKPOINT --data DIR``.

CHECKPOINT is a fine-tuning checkpoint (``last.npz``), the ``best.npz`` or
``model.npz`` of a run, or a converted weights file. DIR is an ImageFolder
root or a CIFAR-10 folder. Which images:

* ``--subset all`` (default): the whole folder (for CIFAR-10: its test
  batch);
* ``--subset val`` / ``train``: one part of the split the fine-tuning
  command makes with the same ``--val-split`` and ``--seed`` (for CIFAR-10:
  of its training batches), e.g. to check a run's validation accuracy.

Dataset classes are matched to the model's by name (when the model knows
its class names). Prints the accuracy, the per-class accuracy and the
confusion matrix; ``--out FILE.json`` also writes them.
"""
import argparse
import json
import sys

import numpy as np

from . import parallel
from .data import ImageArrayDataset
from .training import data as data_setup
from .training.inference import choose_device, label_mapping, load_model
from .training.loop import evaluate
from .training.metrics import format_report, report_dict

# Confusion matrices with more classes are written to --out only.
MAX_PRINTED_CLASSES = 30


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m minidl.evaluate",
        description="Accuracy, per-class accuracy and confusion matrix of a "
                    "checkpoint on a dataset.")
    parser.add_argument("checkpoint", help="best.npz / last.npz / model.npz "
                        "or a converted weights file")
    parser.add_argument("--data", required=True,
                        help="an ImageFolder root or a CIFAR-10 folder")
    parser.add_argument("--subset", default="all", choices=("all", "val", "train"))
    parser.add_argument("--val-split", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=None,
                        help="resize ImageFolder images to this square size "
                             "(default: keep their size)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads (see minidl.finetune)")
    parser.add_argument("--out", default=None, help="write the report as JSON")
    return parser


def load_dataset(args, model_classes):
    """The images to evaluate, with targets mapped to the model's outputs."""
    train = args.subset != "all"
    dataset = data_setup.open_dataset(args.data, train=train,
                                      image_size=args.image_size)
    mapping = label_mapping(list(dataset.classes), model_classes)
    mapped = ImageArrayDataset(dataset.images, mapping[dataset.targets],
                               classes=model_classes)
    if args.subset == "all":
        return mapped
    train_part, val_part = data_setup.split_train_val(mapped, args.val_split,
                                                      args.seed)
    return val_part if args.subset == "val" else train_part


def evaluate_checkpoint(args):
    """The report dict (see ``minidl.training.metrics.report_dict``) of the
    checkpoint on the chosen images, with ``loss`` and ``checkpoint``."""
    if args.threads is not None:
        parallel.set_num_threads(args.threads)
    device = choose_device(args.device)
    loaded = load_model(args.checkpoint, device)
    dataset = load_dataset(args, loaded.classes)
    size = data_setup.image_shape(dataset)
    if loaded.image_size is not None and size != loaded.image_size:
        print("note: the images are {}x{}, the model was trained on {}x{} "
              "(--image-size resizes them)".format(size[0], size[1],
                                                    *loaded.image_size),
              file=sys.stderr)
    loader = data_setup.eval_loader(
        dataset, data_setup.build_eval_transform(loaded.mean, loaded.std),
        args.batch_size, device, args.num_workers)
    result = evaluate(loaded.model, loader, len(loaded.classes))
    report = report_dict(result.confusion, loaded.classes)
    report.update(loss=result.loss, checkpoint=args.checkpoint,
                  data=args.data, subset=args.subset)
    return report


def format_text(report):
    lines = ["{} on {} ({}, {} images): accuracy {:.2%}, loss {:.4f}".format(
        report["checkpoint"], report["data"], report["subset"],
        report["samples"], report["accuracy"], report["loss"])]
    counts = np.array(report["confusion_matrix"])
    if len(report["classes"]) <= MAX_PRINTED_CLASSES:
        lines.append(format_report(counts, report["classes"]))
    else:
        lines.append("({} classes: the confusion matrix is in --out)".format(
            len(report["classes"])))
    return "\n".join(lines)


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        report = evaluate_checkpoint(args)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print("error: {}".format(error), file=sys.stderr)
        return 1
    print(format_text(report))
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(report, handle, indent=1)
        print("wrote {}".format(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
