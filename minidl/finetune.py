"""Fine-tune a ResNet on a labelled image set: ``python -m minidl.finetune``.

The classic recipe, for example the CIFAR ResNet-20 of the shared folder on
CIFAR-10 stored as JPEG files::

    python -m minidl.finetune --arch resnet20 \\
        --weights resnet20-cifar10 --data cifar10-jpg/train \\
        --optimizer sgd --momentum 0.9 --nesterov --weight-decay 5e-4 \\
        --schedule onecycle --lr 0.02 --batch-size 128 --epochs 4 \\
        --crop-padding 4 --crop-padding-mode reflect --hflip --out runs/r20

The file reads top to bottom, as the command runs (the parts live in
``minidl/training/``):

1. the command line: option values are checked while parsing
   (``options``); with ``--resume`` the options not given again come from
   the checkpoint; :func:`resolve_options` fills in the defaults that
   depend on other options, in a new namespace (the parsed one is never
   changed);
2. the output folder: locked, cleaned of a killed save's temporary files,
   and refused when it holds an earlier run (``run_files``);
3. the set-up (:func:`set_up`, a :class:`Run`): the data (``data``), the
   model (``starting_model``, ``freeze``), the optimizer and the per-batch
   learning-rate schedule (``schedule``);
4. the run (:func:`run`): the validation of the loaded weights (epoch 0,
   which competes for "best"), then each epoch: training with a progress
   bar (``loop``), validation, rows of ``log.jsonl``, ``curves.png``, and
   the checkpoint ``last.npz`` with ``best.npz`` (``checkpoint``); early
   stopping with ``--patience``; a checkpoint between two steps every
   ``--checkpoint-every`` steps and on Ctrl-C or SIGTERM (``signals``); a
   non-finite loss or weight stops the run (nothing diverged is saved);
5. at the end: ``model.npz`` (the best weights, readable by
   ``minidl.models.load_pretrained``), and the accuracy, per-class
   accuracy and confusion matrix on the validation split (and on
   ``--test-data``), printed and written to ``report.json`` and
   ``report.txt``.

``--resume`` (alone: ``OUT/last.npz``) continues an interrupted run from
the step where its last checkpoint was taken. On the CPU the final weights
are bit for bit those of an uninterrupted run.
"""
import argparse
import errno
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field

from . import models, parallel
from . import random as minidl_random
from .convert import ConversionError
from .data import DataLoader
from .nn import functional as F
from .serialization import load_metadata
from .training import checkpoint as ckpt
from .training import data as data_setup
from .training.defaults import add_data_arguments, parse_with_sample_defaults
from .training import history as log_file
from .training import options as check
from .training import run_files
from .training.early_stopping import BestTracker
from .training.freeze import apply_freeze, parameter_groups, parse_freeze
from .training import lora as lora_setup
from .training.inference import choose_device
from .training.loop import (FGSM, EpochProgress, all_finite, evaluate,
                            train_one_epoch)
from .training.metrics import format_report, report_dict
from .training.options import UsageError
from .training.plotting import plot_history
from .training.pretrained import PUBLISHED, WeightsError
from .training.run_files import RunFolder, RunFolderError
from .training.schedule import (OPTIMIZERS, SCHEDULES, build_optimizer,
                                build_scheduler)
from .training.signals import NAMES, StopRequests
from .training.starting_model import load_starting_model
from .training.tensorboard import TensorBoardLog, summary_writer_class

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
                    "limit_train_batches", "lora_rank", "lora_alpha",
                    "lora_targets", "lora_dropout")
# Options that are not part of what a run computes: never taken from the
# checkpoint when resuming.
PER_INVOCATION = ("resume", "out", "device", "num_workers", "overwrite",
                  "tensorboard", "threads", "command_line")
# Schedules that end with the planned epochs: a resumed run cannot go on.
FIXED_LENGTH_SCHEDULES = ("cosine", "onecycle")
EXTENDING = ("--resume with a larger --epochs: a constant or step schedule "
             "goes on as it was (same steps, decays every --step-epochs); a "
             "cosine or onecycle schedule ends at the planned last batch, so "
             "it cannot be extended (start a new run from OUT/model.npz)")
