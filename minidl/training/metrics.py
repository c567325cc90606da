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
        shown = "no samples" if np.isnan(value) else "{:7.2%}".format(value)
        lines.append("{:>{w}}  {}".format(name, shown, w=width))
    lines.append("")
    lines.append("confusion matrix (rows: true class, columns: predicted)")
    short = [name[:5] for name in class_names]
    lines.append(" " * (width + 1) + " ".join("{:>5}".format(s) for s in short))
    for name, row in zip(class_names, counts):
        lines.append("{:>{w}} ".format(name, w=width)
                     + " ".join("{:5d}".format(int(c)) for c in row))
    return "\n".join(lines)


def report_dict(counts, class_names):
    """Accuracy, per-class accuracy and the confusion matrix as plain data
    (for JSON): per-class values are null for classes without samples."""
    counts = np.asarray(counts)
    total = int(counts.sum())
    per_class = per_class_accuracy(counts)
    return {
        "accuracy": float(np.trace(counts)) / total if total else 0.0,
        "samples": total,
        "classes": list(class_names),
        "per_class_accuracy": {
            name: (None if np.isnan(value) else float(value))
            for name, value in zip(class_names, per_class)},
        "confusion_matrix": counts.astype(int).tolist(),
    }
