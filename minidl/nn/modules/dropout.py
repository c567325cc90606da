"""Dropout: zero each element with probability p in training, scaling the
others by 1 / (1 - p); the identity in evaluation mode."""
from .. import functional as F
from ..module import Module


class Dropout(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError("Dropout: probability has to be between 0 and 1, "
                             "but got {}".format(p))
        self.p = p
        self.inplace = inplace  # accepted for compatibility; never in place

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return "p={}, inplace={}".format(self.p, self.inplace)
