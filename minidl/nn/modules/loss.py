"""Loss layers: thin modules around the functional losses."""
from ...tensor import Tensor
from .. import functional as F
from ..module import Module

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(name, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError("{}: reduction must be one of {}, got {!r}".format(
            name, _REDUCTIONS, reduction))
    return reduction


class CrossEntropyLoss(Module):
    """Cross entropy between logits (N, C) or (N, C, d1, ...) and class
    indices (N) / (N, d1, ...) or class probabilities of the logits' shape.

    `weight` (C,), a rescaling of each class, is kept as a buffer, as in
    PyTorch (so it follows the module to another device).
    """

    def __init__(self, weight=None, ignore_index=-100, reduction="mean",
                 label_smoothing=0.0):
        super().__init__()
        if weight is not None and not isinstance(weight, Tensor):
            raise TypeError("CrossEntropyLoss: weight must be a Tensor of "
                            "shape (C,), got {}".format(type(weight).__name__))
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index
        self.reduction = _check_reduction("CrossEntropyLoss", reduction)
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight,
                               ignore_index=self.ignore_index,
                               reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class NLLLoss(Module):
    """Negative log likelihood of log-probabilities (N, C) at targets (N)."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__()
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index
        self.reduction = _check_reduction("NLLLoss", reduction)

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight,
                          ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(Module):
    """Mean (or sum, or none) of the squared differences (input - target)^2."""

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = _check_reduction("MSELoss", reduction)

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)