# The errors that are the user's (bad options, files, weights or data):
# printed in one line. Anything else is a bug and keeps its traceback.
USER_ERRORS = (UsageError, RunFolderError, WeightsError, ConversionError)
WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS,
                errno.EPERM)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m minidl.finetune",
        description="Fine-tune a ResNet on an image folder or CIFAR-10.")
    model = parser.add_argument_group("model")
    model.add_argument("--arch", choices=models.list_models(), metavar="ARCH",
                       help="architecture: {} (default: the one "
                       "named by the weights)".format(
                           ", ".join(models.list_models())))
    model.add_argument("--weights", help="a converted .npz (or a checkpoint "
                       "or model.npz of an earlier run), a PyTorch checkpoint "
                       "(.th/.pt/.pth; needs torch) or a published name ({}); "
                       "none: random initialisation".format(
                           ", ".join(sorted(PUBLISHED))))
    model.add_argument("--freeze", default="none", type=check.freeze_rule,
                       help="none, backbone (train the head only) or "
                            "until:layerN (freeze the stem and layer1..layerN)")

    data = parser.add_argument_group("data")
    data.add_argument("--data", help="an ImageFolder root (class sub-folders), "
                      "a CIFAR-10 folder (cifar-10-batches-py), or cifar10 (the "
                      "cached copy; see --download). Neither --data nor "
                      "--weights: the embedded sample and weights")
    data.add_argument("--test-data", help="a separate test set, reported at the "
                      "end (for a CIFAR-10 folder: its test batch)")
    data.add_argument("--val-split", type=check.open_fraction, default=0.1,
                      help="share of --data kept for validation (default 0.1)")
    data.add_argument("--image-size", type=check.positive_int, default=None,
                      help="resize ImageFolder images to this square size")
    data.add_argument("--crop-padding", type=check.non_negative_int,
                      default=None, metavar="P",
                      help="random crop after padding P pixels on each side")
    data.add_argument("--crop-padding-mode", default="constant",
                      choices=("constant", "edge", "reflect", "symmetric"))
    data.add_argument("--hflip", action="store_true",
                      help="random horizontal flips")
    data.add_argument("--rotation", type=check.degrees,
                      default=None, metavar="DEG",
                      help="random rotations in [-DEG, DEG]")
    data.add_argument("--color-jitter", type=check.non_negative_float,
                      nargs=3, default=None,
                      metavar=("B", "C", "S"),
                      help="random brightness, contrast, saturation")
    data.add_argument("--num-workers", type=check.non_negative_int,
                      default=None,
                      help="threads preparing batches (default: none on the "
                      "CPU, where a batch costs ~1%% of a step to make; 2 on "
                      "a GPU)")
    add_data_arguments(data)

    optim = parser.add_argument_group("optimisation")
    optim.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS)
    optim.add_argument("--lr", type=check.positive_float, default=None,
                       help="learning rate (default 0.01 for sgd, 1e-3 adamw)")
    optim.add_argument("--head-lr", type=check.positive_float, default=None,
                       help="learning rate of the classifier (default --lr)")
    optim.add_argument("--momentum", type=check.momentum, default=0.9,
                       help="SGD momentum (default 0.9; --schedule onecycle "
                            "cycles it between 0.95 and 0.85 instead)")
    optim.add_argument("--nesterov", action="store_true",
                       help="Nesterov momentum (SGD)")
    optim.add_argument("--weight-decay", type=check.non_negative_float,
                       default=None,
                       help="default 5e-4 for sgd, 1e-2 for adamw")
    optim.add_argument("--label-smoothing", type=check.fraction_below_one,
                       default=0.0,
                       help="in [0, 1) (default 0)")
    optim.add_argument("--epochs", type=check.positive_int, default=5,
                       help="default 5; " + EXTENDING)
    optim.add_argument("--batch-size", type=check.positive_int, default=128)
    optim.add_argument("--eval-batch-size", type=check.positive_int,
                       default=256)
    optim.add_argument("--schedule", default="cosine", choices=SCHEDULES,
                       help="per-batch learning-rate schedule (default cosine)")
    optim.add_argument("--warmup-epochs", type=check.non_negative_float,
                       default=0.0,
                       help="linear warm-up from lr/10 over this many epochs "
                            "(onecycle: the length of its rising phase)")
    optim.add_argument("--step-epochs", type=check.positive_int, default=None,
                       help="--schedule step: epochs between decays "
                            "(default epochs // 3)")
    optim.add_argument("--gamma", type=check.positive_float, default=0.1,
                       help="--schedule step: decay factor (default 0.1)")
    optim.add_argument("--grad-clip", type=check.positive_float, default=None,
                       help="clip the gradients' total norm to this value")
    optim.add_argument("--adv-eps", type=check.positive_float, default=None,
                       help="adversarial training: FGSM examples with this "
                            "step in pixel units of [0, 1] (e.g. 0.031), "
                            "mixed half and half with clean ones")
    optim.add_argument("--patience", type=check.positive_int, default=None,
                       help="stop after this many epochs without a better "
                            "validation accuracy")

    run = parser.add_argument_group("run")
    run.add_argument("--out", default=None,
                     help=f"output folder (default {DEFAULT_OUT})")
    run.add_argument("--resume", nargs="?", const="auto", default=None,
                     metavar="PATH", help="continue from a checkpoint (alone: "
                     "OUT/last.npz), from the step it was taken at")
    run.add_argument("--overwrite", action="store_true",
                     help="start afresh in an --out that holds an earlier run, "
                          "deleting its files")
    run.add_argument("--checkpoint-every", type=check.positive_int,
                     default=None, metavar="N",
                     help="also save last.npz every N training steps (long "
                          "epochs); Ctrl-C and SIGTERM always save one")
    run.add_argument("--log-every", type=check.positive_int, default=10,
                     metavar="N", help="a step row in log.jsonl every N steps "
                     "(default 10)")
    run.add_argument("--tensorboard", default=None, metavar="DIR",
                     help="also write TensorBoard event files to DIR (needs "
                          "tensorboardX: pip install minidl[tensorboard])")
    run.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    run.add_argument("--seed", type=check.non_negative_int, default=0)
    run.add_argument("--threads", type=check.positive_int, default=None,
                     help="CPU threads for minidl's kernels (see "
                          "minidl.parallel; default: MINIDL_NUM_THREADS, else "
                          "all cores); 1 can be faster on a busy machine")
    run.add_argument("--limit-train-batches", type=check.positive_int,
                     default=None,
                     metavar="N", help="train on the first N batches of each "
                     "epoch only (smoke runs)")
    lora_setup.add_lora_options(parser)
    return parser


