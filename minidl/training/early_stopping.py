"""Keeping track of the best epoch, and early stopping (``--patience``)."""
import numpy as np


class BestTracker:
    """Remembers the epoch with the best validation accuracy, and counts the
    epochs since then. With `patience` (an int), :attr:`should_stop` turns
    True once that many epochs in a row brought no improvement.

    A tie is not an improvement, so the earliest best epoch is kept.
    """

    def __init__(self, patience=None):
        if patience is not None and patience < 1:
            raise ValueError("--patience must be at least 1, got {}".format(
                patience))
        self.patience = patience
        self.best_epoch = None
        self.best_accuracy = -1.0
        self.best_loss = None
        self.best_confusion = None
        self.epochs_without_improvement = 0

    def update(self, epoch, result):
        """Record an EvalResult; returns True when it is a new best."""
        if result.accuracy > self.best_accuracy:
            self.best_epoch = epoch
            self.best_accuracy = result.accuracy
            self.best_loss = result.loss
            self.best_confusion = np.asarray(result.confusion)
            self.epochs_without_improvement = 0
            return True
        self.epochs_without_improvement += 1
        return False

    @property
    def should_stop(self):
        return self.patience is not None and \
            self.epochs_without_improvement >= self.patience

    def state_dict(self):
        return {"patience": self.patience, "best_epoch": self.best_epoch,
                "best_accuracy": self.best_accuracy, "best_loss": self.best_loss,
                "best_confusion": self.best_confusion,
                "epochs_without_improvement": self.epochs_without_improvement}

    def load_state_dict(self, state):
        # The patience of the current command wins over the saved one.
        self.best_epoch = state["best_epoch"]
        self.best_accuracy = float(state["best_accuracy"])
        self.best_loss = state["best_loss"]
        confusion = state["best_confusion"]
        self.best_confusion = None if confusion is None else np.asarray(confusion)
        self.epochs_without_improvement = int(state["epochs_without_improvement"])
