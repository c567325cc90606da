"""layer_norm: normalise each sample over its last dims.

For an input x of shape (*, D1, ..., Dk) and ``normalized_shape`` = (D1, ...,
Dk), every sample (one index of *) is normalised over its last k dims, with
M = D1 * ... * Dk elements:

    mean = sum(x) / M,  var = sum((x - mean)^2) / M  (biased, as PyTorch)
    xhat = (x - mean) / sqrt(var + eps)
    y    = xhat * weight + bias          (weight, bias of normalized_shape)

Unlike batch norm there are no running statistics: training and evaluation
compute the same thing.
"""
import numpy as np

from ...autograd.function import Function
from ...backend import get_array_module
from ...ops.arithmetic import sum_to_shape


def _statistics(x, dims, eps):
    """mean and 1/sqrt(var + eps) over `dims` of a Tensor, kept as size-1
    dims, written with Tensor ops (so backward can be differentiated)."""
    mean = x.mean(dims, keepdim=True)
    centred = x - mean
    var = (centred * centred).mean(dims, keepdim=True)
    return centred, (var + eps).sqrt().pow(-1)


class LayerNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last k dims.

    Shapes: x (*, D1..Dk); weight, bias (D1..Dk) or absent. With
    g = gy * weight (gy itself without weight), xhat the normalised input,
    rstd = 1/sqrt(var + eps) and means over the k dims:

        dx      = rstd * (g - mean(g) - xhat * mean(g * xhat))
        dweight = sum of gy * xhat over *
        dbias   = sum of gy over *

    The backward recomputes mean and rstd from x with Tensor ops, so they
    are functions of x in the graph and second derivatives are right.
    """

    def __init__(self, k, eps, has_weight, has_bias):
        self.k, self.eps = k, eps
        self.has_weight, self.has_bias = has_weight, has_bias

    def to_save(self, inputs, outputs):
        return inputs[:2] if self.has_weight else inputs[:1]

    def forward(self, x, *affine):
        xp = get_array_module(x)
        axes = tuple(range(x.ndim - self.k, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        centred = x - mean
        var = (centred * centred).mean(axis=axes, keepdims=True)
        y = centred * (1 / xp.sqrt(var + x.dtype.type(self.eps)))
        if self.has_weight:
            y *= affine[0]
        if self.has_bias:
            y += affine[-1]
        return y

    def backward(self, gy):
        saved = self.saved_tensors
        x = saved[0]
        dims = tuple(range(x.ndim - self.k, x.ndim))
        centred, rstd = _statistics(x, dims, self.eps)
        xhat = centred * rstd
        g = gy * saved[1] if self.has_weight else gy
        needs = self.needs_input_grad
        grads = []
        if needs[0]:
            mean_g = g.mean(dims, keepdim=True)
            mean_gx = (g * xhat).mean(dims, keepdim=True)
            grads.append(rstd * (g - mean_g - xhat * mean_gx))
        else:
            grads.append(None)
        affine_shape = x.shape[x.ndim - self.k:]
        if self.has_weight:
            grads.append(sum_to_shape(gy * xhat, affine_shape)
                         if needs[1] else None)
        if self.has_bias:
            grads.append(sum_to_shape(gy, affine_shape) if needs[-1] else None)
        return tuple(grads) if len(grads) > 1 else grads[0]


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise `input` over its last ``len(normalized_shape)`` dims (see
    :class:`LayerNorm`)."""
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(int(d) for d in normalized_shape)
    k = len(normalized_shape)
    if k == 0 or input.ndim < k or input.shape[input.ndim - k:] != \
            normalized_shape:
        raise ValueError(f"layer_norm: input of shape {input.shape} does not end "
                         f"with normalized_shape {normalized_shape}")
    affine = []
    for name, tensor in (("weight", weight), ("bias", bias)):
        if tensor is not None:
            if tensor.shape != normalized_shape:
                raise ValueError(f"layer_norm: {name} of shape {tensor.shape}, "
                                 f"expected normalized_shape {normalized_shape}")
            affine.append(tensor)
    return LayerNorm(k, eps, weight is not None, bias is not None)(input, *affine)
