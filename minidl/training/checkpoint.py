"""Training checkpoints (``best.npz``, ``last.npz``) and the final weights
file (``model.npz``).

A checkpoint is one ``minidl.save`` archive (written atomically: a crash
never leaves half a file) holding everything the rest of a run depends
on, taken at the end of an epoch:

* ``model``: parameters and buffers (BatchNorm running statistics too);
* ``optimizer``: momentum buffers / Adam moments and the groups' current
  hyper-parameters; ``scheduler``: its step count and learning rates;
* ``train_loader``: the data loader's seed and next epoch, which fix the
  order and the augmentations of every later batch;
* ``rng``: the state of minidl's global generator;
* ``history`` (the log rows so far) and ``tracker`` (best epoch, early
  stopping count).

Its metadata says what model it is (architecture, classes, input
normalisation, image size), so ``evaluate`` and ``predict`` can rebuild it
from the file alone. Resuming loads these into freshly built objects and
continues with the next epoch; on the CPU the result is bit for bit the
one of an uninterrupted run.
"""
import os

from .. import random as minidl_random
from .. import serialization

CHECKPOINT_FORMAT = "minidl-finetune-checkpoint"
WEIGHTS_FORMAT = "minidl-weights"


def save_checkpoint(path, epoch, model, optimizer, scheduler, train_loader,
                    history, tracker, metadata):
    """Write the state after `epoch` completed epochs to `path`."""
    state = {
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "train_loader": train_loader.state_dict(),
        "rng": minidl_random.get_rng_state(),
        "history": history,
        "tracker": tracker.state_dict(),
    }
    serialization.save(state, path, metadata=dict(
        metadata, format=CHECKPOINT_FORMAT, epoch=epoch))


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
    return state, metadata


def restore_checkpoint(state, model, optimizer, scheduler, train_loader,
                       tracker):
    """Load a checkpoint's state into freshly built objects. Returns
    (completed epochs, history)."""
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
    return int(state["epoch"]), [dict(row) for row in state["history"]]


def save_weights(path, model, metadata):
    """The model alone, as a weights file that
    ``minidl.models.load_pretrained`` (and ``--weights``) read."""
    serialization.save(model.state_dict(), path, metadata=dict(
        metadata, format=WEIGHTS_FORMAT))
