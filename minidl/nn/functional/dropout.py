"""dropout: zero random elements while training, rescale the rest."""
from ...autograd.function import Function
from ...backend import device_of, move_array
from ...random import generator
from ...tensor import Tensor


class Dropout(Function):
    """y = x * mask, any shape; mask = keep / (1 - p), keep ~ Bernoulli(1 - p).

    Every element is kept with probability 1 - p and scaled by 1 / (1 - p),
    so E[y] = x. dx = gy * mask (the same mask).
    """

    def __init__(self, p):
        self.p = p

    def forward(self, x):
        # Uniform draws from minidl's global (CPU) generator, so manual_seed
        # makes runs reproducible; drawn in x's precision (float32 draws are
        # half the work of float64 ones). Only the boolean mask is moved to
        # x's device.
        draw_dtype = x.dtype if x.dtype.kind == "f" and x.dtype.itemsize >= 4 \
            else "float32"
        keep = generator().random(x.shape, dtype=draw_dtype) >= self.p
        keep = move_array(keep, device_of(x))
        self.mask = keep.astype(x.dtype) * x.dtype.type(1 / (1 - self.p))
        return x * self.mask

    def backward(self, gy):
        return gy * Tensor(self.mask)


def dropout(input, p=0.5, training=True, inplace=False):
    """Dropout with probability `p` when `training`; the identity otherwise.

    p = 0 returns `input` unchanged; p = 1 returns zeros (gradient zero).
    With ``inplace=True`` the result is written into `input`.
    """
    if not 0 <= p <= 1:
        raise ValueError("dropout: probability has to be between 0 and 1, "
                         "but got p={}".format(p))
    if not training or p == 0:
        return input
    if p == 1:
        result = input * 0
    else:
        result = Dropout(p)(input)
    return input._assign(result) if inplace else result