# -- 1. the command line --------------------------------------------------------
def resume_path(args):
    if args.resume == "auto":
        return os.path.join(args.out or DEFAULT_OUT, "last.npz")
    return args.resume


def parse_arguments(parser, argv):
    """Parse `argv`; with --resume, options not given again come from the
    checkpoint's saved command line. Returns (options, the resumed
    checkpoint (state, metadata) or None); `options` is a new namespace
    with every default filled in (:func:`resolve_options`)."""
    args = parse_with_sample_defaults(parser, argv)
    resumed = None
    if args.resume:
        path = resume_path(args)
        try:
            resumed = ckpt.load_checkpoint(path)
        except (OSError, ValueError) as error:
            raise UsageError(str(error)) from None
        saved = {key: value for key, value in
                 (resumed[1].get("args") or {}).items()
                 if key not in PER_INVOCATION}
        parser.set_defaults(**saved)
        args = parse_with_sample_defaults(parser, argv)
        changed = ["--{} {!r} -> {!r}".format(key.replace("_", "-"), saved[key],
                                             getattr(args, key))
                   for key in RESUME_SENSITIVE
                   if key in saved and _plain(getattr(args, key)) != saved[key]]
        if changed:
            print("warning: resuming with changed options (the result will "
                  "differ from an uninterrupted run): " + "; ".join(changed),
                  file=sys.stderr)
        out = args.out or os.path.dirname(os.path.abspath(path))
    else:
        out = args.out or DEFAULT_OUT
    options = resolve_options(args, out, "python -m minidl.finetune " +
                              " ".join(argv))
    check_combinations(options)
    if resumed is not None:
        check_extension(options, resumed[1])
    return options, resumed


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _absolute(path):
    return None if path is None else os.path.abspath(os.path.expanduser(path))


