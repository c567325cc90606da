"""Training curves as a PNG (needs matplotlib: ``pip install minidl[vision]``)."""
import os


def _series(rows, key, scale=1.0):
    """(epochs, values) of the epoch rows where `key` has a value."""
    rows = [row for row in rows if "step" not in row and
            row.get(key) is not None]
    return [row["epoch"] for row in rows], [scale * row[key] for row in rows]


def _step_series(rows, key, steps_per_epoch):
    """(position in epochs, values) of the step rows: step 35 of 70 steps
    per epoch is drawn at 0.5, so they share the epochs' axis."""
    rows = [row for row in rows if "step" in row and row.get(key) is not None]
    return ([row["step"] / max(steps_per_epoch, 1) for row in rows],
            [row[key] for row in rows])


def plot_history(rows, path, steps_per_epoch=1):
    """Plot a run's log rows into `path` (PNG): the training loss per step
    (the step rows) beside the per-epoch train and validation loss, the
    learning rate per step, and the accuracy per epoch.

    `rows`: the log's rows (see :mod:`.history`); missing or null values
    (epoch 0 has no training) are skipped. Returns False (and writes
    nothing) when matplotlib is missing.
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return False
    figure, (loss_axes, lr_axes, accuracy_axes) = plt.subplots(
        1, 3, figsize=(15, 4))
    loss_axes.plot(*_step_series(rows, "loss", steps_per_epoch), alpha=0.5,
                   label="train (per step)")
    for key, label in (("train_loss", "train (epoch mean)"),
                       ("val_loss", "validation")):
        loss_axes.plot(*_series(rows, key), marker="o", label=label)
    loss_axes.set_ylabel("loss")
    lr_axes.plot(*_step_series(rows, "lr", steps_per_epoch))
    lr_axes.set_ylabel("learning rate (per step)")
    for key, label in (("train_accuracy", "train"),
                       ("val_accuracy", "validation")):
        accuracy_axes.plot(*_series(rows, key, 100.0), marker="o",
                           label=label)
    accuracy_axes.set_ylabel("accuracy (%)")
    for axes in (loss_axes, lr_axes, accuracy_axes):
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs
    loss_axes.legend()
    accuracy_axes.legend()
    # Fixed margins: tight_layout would measure every label (slow).
    figure.subplots_adjust(left=0.05, right=0.99, bottom=0.13, top=0.97,
                           wspace=0.25)
    temporary = path + ".tmp.png"
    figure.savefig(temporary, dpi=100)
    plt.close(figure)
    os.replace(temporary, path)
    return True
