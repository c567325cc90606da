"""The JSON-lines log of a run (``log.jsonl``): one JSON object per line.

Epoch rows hold ``epoch`` (0: the evaluation of the loaded weights before
any training, with null training fields), ``lr`` (the first parameter
group's learning rate at the end of the epoch), ``train_loss``,
``train_accuracy``, ``val_loss``, ``val_accuracy``, ``epoch_seconds``
(training plus validation), ``train_seconds``, ``val_seconds`` and
``images_per_second`` (training images over training time).

Step rows, every ``--log-every`` steps, hold ``step`` (the steps done
since the start of the run), ``epoch`` and ``batch`` (the epoch it falls
in and the batches of it done), ``loss`` (the mean training loss of the
steps since the previous step row), ``lr`` (the learning rate of the last
of them) and ``images_per_second`` (over those steps). :func:`is_step_row`
tells them apart.

The file is strict JSON: a value that is not a finite number is written as
null, never as a bare ``NaN``.
"""
import json
import math
import os

from ..serialization import atomic_write


def is_step_row(row):
    return "step" in row


def epoch_rows(rows):
    """The epoch rows of a log, in order."""
    return [row for row in rows if not is_step_row(row)]


def _strict(row):
    return {key: None if isinstance(value, float) and not math.isfinite(value)
            else value for key, value in row.items()}


def _line(row):
    return json.dumps(_strict(row), allow_nan=False) + "\n"


def append_row(path, row):
    """Add one row at the end of the log."""
    with open(path, "a") as handle:
        handle.write(_line(row))


def write_rows(path, rows):
    """Replace the log by `rows` (atomically): used when resuming, so the
    log holds exactly the rows of the checkpoint."""
    text = "".join(_line(row) for row in rows)
    atomic_write(path, lambda handle: handle.write(text.encode()))


def read_rows(path):
    """The rows of a log file, in order."""
    if not os.path.isfile(path):
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]