def resolve_options(args, out, command_line):
    """A copy of `args` with the defaults that depend on other options,
    absolute paths (a checkpoint stores these, so --resume works from any
    folder) and the command line (for the report)."""
    weights = args.weights
    if weights is not None and weights not in PUBLISHED:
        weights = _absolute(weights)
    return argparse.Namespace(**dict(
        vars(args), out=_absolute(out), command_line=command_line,
        data=_absolute(args.data), test_data=_absolute(args.test_data),
        weights=weights, tensorboard=_absolute(args.tensorboard),
        lr=args.lr if args.lr is not None else DEFAULT_LR[args.optimizer],
        weight_decay=args.weight_decay if args.weight_decay is not None
        else DEFAULT_WEIGHT_DECAY[args.optimizer]))


def check_combinations(options):
    """Raise UsageError for what no single option's check can see."""
    if options.data is None:
        raise UsageError("--data is required (an image folder or a CIFAR-10 "
                         "folder)")
    if options.arch is None and options.weights is None:
        raise UsageError("give --arch, or --weights whose metadata names one")
    if options.nesterov and options.optimizer != "sgd":
        raise UsageError("--nesterov applies to --optimizer sgd only")
    if not options.warmup_epochs < options.epochs:
        raise UsageError(f"--warmup-epochs {options.warmup_epochs} must be "
                         f"below --epochs {options.epochs}")
    if options.tensorboard is not None:
        summary_writer_class()  # installed? (before any file is written)


def check_extension(options, metadata):
    """--resume with another --epochs: refuse what the schedule cannot do
    (see EXTENDING), before any file is touched."""
    saved = (metadata.get("args") or {}).get("epochs")
    completed = int(metadata.get("epoch", 0))
    if options.epochs < completed:
        raise UsageError(f"--epochs {options.epochs}: the checkpoint has "
                         f"already completed {completed} "
                         "epochs")
    if saved is not None and options.epochs != saved and \
            options.schedule in FIXED_LENGTH_SCHEDULES:
        raise UsageError(
            "--epochs {}: this run's {} schedule was planned for {} epochs and "
            "cannot be stretched or extended; resume without --epochs, or start "
            "a new run from its weights (--weights {} --out NEW_FOLDER)".format(
                options.epochs, options.schedule, saved,
                os.path.join(options.out, "model.npz")))


# -- 3. setting up ----------------------------------------------------------------
@dataclass
class Run:
    """Everything a run is made of (built by :func:`set_up`) and where it
    stands."""
    device: object
    classes: list
    train_set: object
    val_set: object
    test_set: object
    model: object
    architecture: str
    mean: list
    std: list
    frozen_norms: list
    image_size: tuple
    eval_transform: object
    train_loader: object
    val_loader: object
    steps_per_epoch: int
    optimizer: object
    scheduler: object
    adversary: object
    tracker: BestTracker
    metadata: dict
    folder: RunFolder
    log_rows: list = field(default_factory=list)  # of log.jsonl, in order
    # The training loss summed over the images since the last step row.
    step_log: dict = field(default_factory=lambda: {"loss_sum": 0.0,
                                                    "images": 0})
    best_weights: dict = None  # a snapshot of the best epoch's weights
    completed_epochs: int = 0
    position: EpochProgress = None  # where a mid-epoch checkpoint stopped
    last_saved: str = None  # "OUT/last.npz (epoch 2, step 7)", once saved
    tensorboard: object = None

    @property
    def history(self):
        return log_file.epoch_rows(self.log_rows)

    def path(self, name):
        return self.folder.file(name)


def open_data(options):
    """(classes, train split, validation split, test set or None)."""
    try:
        dataset = data_setup.open_dataset(options.data, train=True,
                                          image_size=options.image_size)
        test_set = None
        if options.test_data:
            test_set = data_setup.open_dataset(options.test_data, train=False,
                                               image_size=options.image_size,
                                               option="--test-data")
        classes = list(dataset.classes)
        train_set, val_set = data_setup.split_train_val(
            dataset, options.val_split, options.seed)
    except (OSError, ValueError) as error:
        raise UsageError(str(error)) from None
    if len(classes) < 2:
        raise UsageError("--data {} has a single class ({}): a classifier needs "
                         "at least two classes to learn anything".format(
                             options.data, ", ".join(classes)))
    if test_set is not None and list(test_set.classes) != classes:
        raise UsageError(f"--test-data has the classes "
                         f"{list(test_set.classes)}, --data has {classes}"
                         )
    return classes, train_set, val_set, test_set


