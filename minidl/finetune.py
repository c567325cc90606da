"""Fine-tune a ResNet on a labelled image set: ``python -m minidl.finetune``.

The classic recipe, for example the CIFAR ResNet-20 of the shared folder on
CIFAR-10 stored as JPEG files::

    python -m minidl.finetune --arch resnet20 \\
        --weights resnet20-cifar10 --data cifar10-jpg/train \\
        --optimizer sgd --momentum 0.9 --nesterov --weight-decay 5e-4 \\
        --schedule onecycle --lr 0.02 --batch-size 128 --epochs 4 \\
        --crop-padding 4 --crop-padding-mode reflect --hflip --out runs/r20

What happens, and where each part lives (``minidl/training/``):

1. the weights: a converted ``.npz``, a PyTorch checkpoint converted on
   the fly, or a published name fetched once into a cache (``pretrained``);
2. the data: an ImageFolder root or a CIFAR-10 folder, split into training
   and validation parts with ``--seed``; augmentations for training only;
   inputs normalised as the weights' metadata says (``data``);
3. the model, with a new classifier when the dataset's class count differs
   from the checkpoint's, and the frozen parts (``freeze``);
4. the optimizer and the per-batch learning-rate schedule (``schedule``);
5. the validation accuracy of the loaded weights (epoch 0), then each
   epoch: training with a progress bar, validation, a row of ``log.jsonl``,
   ``curves.png``, and the checkpoints ``last.npz`` and ``best.npz``
   (``loop``, ``checkpoint``, ``history``, ``plotting``); early stopping
   with ``--patience``;
6. at the end: ``model.npz`` (the best epoch's weights, readable by
   ``minidl.models.load_pretrained``), and the accuracy, per-class
   accuracy and confusion matrix on the validation split (and on
   ``--test-data``), printed and written to ``report.json`` and
   ``report.txt``.

``--resume`` (alone: ``OUT/last.npz``) continues an interrupted run from
the end of its last completed epoch; options not given again are taken
from the checkpoint. On the CPU the final weights are bit for bit those of
an uninterrupted run.
"""
import argparse
import json
import math
import os
import sys

from . import models, parallel
from . import random as minidl_random
from .data import DataLoader
from .nn import functional as F
from .training import checkpoint as ckpt
from .training import data as data_setup
from .training import history as log_file
from .training.early_stopping import BestTracker
from .training.inference import build_model, choose_device, read_model_file
from .training.freeze import apply_freeze, parameter_groups, parse_freeze
from .training import lora as lora_setup
from .training.loop import FGSM, evaluate, train_one_epoch
from .training.metrics import format_report, report_dict
from .training.plotting import plot_history
from .training.pretrained import PUBLISHED, resolve_weights
from .training.schedule import (OPTIMIZERS, SCHEDULES, build_optimizer,
                                build_scheduler)

DEFAULT_OUT = os.path.join("runs", "finetune")
DEFAULT_LR = {"sgd": 0.01, "adamw": 1e-3}
DEFAULT_WEIGHT_DECAY = {"sgd": 5e-4, "adamw": 1e-2}
# Options whose change between a run and its resumption changes the result.
RESUME_SENSITIVE = ("arch", "weights", "data", "val_split", "seed", "image_size",
                    "crop_padding", "crop_padding_mode", "hflip", "rotation",
                    "color_jitter", "optimizer", "lr", "momentum", "nesterov",
                    "head_lr", "weight_decay", "label_smoothing", "epochs",
                    "batch_size", "schedule", "warmup_epochs", "step_epochs",
                    "gamma", "freeze", "grad_clip", "adv_eps",
                    "limit_train_batches")


