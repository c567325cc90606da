"""Adam and AdamW: steps scaled by running moments of the gradient.

For each parameter p with gradient g, at step t = 1, 2, ..., as in PyTorch::

    g = -g                                        if maximize
    p = p * (1 - lr * weight_decay)               AdamW (decoupled decay)
    g = g + weight_decay * p                      Adam (L2 penalty)
    m = beta1 * m + (1 - beta1) * g               first moment
    v = beta2 * v + (1 - beta2) * g * g           second moment
    v_max = max(v_max, v)                         if amsgrad (then v_max
                                                  replaces v below)
    denom = sqrt(v) / sqrt(1 - beta2 ** t) + eps
    p = p - lr / (1 - beta1 ** t) * m / denom

The two ``1 - beta ** t`` factors undo the bias of m and v towards their
zero start.
"""
import math
import numbers

from .. import kernels
from ..backend import get_array_module
from .optimizer import Optimizer, decayed_gradient


class Adam(Optimizer):
    """Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    amsgrad=False, *, maximize=False, decoupled_weight_decay=False).

    ``weight_decay`` adds ``weight_decay * p`` to the gradient (an L2
    penalty, which Adam then rescales); see :class:`AdamW` for decay that
    is not rescaled. The state of each parameter is ``step`` (a Python int),
    ``exp_avg``, ``exp_avg_sq`` and, with amsgrad, ``max_exp_avg_sq``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=0, amsgrad=False, *, maximize=False,
                 decoupled_weight_decay=False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps,
                        weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_group(self, group):
        name = type(self).__name__
        for key in ("lr", "eps", "weight_decay"):
            self._check_non_negative(group, key)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError("{}: betas must be a pair (beta1, beta2), got {!r}"
                             .format(name, betas))
        for index, beta in enumerate(betas):
            if not isinstance(beta, numbers.Real) or not 0 <= beta < 1:
                raise ValueError("{}: invalid beta parameter at index {}: {!r} "
                                 "(expected 0 <= beta < 1)".format(name, index, beta))

    def _update_parameter(self, param, grad, state, group):
        xp = get_array_module(param.data)
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(param.data)
            state["exp_avg_sq"] = xp.zeros_like(param.data)
        max_exp_avg_sq = None
        if group["amsgrad"]:
            if "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = xp.zeros_like(param.data)
            max_exp_avg_sq = state["max_exp_avg_sq"]
        state["step"] += 1
        beta1, beta2 = group["betas"]
        adam_update = kernels.get("adam_update", xp)
        adam_update(param.data, grad, state["exp_avg"], state["exp_avg_sq"],
                    max_exp_avg_sq, state["step"], group["lr"], beta1, beta2,
                    group["eps"], group["weight_decay"],
                    group["decoupled_weight_decay"], group["maximize"])


class AdamW(Adam):
    """AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
    amsgrad=False, *, maximize=False): Adam with decoupled weight decay.

    Before the Adam step, each parameter shrinks by
    ``p -= lr * weight_decay * p`` (PyTorch's convention: the decay is
    scaled by the learning rate, so a schedule that lowers lr lowers the
    decay too). Chainer and the AdamW paper scale it differently, so the
    same ``weight_decay`` number means different things there.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=1e-2, amsgrad=False, *, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps,
                         weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decoupled_weight_decay=True)


@kernels.register("adam_update", "any")
def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr,
                beta1, beta2, eps, weight_decay, decoupled_weight_decay,
                maximize):
    """One Adam/AdamW step for one parameter, in place.

    adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr,
                beta1, beta2, eps, weight_decay, decoupled_weight_decay,
                maximize) -> None

    param, exp_avg, exp_avg_sq: arrays of one shape and dtype, updated in
    place. grad: array of that shape, read only. max_exp_avg_sq: such an
    array updated in place (amsgrad), or None. step: the step number
    (int, 1 on the first step, already counted). lr, beta1, beta2, eps,
    weight_decay: Python floats. decoupled_weight_decay: True for AdamW
    (``p *= 1 - lr * weight_decay``), False for Adam (L2 added to grad).
    maximize: bool.

    Works in param's dtype (float32 stays float32) with one temporary array
    (two when the gradient must first be negated or get the L2 term).
    """
    xp = get_array_module(param)
    lr, beta1, beta2 = float(lr), float(beta1), float(beta2)
    eps, weight_decay = float(eps), float(weight_decay)

    if decoupled_weight_decay and weight_decay != 0:
        xp.multiply(param, 1.0 - lr * weight_decay, out=param)

    # g: the gradient the moments see, (-grad if maximize else grad) plus
    # the L2 term for Adam. A new array only when it differs from grad,
    # which belongs to the caller and must not change.
    l2 = 0.0 if decoupled_weight_decay else weight_decay
    g = decayed_gradient(param, grad, l2, maximize, copy=False)

    # v = beta2 * v + (1 - beta2) * g * g
    work = xp.multiply(g, g, out=xp.empty_like(g))
    xp.multiply(work, 1.0 - beta2, out=work)
    xp.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
    xp.add(exp_avg_sq, work, out=exp_avg_sq)
    # m = beta1 * m + (1 - beta1) * g
    xp.multiply(g, 1.0 - beta1, out=work)
    xp.multiply(exp_avg, beta1, out=exp_avg)
    xp.add(exp_avg, work, out=exp_avg)

    second_moment = exp_avg_sq
    if max_exp_avg_sq is not None:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        second_moment = max_exp_avg_sq

    # The bias corrections are Python floats: computed once per step, and
    # weak scalars, so they never promote a float32 array.
    step_size = lr / (1.0 - beta1 ** step)
    bias_correction2_sqrt = math.sqrt(1.0 - beta2 ** step)
    # denom = sqrt(v) / sqrt(1 - beta2 ** t) + eps, then work = m / denom
    xp.sqrt(second_moment, out=work)
    xp.divide(work, bias_correction2_sqrt, out=work)
    xp.add(work, eps, out=work)
    xp.divide(exp_avg, work, out=work)
    # param -= step_size * m / denom
    xp.multiply(work, step_size, out=work)
    xp.subtract(param, work, out=param)