def set_up(options, resumed, folder):
    """Build the data, model, optimizer, scheduler and loaders: a Run."""
    device = choose_device(options.device)
    if options.threads is not None:
        parallel.set_num_threads(options.threads)
    minidl_random.manual_seed(options.seed)
    classes, train_set, val_set, test_set = open_data(options)
    start = load_starting_model(options, classes, resumed)
    model = start.model
    model.to(device)
    try:
        frozen_norms = apply_freeze(model, parse_freeze(options.freeze))
    except ValueError as error:  # a rule the architecture has no stage for
        raise UsageError(str(error)) from None
    frozen_norms = lora_setup.apply_lora_from_args(model, options,
                                                   frozen_norms)

    image_size = data_setup.image_shape(train_set)
    train_transform = data_setup.build_train_transform(
        start.mean, start.std, image_size, options.crop_padding,
        options.crop_padding_mode, options.hflip, options.rotation,
        options.color_jitter)
    eval_transform = data_setup.build_eval_transform(start.mean, start.std)
    workers = options.num_workers
    if workers is None:
        workers = data_setup.default_num_workers(device)
    train_loader = DataLoader(train_set, batch_size=options.batch_size,
                              shuffle=True, num_workers=workers,
                              seed=options.seed, transform=train_transform,
                              device=device)
    val_loader = data_setup.eval_loader(val_set, eval_transform,
                                        options.eval_batch_size, device,
                                        workers)
    steps_per_epoch = len(train_loader)
    if options.limit_train_batches:
        steps_per_epoch = min(steps_per_epoch, options.limit_train_batches)

    groups = parameter_groups(model, options.lr, options.head_lr,
                              options.weight_decay)
    optimizer = build_optimizer(options.optimizer, groups, options.lr,
                                options.momentum, options.nesterov,
                                options.weight_decay)
    scheduler = build_scheduler(options.schedule, optimizer, options.epochs,
                                steps_per_epoch, options.warmup_epochs,
                                options.step_epochs, options.gamma)
    metadata = {
        "architecture": start.architecture,
        "num_classes": len(classes), "classes": classes,
        "input_mean": list(start.mean), "input_std": list(start.std),
        "image_size": list(image_size), "input_size": image_size[0],
        "args": {key: _plain(value) for key, value in
                 dict(vars(options), arch=start.architecture).items()},
    }
    run = Run(device, classes, train_set, val_set, test_set, model,
              start.architecture, start.mean, start.std, frozen_norms,
              image_size, eval_transform, train_loader, val_loader,
              steps_per_epoch, optimizer, scheduler,
              FGSM(options.adv_eps, start.mean, start.std)
              if options.adv_eps else None,
              BestTracker(options.patience), metadata, folder)
    if resumed is not None:
        try:
            restored = ckpt.restore_checkpoint(
                resumed[0], model, optimizer, scheduler, train_loader,
                run.tracker)
        except (KeyError, ValueError) as error:  # options that do not fit it
            raise UsageError(f"--resume: {error}") from None
        run.completed_epochs = restored.completed_epochs
        run.log_rows = restored.log_rows
        run.step_log = restored.step_log
        run.best_weights = restored.best_weights
        if restored.position is not None:
            run.position = EpochProgress.from_state(restored.position)
    if options.tensorboard is not None:
        run.tensorboard = TensorBoardLog(
            options.tensorboard, steps_per_epoch,
            purge_step=global_step(run) if resumed is not None else None)
    return run


# -- 4. the run -------------------------------------------------------------------
class Interrupted(Exception):
    """Ctrl-C or SIGTERM during training (the message says how to resume)."""


class Diverged(Exception):
    """A non-finite loss or weight (the message names the last good
    checkpoint)."""


def _percent(value):
    return f"{value:.2%}"


def global_step(run):
    """Steps done since the start of the run."""
    done = run.position.batches if run.position is not None else 0
    return run.completed_epochs * run.steps_per_epoch + done


def add_log_row(run, row):
    """A row of log.jsonl (and of TensorBoard)."""
    run.log_rows.append(row)
    log_file.append_row(run.path("log.jsonl"), row)
    if run.tensorboard is not None:
        run.tensorboard.add_row(row)


