"""``--tensorboard DIR``: the log's rows as TensorBoard scalars, through
tensorboardX (an optional dependency: ``pip install minidl[tensorboard]``).

Step rows become ``train/loss``, ``train/lr`` and ``train/images_per_second``
at their step; epoch rows ``val/loss``, ``val/accuracy``, ``train/epoch_loss``
and ``train/epoch_accuracy`` at the step that ends the epoch. When resuming,
events after the checkpoint's step are dropped (``purge_step``), so the
curves show one run.
"""
from .options import UsageError

MISSING = ("--tensorboard needs the tensorboardX package, which is not "
           "installed: pip install minidl[tensorboard] (or pip install "
           "tensorboardX)")


def summary_writer_class():
    """tensorboardX.SummaryWriter; UsageError saying how to install it."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise UsageError(MISSING) from None
    return SummaryWriter


class TensorBoardLog:
    """Writes log rows to a TensorBoard event folder."""

    def __init__(self, folder, steps_per_epoch, purge_step=None):
        writer_class = summary_writer_class()
        self.writer = writer_class(folder, purge_step=purge_step)
        self.steps_per_epoch = steps_per_epoch

    def add_row(self, row):
        if "step" in row:
            step = row["step"]
            pairs = (("train/loss", "loss"), ("train/lr", "lr"),
                     ("train/images_per_second", "images_per_second"))
        else:
            step = row["epoch"] * self.steps_per_epoch
            pairs = (("val/loss", "val_loss"), ("val/accuracy", "val_accuracy"),
                     ("train/epoch_loss", "train_loss"),
                     ("train/epoch_accuracy", "train_accuracy"))
        for tag, key in pairs:
            if row.get(key) is not None:
                self.writer.add_scalar(tag, row[key], step)

    def close(self):
        self.writer.close()
