"""Training curves as a PNG (needs matplotlib: ``pip install minidl[vision]``)."""
import os


def _series(history, key, scale=1.0):
    """(epochs, values) of the rows where `key` has a value."""
    rows = [row for row in history if row.get(key) is not None]
    return [row["epoch"] for row in rows], [scale * row[key] for row in rows]


def plot_history(history, path):
    """Plot train/validation loss and accuracy per epoch into `path` (PNG).

    `history` is a list of dicts with keys epoch, train_loss, val_loss,
    train_accuracy, val_accuracy (as the fine-tuning log writes them);
    missing or null values (epoch 0 has no training) are skipped.
    Returns False (and writes nothing) when matplotlib is missing.
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return False
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        loss_axes.plot(*_series(history, key), marker="o", label=label)
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("loss")
    loss_axes.legend()
    for key, label in (("train_accuracy", "train"),
                       ("val_accuracy", "validation")):
        accuracy_axes.plot(*_series(history, key, 100.0), marker="o",
                           label=label)
    accuracy_axes.set_xlabel("epoch")
    accuracy_axes.set_ylabel("accuracy (%)")
    accuracy_axes.legend()
    for axes in (loss_axes, accuracy_axes):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs
    figure.tight_layout()
    temporary = path + ".tmp.png"
    figure.savefig(temporary, dpi=100)
    plt.close(figure)
    os.replace(temporary, path)
    return True