def save(run, position=None):
    """Write last.npz (the record of the run), then best.npz when it holds
    another epoch than the best one; see :mod:`.training.run_files`."""
    if not all_finite(run.model):
        raise diverged(run, "the weights hold non-finite values")
    state = None if position is None else position.state_dict()
    last = run.path("last.npz")
    ckpt.save_checkpoint(last, run.completed_epochs, state, run.model,
                         run.optimizer, run.scheduler, run.train_loader,
                         run.log_rows, {"loss_sum": float(run.step_log[
                             "loss_sum"]), "images": run.step_log["images"]},
                         run.tracker, run.best_weights, run.metadata)
    run_files.written("last.npz")
    run.last_saved = f"{last} ({where(run)})"
    write_best(run)


def where(run):
    """Where the run stands, in words: 'epoch 2' or 'epoch 3, 5 of its 7
    steps'."""
    if run.position is None or run.position.epoch <= run.completed_epochs:
        return f"epoch {run.completed_epochs}"
    return (f"epoch {run.position.epoch}, {run.position.batches} of its "
            f"{run.steps_per_epoch} steps")


def saved_at(run):
    """The stamp of the derived files: the last.npz they were made from."""
    return {"epoch": run.completed_epochs, "step": global_step(run)}


def write_best(run):
    """best.npz from the best weights, unless it already holds them."""
    path = run.path("best.npz")
    if os.path.isfile(path):
        try:
            held = (load_metadata(path) or {}).get("best_epoch")
        except (OSError, ValueError):
            held = None
        if held == run.tracker.best_epoch:
            return
    ckpt.save_weights(path, run.best_weights, dict(
        run.metadata, best_epoch=run.tracker.best_epoch,
        val_accuracy=run.tracker.best_accuracy, saved_at=saved_at(run)))
    run_files.written("best.npz")


def diverged(run, what):
    if run.last_saved is None:
        return Diverged(f"{what}: nothing was saved; lower --lr (or use "
                        "--grad-clip)")
    return Diverged(f"training diverged: {what}; lower --lr (or use "
                    "--grad-clip). Nothing diverged was saved; the last good "
                    f"checkpoint is {run.last_saved}")


def evaluate_before(run):
    """Epoch 0: the loaded weights on the validation split; they compete
    for "best" like every epoch."""
    result = evaluate(run.model, run.val_loader, len(run.classes),
                      prefix="val 0")
    if not math.isfinite(result.loss):
        raise diverged(run, "the starting weights give a validation loss of "
                            f"{result.loss}")
    print(f"before training: validation accuracy {_percent(result.accuracy)} "
          f"(loss {result.loss:.4f}, {int(result.confusion.sum())} images)"
          , flush=True)
    run.tracker.update(0, result)
    run.best_weights = ckpt.snapshot(run.model)
    add_log_row(run, {
        "epoch": 0, "lr": run.optimizer.param_groups[0]["lr"],
        "train_loss": None, "train_accuracy": None,
        "val_loss": result.loss, "val_accuracy": result.accuracy,
        "epoch_seconds": result.seconds, "train_seconds": 0.0,
        "val_seconds": result.seconds, "images_per_second": None})


class StepLogger:
    """The after-step hook of an epoch: a step row at every --log-every-th
    step of the run (and the divergence check on it), a checkpoint every
    --checkpoint-every steps, and the stop on Ctrl-C / SIGTERM."""

    def __init__(self, options, run, stops):
        self.options, self.run, self.stops = options, run, stops
        self.started = time.perf_counter()
        self.images = 0  # since `started`, for images/s

    def __call__(self, progress, loss, lr, images):
        run, options = self.run, self.options
        run.position = progress
        run.step_log["loss_sum"] = run.step_log["loss_sum"] + loss * images
        run.step_log["images"] += images
        self.images += images
        step = global_step(run)
        if step % options.log_every == 0:
            mean = float(run.step_log["loss_sum"]) / run.step_log["images"]
            if not math.isfinite(mean):
                raise diverged(run, f"the training loss is {mean} at step {step} "
                                    f"(epoch {progress.epoch})")
            now = time.perf_counter()
            add_log_row(run, {"step": step, "epoch": progress.epoch,
                              "batch": progress.batches, "loss": mean,
                              "lr": lr, "images_per_second":
                              self.images / max(now - self.started, 1e-9)})
            run.step_log = {"loss_sum": 0.0, "images": 0}
            self.started, self.images = now, 0
        unfinished = progress.batches < run.steps_per_epoch
        if self.stops.requested and unfinished:
            save(run, progress)
            raise interrupted(run, self.stops)
        if options.checkpoint_every and step % options.checkpoint_every == 0 \
                and unfinished:
            save(run, progress)


