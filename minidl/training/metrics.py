"""Classification metrics from predictions and labels (NumPy arrays)."""
import numpy as np


def confusion_matrix(predictions, labels, num_classes):
    """counts[i, j] = how many samples of true class i were predicted as j."""
    predictions = np.asarray(predictions, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    if predictions.shape != labels.shape:
        raise ValueError("confusion_matrix: {} predictions for {} labels".format(
            predictions.shape, labels.shape))
    flat = labels * num_classes + predictions
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes)


def accuracy(predictions, labels):
    """Fraction of predictions equal to the labels."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    return float((predictions == labels).mean()) if labels.size else 0.0


def per_class_accuracy(counts):
    """Diagonal of the confusion matrix over each row's total (NaN if empty)."""
    totals = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(counts) / np.maximum(totals, 1),
                        np.nan)


def format_report(counts, class_names):
    """Per-class accuracy and the confusion matrix as aligned text."""
    width = max(6, max(len(name) for name in class_names))
    lines = ["{:>{w}}  accuracy".format("class", w=width)]
    for name, value in zip(class_names, per_class_accuracy(counts)):
        lines.append("{:>{w}}  {:7.2%}".format(name, value, w=width))
    lines.append("")
    lines.append("confusion matrix (rows: true class, columns: predicted)")
    short = [name[:5] for name in class_names]
    lines.append(" " * (width + 1) + " ".join("{:>5}".format(s) for s in short))
    for name, row in zip(class_names, counts):
        lines.append("{:>{w}} ".format(name, w=width)
                     + " ".join("{:5d}".format(int(c)) for c in row))
    return "\n".join(lines)
