"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_``.

Called between ``loss.backward()`` and ``optimizer.step()``, they rescale
or clamp the parameters' ``.grad`` in place, so one bad batch cannot throw
the weights far away.

The total norm is computed as in PyTorch: the p-norm of each gradient,
then the p-norm of those norms (which equals the p-norm of all the
gradients' elements together). It stays an array on the gradients' device,
so clipping on a GPU never waits for a transfer to the CPU.
"""
import math
import numbers

from ...backend import get_array_module
from ...tensor import Tensor, tensor


def _as_list(parameters):
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _vector_norm(array, norm_type):
    """The `norm_type`-norm of all elements of `array`, as a 0-d array.

    2: sqrt(sum x^2); 1: sum |x|; inf: max |x|; -inf: min |x|;
    0: the number of non-zero elements; p: (sum |x|^p)^(1/p).
    """
    xp = get_array_module(array)
    magnitude = xp.abs(array)
    if magnitude.size == 0:
        if norm_type == -math.inf:
            raise RuntimeError("clip_grad_norm_: the -inf norm of an empty "
                               "gradient is undefined")
        return xp.zeros((), dtype=array.dtype)
    if norm_type == math.inf:
        result = magnitude.max()
    elif norm_type == -math.inf:
        result = magnitude.min()
    elif norm_type == 0:
        result = xp.count_nonzero(magnitude)
    elif norm_type == 1:
        result = magnitude.sum()
    elif norm_type == 2:
        result = xp.sqrt(xp.vdot(magnitude, magnitude))
    else:
        result = (magnitude ** norm_type).sum() ** (1.0 / norm_type)
    # NumPy reductions give NumPy scalars; keep 0-d arrays of array's dtype.
    return xp.asarray(result, dtype=array.dtype)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False):
    """The `norm_type`-norm of all the given tensors' elements together
    (a 0-d Tensor; 0.0 when there are none).

    tensors: a Tensor or an iterable of Tensors (for example gradients).
    """
    arrays = [t.data for t in _as_list(tensors) if t is not None]
    norm_type = float(norm_type)
    if not arrays:
        return tensor(0.0)
    xp = get_array_module(arrays[0])
    for array in arrays:
        if get_array_module(array) is not xp:
            raise RuntimeError("clip_grad_norm_: the gradients live on different "
                               "devices; move the model to one device")
    norms = [_vector_norm(array, norm_type) for array in arrays]
    total = _vector_norm(xp.stack(norms), norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            "clip_grad_norm_: the total norm of order {} of the gradients is "
            "non-finite ({}), so it cannot be clipped. To scale the gradients "
            "by the non-finite norm anyway, set error_if_nonfinite=False"
            .format(norm_type, float(total)))
    return Tensor(total)


def clip_grads_with_norm_(parameters, max_norm, total_norm):
    """Scale the gradients of `parameters` in place by
    min(1, max_norm / (total_norm + 1e-6)), given the total norm."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    total = total_norm.data if isinstance(total_norm, Tensor) else total_norm
    # Computed in the norm's dtype: max_norm is a weak Python float.
    clip_coef = float(max_norm) / (total + 1e-6)
    xp = get_array_module(grads[0].data)
    clip_coef = xp.minimum(clip_coef, 1.0)
    for grad in grads:
        # Multiply even when the coefficient is 1, as PyTorch does: deciding
        # would need the value on the CPU, a wait on a GPU.
        xp.multiply(grad.data, clip_coef.astype(grad.dtype), out=grad.data)
        grad._bump_version()


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Rescale the gradients of `parameters` so that their total norm is at
    most `max_norm`; returns the total norm before clipping (a 0-d Tensor).

    Every gradient is multiplied by min(1, max_norm / (total_norm + 1e-6)).
    `norm_type` may be any p, or ``float("inf")`` (the largest absolute
    value). With ``error_if_nonfinite=True`` a nan/inf total norm raises a
    RuntimeError instead of spreading nan into the gradients.
    """
    if not isinstance(max_norm, numbers.Real):
        raise TypeError("clip_grad_norm_: max_norm must be a number, got {}"
                        .format(type(max_norm).__name__))
    parameters = _as_list(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total_norm)
    return total_norm


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element of `parameters` into
    [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for param in _as_list(parameters):
        if param.grad is None:
            continue
        xp = get_array_module(param.grad.data)
        xp.clip(param.grad.data, -clip_value, clip_value, out=param.grad.data)
        param.grad._bump_version()