def interrupted(run, stops):
    return Interrupted("stopped by {}; {} holds the run. Continue with: "
                       "--resume {}".format(NAMES.get(stops.signal_number,
                                                      "a signal"),
                                            run.last_saved,
                                            run.path("last.npz")))


def train(options, run, stops):
    """The epochs after run.completed_epochs, up to --epochs; stops early
    on --patience."""
    def loss_fn(logits, labels):
        return F.cross_entropy(logits, labels,
                               label_smoothing=options.label_smoothing)

    after_step = StepLogger(options, run, stops)
    while run.completed_epochs < options.epochs and not run.tracker.should_stop:
        epoch = run.completed_epochs + 1
        run.train_loader.set_epoch(epoch - 1)
        progress = run.position or EpochProgress(epoch)
        stops.deferring = True
        trained = train_one_epoch(
            run.model, run.train_loader, run.optimizer, loss_fn, run.scheduler,
            run.frozen_norms, options.grad_clip, run.adversary,
            max_batches=run.steps_per_epoch,
            prefix=f"epoch {epoch}/{options.epochs}",
            progress=progress, after_step=after_step)
        run.position = progress
        if not math.isfinite(trained.loss):
            raise diverged(run, f"the training loss of epoch {epoch} is "
                                f"{trained.loss}")
        if stops.requested:
            save(run, progress)
            raise interrupted(run, stops)
        stops.deferring = False
        try:
            validated = evaluate(run.model, run.val_loader, len(run.classes),
                                 prefix=f"val {epoch}")
        except KeyboardInterrupt:  # its training is kept, validation redone
            stops.deferring = True
            save(run, progress)
            raise interrupted(run, stops) from None
        stops.deferring = True
        if not math.isfinite(validated.loss):
            raise diverged(run, f"the validation loss of epoch {epoch} is "
                                f"{validated.loss}")
        if not all_finite(run.model):
            raise diverged(run, f"the weights after epoch {epoch} hold non-finite "
                                "values")
        is_best = run.tracker.update(epoch, validated)
        if is_best:
            run.best_weights = ckpt.snapshot(run.model)
        add_log_row(run, {
            "epoch": epoch, "lr": run.optimizer.param_groups[0]["lr"],
            "train_loss": trained.loss, "train_accuracy": trained.accuracy,
            "val_loss": validated.loss, "val_accuracy": validated.accuracy,
            "epoch_seconds": trained.seconds + validated.seconds,
            "train_seconds": trained.seconds, "val_seconds": validated.seconds,
            "images_per_second": trained.images_per_second})
        run.completed_epochs, run.position = epoch, None
        save(run)
        plot_history(run.log_rows, run.path("curves.png"), run.steps_per_epoch)
        print("epoch {}/{}: train loss {:.4f} acc {} | val loss {:.4f} acc {} | "
              "{:.1f} s, {:.0f} img/s{}".format(
                  epoch, options.epochs, trained.loss,
                  _percent(trained.accuracy), validated.loss,
                  _percent(validated.accuracy),
                  trained.seconds + validated.seconds,
                  trained.images_per_second, "  (best)" if is_best else ""),
              flush=True)
        if stops.requested:
            raise interrupted(run, stops)
        if run.tracker.should_stop:
            print(f"early stopping: no better validation accuracy for "
                  f"{run.tracker.epochs_without_improvement} epochs"
                  )


