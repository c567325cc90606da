"""Step 6: fine-tune a pretrained ResNet two ways, side by side.

    python examples/06_finetune.py --weights resnet20-12fca82f.th \\
        --data /path/to/cifar10-jpg/train [--classes 5 --per-class 50]
    python examples/06_finetune.py --synthetic

The two classic strategies, each one run of the fine-tuning command
(``minidl.finetune.main``, the same as ``python -m minidl.finetune``):

* ``--freeze backbone``: keep the pretrained features, train only a new
  classifier head (fast: no backward pass through the backbone);
* ``--freeze none``: train every layer, starting from the pretrained ones
  (slower; can adapt the features, can also overfit a small set).

The data is a small slice: the first --per-class images of the first
--classes classes of --data, copied into a folder of their own; a fifth is
held out for validation. The classifier gets a new head with that many
outputs, so it starts near chance. (With the CIFAR-10 ResNet-20 weights and
CIFAR-10's training images, the backbone has seen these very images: the
accuracies then say how well the features fit, not how they generalise.)

With --synthetic there are no real weights or images: stripe images are
generated (the class is the stripes' angle), a ResNet-20 is first trained
from scratch on one set of angles (the "pretraining"), and the two
strategies then fine-tune it on other angles.

Each run writes its usual outputs (log.jsonl, curves.png, report.txt,
model.npz) under --out; the table at the end compares them.
"""
import argparse
import contextlib
import json
import os
import shutil
import time

import numpy as np

from minidl import convert, finetune, models
from minidl.data import folder
from minidl.training import history
from minidl.training.freeze import apply_freeze, parse_freeze
from minidl.training.pretrained import TORCH_SUFFIXES

STRATEGIES = (("freeze backbone", "backbone"), ("fine-tune all", "none"))
# A new head alone can take larger steps than pretrained layers can.
LEARNING_RATES = {"backbone": "0.05", "none": "0.01"}
# --synthetic: pretraining images per angle (pretraining usually has more
# data than the task at hand).
PRETRAIN_PER_CLASS = 100


# -- the data: a small image folder -------------------------------------------
def copy_slice(source, destination, classes, per_class):
    """Copy the first `per_class` images of the first `classes` class folders
    of `source` into `destination` (same layout). Returns the class names."""
    names, _ = folder.find_classes(source)
    names = names[:classes]
    taken = {}
    for path, label, _, _ in folder.list_images(source, names):
        if taken.get(label, 0) < per_class:
            taken[label] = taken.get(label, 0) + 1
            target = os.path.join(destination, names[label])
            os.makedirs(target, exist_ok=True)
            shutil.copyfile(path, os.path.join(target, os.path.basename(path)))
    return names


def write_stripes(destination, angles, per_class, size, seed):
    """A folder of PNG stripe images, one class per angle (degrees), with
    random period, phase, colours and noise."""
    try:
        from PIL import Image
    except ImportError:
        raise SystemExit("--synthetic writes PNG files, which needs Pillow "
                         "(pip install pillow)") from None
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    for degrees in angles:
        target = os.path.join(destination, "{:03d}deg".format(degrees))
        os.makedirs(target, exist_ok=True)
        for i in range(per_class):
            angle = np.radians(degrees) + rng.uniform(-0.1, 0.1)
            along = cols * np.cos(angle) + rows * np.sin(angle)
            wave = np.sin(2 * np.pi * along / rng.uniform(4, 8)
                          + rng.uniform(0, 2 * np.pi))
            dark, light = rng.uniform(0.2, 0.5, 3), rng.uniform(0.5, 0.8, 3)
            image = dark + (wave[..., None] + 1) / 2 * (light - dark)
            image += rng.normal(0, 0.2, image.shape)
            pixels = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
            Image.fromarray(pixels).save(
                os.path.join(target, "{:04d}.png".format(i)))


