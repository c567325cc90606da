"""The JSON-lines log of a run: one JSON object per epoch.

Each row holds ``epoch`` (0: the evaluation of the loaded weights before
any training, with null training fields), ``lr`` (the first parameter
group's learning rate at the end of the epoch), ``train_loss``,
``train_accuracy``, ``val_loss``, ``val_accuracy``, ``epoch_seconds``
(training plus validation), ``train_seconds``, ``val_seconds`` and
``images_per_second`` (training images over training time).
"""
import json
import os

from ..serialization import atomic_write


def append_row(path, row):
    """Add one row at the end of the log."""
    with open(path, "a") as handle:
        handle.write(json.dumps(row) + "\n")


def write_rows(path, rows):
    """Replace the log by `rows` (atomically): used when resuming, so the
    log holds exactly the epochs of the checkpoint."""
    text = "".join(json.dumps(row) + "\n" for row in rows)
    atomic_write(path, lambda handle: handle.write(text.encode()))


def read_rows(path):
    """The rows of a log file, in order."""
    if not os.path.isfile(path):
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]