class UsageError(ValueError):
    """A bad command line; main prints it without a traceback."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m minidl.finetune",
        description="Fine-tune a ResNet on an image folder or CIFAR-10.")
    model = parser.add_argument_group("model")
    model.add_argument("--arch", help="architecture: {} (default: the one "
                       "named by the weights)".format(
                           ", ".join(models.list_models())))
    model.add_argument("--weights", help="a converted .npz (or a checkpoint "
                       "or model.npz of an earlier run), a PyTorch checkpoint "
                       "(.th/.pt/.pth; needs torch) or a published name ({}); "
                       "none: random initialisation".format(
                           ", ".join(sorted(PUBLISHED))))
    model.add_argument("--freeze", default="none", help="none, backbone (train "
                       "the head only) or until:layerN (freeze the stem and "
                       "layer1..layerN)")

    data = parser.add_argument_group("data")
    data.add_argument("--data", help="an ImageFolder root (class sub-folders) "
                      "or a CIFAR-10 folder (cifar-10-batches-py)")
    data.add_argument("--test-data", help="a separate test set, reported at the "
                      "end (for a CIFAR-10 folder: its test batch)")
    data.add_argument("--val-split", type=float, default=0.1,
                      help="share of --data kept for validation (default 0.1)")
    data.add_argument("--image-size", type=int, default=None,
                      help="resize ImageFolder images to this square size")
    data.add_argument("--crop-padding", type=int, default=None, metavar="P",
                      help="random crop after padding P pixels on each side")
    data.add_argument("--crop-padding-mode", default="constant",
                      choices=("constant", "edge", "reflect", "symmetric"))
    data.add_argument("--hflip", action="store_true",
                      help="random horizontal flips")
    data.add_argument("--rotation", type=float, default=None, metavar="DEG",
                      help="random rotations in [-DEG, DEG]")
    data.add_argument("--color-jitter", type=float, nargs=3, default=None,
                      metavar=("B", "C", "S"),
                      help="random brightness, contrast, saturation")
    data.add_argument("--num-workers", type=int, default=2,
                      help="threads preparing batches (default 2)")

    optim = parser.add_argument_group("optimisation")
    optim.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS)
    optim.add_argument("--lr", type=float, default=None,
                       help="learning rate (default 0.01 for sgd, 1e-3 adamw)")
    optim.add_argument("--head-lr", type=float, default=None,
                       help="learning rate of the classifier (default --lr)")
    optim.add_argument("--momentum", type=float, default=0.9,
                       help="SGD momentum (default 0.9; --schedule onecycle "
                            "cycles it between 0.95 and 0.85 instead)")
    optim.add_argument("--nesterov", action="store_true",
                       help="Nesterov momentum (SGD)")
    optim.add_argument("--weight-decay", type=float, default=None,
                       help="default 5e-4 for sgd, 1e-2 for adamw")
    optim.add_argument("--label-smoothing", type=float, default=0.0,
                       help="in [0, 1) (default 0)")
    optim.add_argument("--epochs", type=int, default=5)
    optim.add_argument("--batch-size", type=int, default=128)
    optim.add_argument("--eval-batch-size", type=int, default=256)
    optim.add_argument("--schedule", default="cosine", choices=SCHEDULES,
                       help="per-batch learning-rate schedule (default cosine)")
    optim.add_argument("--warmup-epochs", type=float, default=0.0,
                       help="linear warm-up from lr/10 over this many epochs "
                            "(onecycle: the length of its rising phase)")
    optim.add_argument("--step-epochs", type=int, default=None,
                       help="--schedule step: epochs between decays "
                            "(default epochs // 3)")
    optim.add_argument("--gamma", type=float, default=0.1,
                       help="--schedule step: decay factor (default 0.1)")
    optim.add_argument("--grad-clip", type=float, default=None,
                       help="clip the gradients' total norm to this value")
    optim.add_argument("--adv-eps", type=float, default=None,
                       help="adversarial training: FGSM examples with this "
                            "step in pixel units of [0, 1] (e.g. 0.031), "
                            "mixed half and half with clean ones")
    optim.add_argument("--patience", type=int, default=None,
                       help="stop after this many epochs without a better "
                            "validation accuracy")

    run = parser.add_argument_group("run")
    run.add_argument("--out", default=None,
                     help="output folder (default {})".format(DEFAULT_OUT))
    run.add_argument("--resume", nargs="?", const="auto", default=None,
                     metavar="PATH", help="continue from a checkpoint (alone: "
                     "OUT/last.npz)")
    run.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--threads", type=int, default=None,
                     help="CPU threads for minidl's kernels (see "
                          "minidl.parallel; default: MINIDL_NUM_THREADS, else "
                          "all cores); 1 can be faster on a busy machine")
    run.add_argument("--limit-train-batches", type=int, default=None,
                     metavar="N", help="train on the first N batches of each "
                     "epoch only (smoke runs)")
    lora_setup.add_lora_options(parser)
    return parser


# -- the command line ---------------------------------------------------------
def resume_path(args):
    if args.resume == "auto":
        return os.path.join(args.out or DEFAULT_OUT, "last.npz")
    return args.resume


def parse_arguments(parser, argv):
    """Parse `argv`; with --resume, options not given again come from the
    checkpoint's saved command line. Returns (args, resumed checkpoint
    (state, metadata) or None)."""
    args = parser.parse_args(argv)
    resumed = None
    if args.resume:
        path = resume_path(args)
        resumed = ckpt.load_checkpoint(path)
        saved = dict(resumed[1].get("args") or {})
        for key in ("resume", "out", "device", "num_workers"):
            saved.pop(key, None)
        parser.set_defaults(**saved)
        args = parser.parse_args(argv)
        if args.out is None:
            args.out = os.path.dirname(os.path.abspath(path))
        changed = ["--{} {!r} -> {!r}".format(key.replace("_", "-"), saved[key],
                                             getattr(args, key))
                   for key in RESUME_SENSITIVE
                   if key in saved and _plain(getattr(args, key)) != saved[key]]
        if changed:
            print("warning: resuming with changed options (the result will "
                  "differ from an uninterrupted run): " + "; ".join(changed),
                  file=sys.stderr)
    if args.out is None:
        args.out = DEFAULT_OUT
    if args.lr is None:
        args.lr = DEFAULT_LR[args.optimizer]
    if args.weight_decay is None:
        args.weight_decay = DEFAULT_WEIGHT_DECAY[args.optimizer]
    check_arguments(args)
    return args, resumed


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def check_arguments(args):
    """Raise UsageError for values argparse cannot check by itself."""
    if args.data is None:
        raise UsageError("--data is required (an image folder or a CIFAR-10 "
                         "folder)")
    if args.arch is not None and args.arch not in models.list_models():
        raise UsageError("--arch {!r}: unknown architecture; available: {}"
                         .format(args.arch, ", ".join(models.list_models())))
    if args.arch is None and args.weights is None:
        raise UsageError("give --arch, or --weights whose metadata names one")
    parse_freeze(args.freeze)
    must_be_positive = [
        ("lr", args.lr), ("epochs", args.epochs), ("batch-size", args.batch_size),
        ("eval-batch-size", args.eval_batch_size), ("head-lr", args.head_lr),
        ("grad-clip", args.grad_clip), ("adv-eps", args.adv_eps),
        ("patience", args.patience), ("image-size", args.image_size),
        ("limit-train-batches", args.limit_train_batches),
        ("threads", args.threads), ("step-epochs", args.step_epochs)]
    for name, value in must_be_positive:
        if value is not None and not value > 0:  # None: the option is unused
            raise UsageError("--{} must be positive, got {}".format(name, value))
    if not 0 < args.val_split < 1:
        raise UsageError("--val-split must be in (0, 1), got {}".format(
            args.val_split))
    if not 0 <= args.label_smoothing < 1:
        raise UsageError("--label-smoothing must be in [0, 1), got {}".format(
            args.label_smoothing))
    for name in ("weight_decay", "momentum", "num_workers"):
        if getattr(args, name) < 0:
            raise UsageError("--{} must be >= 0, got {}".format(
                name.replace("_", "-"), getattr(args, name)))
    if args.crop_padding is not None and args.crop_padding < 0:
        raise UsageError("--crop-padding must be >= 0, got {}".format(
            args.crop_padding))
    if args.color_jitter is not None and min(args.color_jitter) < 0:
        raise UsageError("--color-jitter values must be >= 0, got {}".format(
            args.color_jitter))
    if args.nesterov and args.optimizer != "sgd":
        raise UsageError("--nesterov applies to --optimizer sgd only")


# -- setting up -----------------------------------------------------------------
class Setup:
    """Everything a run is made of, built from the arguments: filled in by
    set_up and prepare."""


def load_starting_model(args, classes, resumed):
    """(model, input mean, input std) for the run: the checkpoint's model
    when resuming, else the --weights (or a random one), with a new head
    when the class counts differ."""
    if resumed is not None:
        metadata = resumed[1]
        if args.arch != metadata["architecture"]:
            raise UsageError("--resume: the checkpoint holds a {}, not a {}"
                             .format(metadata["architecture"], args.arch))
        if list(metadata["classes"]) != list(classes):
            raise UsageError("--resume: the checkpoint was trained on the "
                             "classes {}, --data has {}".format(
                                 metadata["classes"], classes))
        model = models.get_model(metadata["architecture"],
                                 num_classes=len(classes))
        return model, metadata["input_mean"], metadata["input_std"]
    weights_metadata = {}
    if args.weights is not None:
        path = resolve_weights(args.weights, os.path.join(args.out, "converted"),
                               architecture=args.arch)
        state, weights_metadata = read_model_file(path)
        stored = weights_metadata.get("architecture")
        if args.arch is not None and stored is not None and stored != args.arch:
            raise UsageError("--arch {} but --weights {} holds a {}".format(
                args.arch, args.weights, stored))
        args.arch = args.arch or stored
        if args.arch is None:
            raise UsageError("--weights {} does not name its architecture; "
                             "give --arch".format(args.weights))
        model = build_model(args.arch, state, path)
        print("loaded {} weights from {}".format(args.arch, path))
        if model.num_classes != len(classes):
            print("new {}-class head (the weights have {} classes)".format(
                len(classes), model.num_classes))
            models.replace_head(model, len(classes))
    else:
        print("no --weights: {} starts from a random initialisation".format(
            args.arch))
        model = models.get_model(args.arch, num_classes=len(classes))
    mean = weights_metadata.get("input_mean") or data_setup.IMAGENET_MEAN
    std = weights_metadata.get("input_std") or data_setup.IMAGENET_STD
    return model, list(mean), list(std)


def set_up(args, resumed):
    """Build the data, model, optimizer, scheduler and loaders."""
    s = Setup()
    s.device = choose_device(args.device)
    if args.threads is not None:
        parallel.set_num_threads(args.threads)
    minidl_random.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    freeze_rule = parse_freeze(args.freeze)

    dataset = data_setup.open_dataset(args.data, train=True,
                                      image_size=args.image_size)
    s.classes = list(dataset.classes)
    s.train_set, s.val_set = data_setup.split_train_val(dataset, args.val_split,
                                                        args.seed)
    s.test_set = None
    if args.test_data:
        s.test_set = data_setup.open_dataset(args.test_data, train=False,
                                             image_size=args.image_size,
                                             option="--test-data")
        if list(s.test_set.classes) != s.classes:
            raise UsageError("--test-data has the classes {}, --data has {}"
                             .format(list(s.test_set.classes), s.classes))

    s.model, s.mean, s.std = load_starting_model(args, s.classes, resumed)
    s.model.to(s.device)
    s.frozen_norms = apply_freeze(s.model, freeze_rule)
    s.frozen_norms = lora_setup.apply_lora_from_args(s.model, args,
                                                     s.frozen_norms)

    s.image_size = data_setup.image_shape(s.train_set)
    train_transform = data_setup.build_train_transform(
        s.mean, s.std, s.image_size, args.crop_padding, args.crop_padding_mode,
        args.hflip, args.rotation, args.color_jitter)
    s.eval_transform = data_setup.build_eval_transform(s.mean, s.std)
    s.train_loader = DataLoader(s.train_set, batch_size=args.batch_size,
                                shuffle=True, num_workers=args.num_workers,
                                seed=args.seed, transform=train_transform,
                                device=s.device)
    s.val_loader = data_setup.eval_loader(s.val_set, s.eval_transform,
                                          args.eval_batch_size, s.device,
                                          args.num_workers)
    s.steps_per_epoch = len(s.train_loader)
    if args.limit_train_batches:
        s.steps_per_epoch = min(s.steps_per_epoch, args.limit_train_batches)

    groups = parameter_groups(s.model, args.lr, args.head_lr, args.weight_decay)
    s.optimizer = build_optimizer(args.optimizer, groups, args.lr, args.momentum,
                                  args.nesterov, args.weight_decay)
    s.scheduler = build_scheduler(args.schedule, s.optimizer, args.epochs,
                                  s.steps_per_epoch, args.warmup_epochs,
                                  args.step_epochs, args.gamma)
    s.adversary = FGSM(args.adv_eps, s.mean, s.std) if args.adv_eps else None
    s.tracker = BestTracker(args.patience)
    s.metadata = {
        "architecture": args.arch,
        "num_classes": len(s.classes), "classes": s.classes,
        "input_mean": list(s.mean), "input_std": list(s.std),
        "image_size": list(s.image_size), "input_size": s.image_size[0],
        "args": {key: _plain(value) for key, value in vars(args).items()
                 if key != "command_line"},
    }
    return s


# -- the run ------------------------------------------------------------------
def _percent(value):
    return "{:.2%}".format(value)


def log_epoch(s, paths, row):
    """Record a history row: the log file, the plot."""
    s.history.append(row)
    log_file.append_row(paths["log"], row)
    plot_history(s.history, paths["plot"])


def evaluate_before(s, paths):
    """Epoch 0: the loaded weights on the validation split."""
    result = evaluate(s.model, s.val_loader, len(s.classes), prefix="val 0")
    print("before training: validation accuracy {} (loss {:.4f}, {} images)"
          .format(_percent(result.accuracy), result.loss,
                  int(result.confusion.sum())), flush=True)
    log_epoch(s, paths, {
        "epoch": 0, "lr": s.optimizer.param_groups[0]["lr"],
        "train_loss": None, "train_accuracy": None,
        "val_loss": result.loss, "val_accuracy": result.accuracy,
        "epoch_seconds": result.seconds, "train_seconds": 0.0,
        "val_seconds": result.seconds, "images_per_second": None})


def train(args, s, paths, start_epoch):
    """Epochs start_epoch + 1 .. args.epochs; stops early on --patience."""
    def loss_fn(logits, labels):
        return F.cross_entropy(logits, labels,
                               label_smoothing=args.label_smoothing)

    for epoch in range(start_epoch + 1, args.epochs + 1):
        s.current_epoch = epoch
        trained = train_one_epoch(
            s.model, s.train_loader, s.optimizer, loss_fn, s.scheduler,
            s.frozen_norms, args.grad_clip, s.adversary,
            max_batches=s.steps_per_epoch,
            prefix="epoch {}/{}".format(epoch, args.epochs))
        if not math.isfinite(trained.loss):
            raise FloatingPointError(
                "training diverged: the loss of epoch {} is {}; lower --lr (or "
                "use --grad-clip); {} holds the last good epoch".format(
                    epoch, trained.loss, paths["last"]))
        validated = evaluate(s.model, s.val_loader, len(s.classes),
                             prefix="val {}".format(epoch))
        is_best = s.tracker.update(epoch, validated)
        log_epoch(s, paths, {
            "epoch": epoch, "lr": s.optimizer.param_groups[0]["lr"],
            "train_loss": trained.loss, "train_accuracy": trained.accuracy,
            "val_loss": validated.loss, "val_accuracy": validated.accuracy,
            "epoch_seconds": trained.seconds + validated.seconds,
            "train_seconds": trained.seconds, "val_seconds": validated.seconds,
            "images_per_second": trained.images_per_second})
        for path in [paths["last"]] + ([paths["best"]] if is_best else []):
            ckpt.save_checkpoint(path, epoch, s.model, s.optimizer, s.scheduler,
                                 s.train_loader, s.history, s.tracker,
                                 s.metadata)
        print("epoch {}/{}: train loss {:.4f} acc {} | val loss {:.4f} acc {} | "
              "{:.1f} s, {:.0f} img/s{}".format(
                  epoch, args.epochs, trained.loss, _percent(trained.accuracy),
                  validated.loss, _percent(validated.accuracy),
                  trained.seconds + validated.seconds,
                  trained.images_per_second, "  (best)" if is_best else ""),
              flush=True)
        if s.tracker.should_stop:
            print("early stopping: no better validation accuracy for {} epochs"
                  .format(s.tracker.epochs_without_improvement))
            break


def final_report(args, s, paths):
    """model.npz from the best epoch, and the reports."""
    best_state, _ = ckpt.load_checkpoint(paths["best"])
    s.model.load_state_dict(best_state["model"])
    lora_setup.save_lora_outputs(s.model, args, args.out, s.metadata)
    ckpt.save_weights(paths["model"], s.model, dict(
        s.metadata, best_epoch=s.tracker.best_epoch,
        val_accuracy=s.tracker.best_accuracy))
    before = next((row for row in s.history if row["epoch"] == 0), None)
    trained_rows = [row for row in s.history if row["epoch"] > 0]
    report = {
        "best_epoch": s.tracker.best_epoch,
        "epochs_run": len(trained_rows),
        "before_training": None if before is None else {
            "val_accuracy": before["val_accuracy"],
            "val_loss": before["val_loss"]},
        "validation": dict(report_dict(s.tracker.best_confusion, s.classes),
                           loss=s.tracker.best_loss),
        "mean_epoch_seconds": _mean(row["epoch_seconds"] for row in trained_rows),
        "mean_images_per_second": _mean(row["images_per_second"]
                                        for row in trained_rows),
        "command": args.command_line,
    }
    text = ["validation split, best epoch {} of {}: accuracy {}".format(
        s.tracker.best_epoch, len(trained_rows),
        _percent(report["validation"]["accuracy"]))]
    if before is not None:
        text[0] += " (before training: {})".format(
            _percent(before["val_accuracy"]))
    text += [format_report(s.tracker.best_confusion, s.classes)]
    if s.test_set is not None:
        loader = data_setup.eval_loader(s.test_set, s.eval_transform,
                                        args.eval_batch_size, s.device,
                                        args.num_workers)
        tested = evaluate(s.model, loader, len(s.classes), prefix="test")
        report["test"] = dict(report_dict(tested.confusion, s.classes),
                              loss=tested.loss)
        text += ["", "test set ({}): accuracy {}".format(
            args.test_data, _percent(tested.accuracy)),
            format_report(tested.confusion, s.classes)]
    text = "\n".join(text) + "\n"
    with open(paths["report_json"], "w") as handle:
        json.dump(report, handle, indent=1)
    with open(paths["report_txt"], "w") as handle:
        handle.write(text)
    print(text, end="")
    print("wrote {}".format(", ".join(
        os.path.basename(paths[k]) for k in ("best", "last", "model", "log",
                                             "plot", "report_json",
                                             "report_txt"))))
    return report


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def output_paths(out):
    names = {"best": "best.npz", "last": "last.npz", "model": "model.npz",
             "log": "log.jsonl", "plot": "curves.png",
             "report_json": "report.json", "report_txt": "report.txt"}
    return {key: os.path.join(out, name) for key, name in names.items()}


def prepare(args, resumed):
    """Set up the run and, when resuming, restore the checkpoint's state."""
    s = set_up(args, resumed)
    s.paths = output_paths(args.out)
    s.history = []
    s.current_epoch = 0
    s.start_epoch = 0
    if resumed is not None:
        s.start_epoch, s.history = ckpt.restore_checkpoint(
            resumed[0], s.model, s.optimizer, s.scheduler, s.train_loader,
            s.tracker)
    return s