# -- the runs -----------------------------------------------------------------
def run_finetune(arguments, log_path):
    """One run of the fine-tuning command, its console output going to
    `log_path`. Returns (exit status, seconds)."""
    start = time.perf_counter()
    with open(log_path, "w") as log, contextlib.redirect_stdout(log), \
            contextlib.redirect_stderr(log):
        status = finetune.main(arguments)
    return status, time.perf_counter() - start


def trainable_parameters(arch, num_classes, freeze):
    """How many parameters --freeze leaves to train."""
    model = models.get_model(arch, num_classes=num_classes)
    apply_freeze(model, parse_freeze(freeze))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def torch_is_installed():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def read_rows(path):
    """The epoch rows of a run's log.jsonl: epoch 0 (before training), 1,
    2, ... (the log's step rows are left out)."""
    return history.epoch_rows(history.read_rows(path))


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


def clear_outputs(out):
    """Remove what an earlier run of this example left in `out` (and only
    that), so that no stale log or checkpoint is read."""
    for name in ("data", "pretrain_data", "pretrain", "cache", "weights.npz") \
            + tuple("freeze-" + freeze for _, freeze in STRATEGIES):
        path = os.path.join(out, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", help="pretrained weights: a PyTorch "
                        "checkpoint (converted here; needs torch) or a "
                        "converted .npz")
    parser.add_argument("--data", help="an image folder (class sub-folders)")
    parser.add_argument("--synthetic", action="store_true",
                        help="generated images and a ResNet-20 pretrained here")
    parser.add_argument("--classes", type=int, default=None,
                        help="classes of the slice (default 5; synthetic: 3 "
                             "angles, at most 6)")
    parser.add_argument("--per-class", type=int, default=100,
                        help="images per class (default 100)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--size", type=int, default=32,
                        help="synthetic image size (default 32)")
    parser.add_argument("--out", default=os.path.join("runs", "examples", "06"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.synthetic == (args.data is not None):
        parser.error("give either --data PATH (with --weights) or --synthetic")
    if args.data is not None and args.weights is None:
        parser.error("--data needs --weights (the pretrained model to start from)")

    start = time.perf_counter()
    clear_outputs(args.out)
    data = os.path.join(args.out, "data")
    # Keep the decoded-image caches of these folders inside --out.
    os.environ["MINIDL_CACHE"] = os.path.join(args.out, "cache")
    common = ["--epochs", str(args.epochs), "--batch-size", "32",
              "--val-split", "0.2", "--num-workers", "0", "--seed",
              str(args.seed), "--schedule", "cosine"]

    if args.synthetic:
        classes = min(args.classes or 3, 6)
        # Pretraining on 6 angles, 30 degrees apart; fine-tuning on angles
        # in between them.
        write_stripes(os.path.join(args.out, "pretrain_data"), range(0, 180, 30),
                      PRETRAIN_PER_CLASS, args.size, args.seed)
        write_stripes(data, range(15, 180, 180 // classes)[:classes],
                      args.per_class, args.size, args.seed + 1)
        print("pretraining a ResNet-20 from scratch on {} images of 6 stripe "
              "angles ...".format(6 * PRETRAIN_PER_CLASS), flush=True)
        pretrain_out = os.path.join(args.out, "pretrain")
        os.makedirs(pretrain_out)
        status, seconds = run_finetune(
            ["--arch", "resnet20", "--data",
             os.path.join(args.out, "pretrain_data"), "--out", pretrain_out,
             "--lr", "0.05"] + common,
            os.path.join(pretrain_out, "console.txt"))
        if status != 0:
            raise SystemExit("pretraining failed; see " + pretrain_out)
        weights = os.path.join(pretrain_out, "model.npz")
        report = read_json(os.path.join(pretrain_out, "report.json"))
        print("pretrained in {:.1f} s: validation accuracy {:.1%}".format(
            seconds, report["validation"]["accuracy"]))
    else:
        names = copy_slice(args.data, data, args.classes or 5, args.per_class)
        print("data: the first {} images of {} ({}) copied to {}".format(
            args.per_class, len(names), ", ".join(names), data))
        weights = args.weights
        if weights.endswith(TORCH_SUFFIXES):
            if not torch_is_installed():
                print("torch is not installed: it is needed to read the PyTorch "
                      "checkpoint {}; pass a converted .npz (python -m "
                      "minidl.convert, where torch is installed) instead; "
                      "stopping here".format(weights))
                return 0
            # Convert once here, so that both runs read the same .npz.
            converted = os.path.join(args.out, "weights.npz")
            convert.from_torch(weights, converted)
            print("converted {} -> {}".format(weights, converted))
            weights = converted
    metadata = models.load_weights(weights)[1]
    arch, classes = metadata["architecture"], len(os.listdir(data))
    head = "a new head" if metadata["num_classes"] != classes \
        else "the loaded head"

    results = {}
    for title, freeze in STRATEGIES:
        out = os.path.join(args.out, "freeze-" + freeze)
        os.makedirs(out)
        arguments = ["--weights", weights, "--data", data, "--freeze", freeze,
                     "--out", out, "--lr", LEARNING_RATES[freeze]] + common
        print("\n$ python -m minidl.finetune " + " ".join(arguments), flush=True)
        status, seconds = run_finetune(arguments, os.path.join(out, "console.txt"))
        if status != 0:
            with open(os.path.join(out, "console.txt")) as console:
                print(console.read())
            raise SystemExit("the run with --freeze {} failed".format(freeze))
        rows = read_rows(os.path.join(out, "log.jsonl"))
        for row in rows:
            print("  epoch {}: validation accuracy {:.1%}{}".format(
                row["epoch"], row["val_accuracy"],
                " (the loaded weights, {})".format(head) if row["epoch"] == 0 else
                ", training loss {:.3f}, {:.1f} s".format(row["train_loss"],
                                                         row["train_seconds"])))
        results[title] = {
            "rows": rows, "seconds": seconds,
            "trainable": trainable_parameters(arch, classes, freeze),
            "best accuracy": max(row["val_accuracy"] for row in rows[1:]),
            "best loss": min(row["val_loss"] for row in rows[1:]),
        }

    print("\n{:30s} {:>16s} {:>16s}".format("", *[t for t, _ in STRATEGIES]))
    lines = [("trainable parameters", lambda r: "{:,}".format(r["trainable"])),
             ("before training: accuracy", lambda r: "{:.1%}".format(
                 r["rows"][0]["val_accuracy"])),
             ("                 loss", lambda r: "{:.3f}".format(
                 r["rows"][0]["val_loss"])),
             ("after training: best accuracy", lambda r: "{:.1%}".format(
                 r["best accuracy"])),
             ("                lowest loss", lambda r: "{:.3f}".format(
                 r["best loss"])),
             ("training seconds", lambda r: "{:.1f}".format(
                 sum(row["train_seconds"] for row in r["rows"][1:])))]
    for label, cell in lines:
        print("{:30s} {:>16s} {:>16s}".format(
            label, *[cell(results[t]) for t, _ in STRATEGIES]))

    # The validation loss, not the accuracy, decides: on a few dozen images
    # the accuracy moves in steps of several percent.
    before = results[STRATEGIES[0][0]]["rows"][0]
    improved = all(r["best loss"] < before["val_loss"] for r in results.values())
    print("{:.1f} s".format(time.perf_counter() - start))
    print("validation loss from {:.3f} ({}, accuracy {:.1%}): {}: {}".format(
        before["val_loss"], head, before["val_accuracy"], ", ".join(
            "{} -> {:.3f} ({:.1%})".format(title, results[title]["best loss"],
                                           results[title]["best accuracy"])
            for title, _ in STRATEGIES),
        "both improved, as expected" if improved else "NOT as expected"))
    return 0 if improved else 1


if __name__ == "__main__":
    raise SystemExit(main())
