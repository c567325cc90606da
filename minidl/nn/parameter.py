"""Parameter: a Tensor that a Module learns.

A Parameter is an ordinary leaf Tensor with ``requires_grad=True``. What
makes it special is only that assigning one to a Module attribute
(``self.weight = Parameter(...)``) registers it, so ``module.parameters()``
and ``module.state_dict()`` find it.
"""
import numpy as np

from .. import backend
from ..tensor import Tensor, float32


class Parameter(Tensor):
    """A learnable tensor: ``Parameter(data, requires_grad=True)``.

    `data` is a Tensor (its array is shared, not copied), a NumPy/CuPy array,
    or None (an empty float32 tensor, as in PyTorch).
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = backend.default_device().xp.empty((0,), dtype=float32)
        elif isinstance(data, Tensor):
            data = data.data
        elif not hasattr(data, "dtype"):
            raise TypeError("Parameter: expected a Tensor or an array, got {}"
                            .format(type(data).__name__))
        if isinstance(data, np.generic):  # a NumPy scalar: make it an array
            data = np.asarray(data)
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