def run(args, s):
    """Evaluate before training (unless resuming), train, report. Returns
    the report dict."""
    paths = s.paths
    if s.start_epoch > 0:
        log_file.write_rows(paths["log"], s.history)
        print("resuming after epoch {} (best so far: epoch {}, {})".format(
            s.start_epoch, s.tracker.best_epoch,
            _percent(s.tracker.best_accuracy)), flush=True)
    else:
        log_file.write_rows(paths["log"], [])
        print("{} training / {} validation images of {}x{}, {} classes; {} "
              "batches of {} per epoch on {}".format(
                  len(s.train_set), len(s.val_set), s.image_size[0],
                  s.image_size[1], len(s.classes), s.steps_per_epoch,
                  args.batch_size, s.device), flush=True)
        evaluate_before(s, paths)
    try:
        train(args, s, paths, s.start_epoch)
    except KeyboardInterrupt:
        done = s.current_epoch - 1 if s.current_epoch else s.start_epoch
        raise Interrupted("interrupted during epoch {}; {} holds epoch {}. "
                          "Continue with: --resume {}".format(
                              s.current_epoch, paths["last"], done,
                              paths["last"])) from None
    return final_report(args, s, paths)


class Interrupted(Exception):
    """Ctrl-C during training (the message says how to resume)."""


def main(argv=None):
    """Run the command. Returns the exit status: 0, 1 when the arguments,
    files or weights are unusable or training diverged (the message says
    why), 130 when interrupted. Other errors during training keep their
    traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args, resumed = parse_arguments(parser, argv)
        args.command_line = "python -m minidl.finetune " + " ".join(argv)
        state = prepare(args, resumed)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print("error: {}".format(error), file=sys.stderr)
        return 1
    try:
        run(args, state)
    except Interrupted as error:
        print("\n{}".format(error), file=sys.stderr)
        return 130
    except FloatingPointError as error:  # a diverged run
        print("error: {}".format(error), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