# -- 5. the end -------------------------------------------------------------------
def final_report(options, run):
    """model.npz from the best weights, and the reports."""
    run.model.load_state_dict(run.best_weights)
    # With --lora-rank: lora.npz, then the adapters merged into the model.
    lora_setup.save_lora_outputs(run.model, options, options.out, run.metadata)
    ckpt.save_weights(run.path("model.npz"), run.model, dict(
        run.metadata, best_epoch=run.tracker.best_epoch,
        val_accuracy=run.tracker.best_accuracy, saved_at=saved_at(run)))
    run_files.written("model.npz")
    history = run.history
    before = next((row for row in history if row["epoch"] == 0), None)
    trained_rows = [row for row in history if row["epoch"] > 0]
    report = {
        "best_epoch": run.tracker.best_epoch,
        "epochs_run": len(trained_rows),
        "saved_at": saved_at(run),
        "before_training": None if before is None else {
            "val_accuracy": before["val_accuracy"],
            "val_loss": before["val_loss"]},
        "validation": dict(report_dict(run.tracker.best_confusion, run.classes),
                           loss=run.tracker.best_loss),
        "mean_epoch_seconds": _mean(row["epoch_seconds"]
                                    for row in trained_rows),
        "mean_images_per_second": _mean(row["images_per_second"]
                                        for row in trained_rows),
        "command": options.command_line,
    }
    text = ["validation split, best epoch {} of {}: accuracy {}".format(
        run.tracker.best_epoch, len(trained_rows),
        _percent(report["validation"]["accuracy"]))]
    if before is not None:
        text[0] += " (before training: {})".format(
            _percent(before["val_accuracy"]))
    text += [format_report(run.tracker.best_confusion, run.classes)]
    if run.test_set is not None:
        loader = data_setup.eval_loader(run.test_set, run.eval_transform,
                                        options.eval_batch_size, run.device,
                                        run.val_loader.num_workers)
        tested = evaluate(run.model, loader, len(run.classes), prefix="test")
        report["test"] = dict(report_dict(tested.confusion, run.classes),
                              loss=tested.loss)
        text += ["", f"test set ({options.test_data}): accuracy "
                     f"{_percent(tested.accuracy)}",
            format_report(tested.confusion, run.classes)]
    text = "\n".join(text) + "\n"
    run_files.write_text(run.path("report.json"), json.dumps(report, indent=1))
    run_files.write_text(run.path("report.txt"), text)
    print(text, end="")
    print("wrote {}".format(", ".join(run_files.RUN_FILES)))
    return report


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def run_training(options, run, stops):
    """Evaluate before training (unless resuming), train, report. Returns
    the report dict."""
    if options.resume:
        log_file.write_rows(run.path("log.jsonl"), run.log_rows)
        write_best(run)  # a kill may have fallen between last.npz and it
        run.last_saved = f"{run.path('last.npz')} ({where(run)})"
        print(f"resuming after {global_step(run)} steps, epoch "
              f"{run.completed_epochs} (best so far: epoch "
              f"{run.tracker.best_epoch}, "
              f"{_percent(run.tracker.best_accuracy)})"
              , flush=True)
    else:
        log_file.write_rows(run.path("log.jsonl"), [])
        height, width = run.image_size
        print(f"{len(run.train_set)} training / {len(run.val_set)} validation "
              f"images of {height}x{width}, {len(run.classes)} classes; "
              f"{run.steps_per_epoch} batches of {options.batch_size} per "
              f"epoch on {run.device}", flush=True)
        evaluate_before(run)
        stops.deferring = True
        save(run)
        if stops.requested:
            raise interrupted(run, stops)
    train(options, run, stops)
    return final_report(options, run)


def main(argv=None):
    """Run the command. Returns the exit status: 0; 1 when the options,
    files, weights or data are unusable or training diverged (one line says
    why); 130 on Ctrl-C, 143 on SIGTERM. Other errors keep their traceback
    (they are bugs)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    state = out = None
    with StopRequests() as stops:
        try:
            options, resumed = parse_arguments(parser, argv)
            out = options.out
            with RunFolder(options.out) as folder:
                if resumed is None:
                    folder.check_fresh(options.overwrite)
                state = set_up(options, resumed, folder)
                try:
                    run_training(options, state, stops)
                finally:
                    if state.tensorboard is not None:
                        state.tensorboard.close()
        except USER_ERRORS + (Diverged,) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        except Interrupted as error:
            print(f"\n{error}", file=sys.stderr)
            return stops.exit_status
        except KeyboardInterrupt:  # outside the training steps, or a second one
            if state is not None and state.last_saved is not None:
                print(f"\n{interrupted(state, stops)}", file=sys.stderr)
            else:
                print("\ninterrupted before training started; nothing was "
                      "saved (run the command again)", file=sys.stderr)
            return stops.exit_status
        except OSError as error:  # a full disk, a folder made read-only
            if error.errno not in WRITE_ERRORS or out is None:
                raise
            print("error: cannot write {}: {}".format(
                error.filename or "into --out " + out,
                error.strerror), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
