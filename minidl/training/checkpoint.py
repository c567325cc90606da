"""Training checkpoints (``last.npz``), and the weights files ``best.npz``
and ``model.npz``.

A checkpoint is one ``minidl.save`` archive (written atomically: a crash
never leaves half a file) holding everything the rest of a run depends
on, taken after the evaluation of the starting weights (epoch 0), at the
end of an epoch, or between two steps of one:

* ``epoch``: the completed epochs; ``position``: None at the end of an
  epoch, else where in the next epoch the run stopped (``epoch``,
  ``batch``: the batches done, and the epoch's running loss sum, correct
  predictions, images and training seconds so far);
* ``model``: parameters and buffers (BatchNorm running statistics too);
* ``optimizer``: momentum buffers / Adam moments and the groups' current
  hyper-parameters; ``scheduler``: its step count and learning rates;
* ``train_loader``: the data loader's seed and epoch, which fix the order
  and the augmentations of every batch;
* ``rng``: the state of minidl's global generator;
* ``log``: the rows of ``log.jsonl`` so far (epochs and steps);
  ``step_log``: the loss sum and images since the last step row;
  ``tracker``: best epoch, early stopping count; ``best_model``: the best
  weights so far, so that ``best.npz`` and ``model.npz`` can always be
  made again from this one file (see :mod:`.run_files`).

Its metadata says what model it is (architecture, classes, input
normalisation, image size), so ``evaluate`` and ``predict`` can rebuild it
from the file alone. Resuming loads these into freshly built objects and
continues with the next step; on the CPU the result is bit for bit the
one of an uninterrupted run.
"""
import os
from dataclasses import dataclass

from .. import backend
from .. import random as minidl_random
from .. import serialization
from ..tensor import Tensor

CHECKPOINT_FORMAT = "minidl-finetune-checkpoint"
WEIGHTS_FORMAT = "minidl-weights"


def snapshot(model):
    """A copy of the model's state dict, as Tensors on the CPU (training
    goes on changing the model's own arrays in place)."""
    return {key: Tensor(backend.to_numpy(value.data).copy())
            for key, value in model.state_dict().items()}


def save_checkpoint(path, completed_epochs, position, model, optimizer,
                    scheduler, train_loader, log_rows, step_log, tracker,
                    best_weights, metadata):
    """Write the state after `completed_epochs` epochs (and, with a
    `position` dict, part of the next one) to `path`."""
    state = {
        "epoch": completed_epochs,
        "position": position,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "train_loader": train_loader.state_dict(),
        "rng": minidl_random.get_rng_state(),
        "log": log_rows,
        "step_log": step_log,
        "tracker": tracker.state_dict(),
        "best_model": best_weights,
    }
    serialization.save(state, path, metadata=dict(
        metadata, format=CHECKPOINT_FORMAT, epoch=completed_epochs,
        position=position))


def load_checkpoint(path):
    """(state, metadata) of a checkpoint written by :func:`save_checkpoint`."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError("--resume: no checkpoint at {}".format(path))
    state, metadata = serialization.load(path, with_metadata=True)
    if (metadata or {}).get("format") != CHECKPOINT_FORMAT:
        raise ValueError("--resume: {} is not a fine-tuning checkpoint (its "
                         "metadata format is {!r}, expected {!r})".format(
                             path, (metadata or {}).get("format"),
                             CHECKPOINT_FORMAT))
    if "best_model" not in state:
        raise ValueError("--resume: {} was written by an older minidl (it has "
                         "no best_model entry); start a new run from it with "
                         "--weights {}".format(path, path))
    return state, metadata


@dataclass
class Restored:
    """What a checkpoint puts back besides the objects' own states."""
    completed_epochs: int
    position: object  # None or the position dict
    log_rows: list
    step_log: dict
    best_weights: dict


def restore_checkpoint(state, model, optimizer, scheduler, train_loader,
                       tracker):
    """Load a checkpoint's state into freshly built objects. Returns a
    Restored."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if (scheduler is None) != (state["scheduler"] is None):
        raise ValueError("--resume: the checkpoint was made {} a learning-rate "
                         "scheduler, this command {} one; use the same "
                         "--schedule and --warmup-epochs".format(
                             "with" if state["scheduler"] is not None
                             else "without",
                             "has" if scheduler is not None else "has no"))
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    train_loader.load_state_dict(state["train_loader"])
    minidl_random.set_rng_state(state["rng"])
    tracker.load_state_dict(state["tracker"])
    best = {key: value if isinstance(value, Tensor) else Tensor(value)
            for key, value in state["best_model"].items()}
    return Restored(int(state["epoch"]), state["position"],
                    [dict(row) for row in state["log"]],
                    dict(state["step_log"]), best)


def save_weights(path, weights, metadata):
    """A model's weights (the model, or its state dict) alone, as a weights
    file that ``minidl.models.load_pretrained`` (and ``--weights``) read."""
    if hasattr(weights, "state_dict"):
        weights = weights.state_dict()
    serialization.save(weights, path, metadata=dict(
        metadata, format=WEIGHTS_FORMAT))
