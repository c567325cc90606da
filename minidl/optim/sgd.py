"""SGD: stochastic gradient descent, with momentum and Nesterov momentum.

For each parameter p with gradient g, as in PyTorch::

    g = -g                                  if maximize
    g = g + weight_decay * p                (L2 penalty)
    if momentum != 0:
        b = g                               on the first step
        b = momentum * b + (1 - dampening) * g   afterwards
        g = g + momentum * b                if nesterov
        g = b                               otherwise
    p = p - lr * g
"""
from .. import kernels
from ..backend import get_array_module
from .optimizer import Optimizer, decayed_gradient


class SGD(Optimizer):
    """SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
    nesterov=False, *, maximize=False), PyTorch's arguments and update.

    The momentum buffer of each parameter is ``state[p]["momentum_buffer"]``
    (kept only when momentum != 0). Nesterov momentum needs momentum > 0 and
    dampening = 0.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        for key in ("lr", "momentum", "weight_decay"):
            self._check_non_negative(group, key)
        if not 0 <= group["dampening"] <= 1:
            raise ValueError("SGD: invalid dampening {!r}: expected a number in "
                             "[0, 1]".format(group["dampening"]))
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires momentum > 0 and "
                             "dampening = 0, got momentum={!r}, dampening={!r}"
                             .format(group["momentum"], group["dampening"]))

    def _update_parameter(self, param, grad, state, group):
        xp = get_array_module(param.data)
        momentum_buffer = None
        first_step = False
        if group["momentum"] != 0:
            momentum_buffer = state.get("momentum_buffer")
            if momentum_buffer is None:
                momentum_buffer = xp.empty_like(param.data)
                state["momentum_buffer"] = momentum_buffer
                first_step = True
        sgd_update = kernels.get("sgd_update", xp)
        sgd_update(param.data, grad, momentum_buffer, group["lr"],
                   group["weight_decay"], group["momentum"], group["dampening"],
                   group["nesterov"], group["maximize"], first_step)


@kernels.register("sgd_update", "any")
def sgd_update(param, grad, momentum_buffer, lr, weight_decay, momentum,
               dampening, nesterov, maximize, first_step):
    """One SGD step for one parameter, in place.

    sgd_update(param, grad, momentum_buffer, lr, weight_decay, momentum,
               dampening, nesterov, maximize, first_step) -> None

    param: array (any shape), updated in place. grad: array of param's shape
    and dtype, read only. momentum_buffer: array of param's shape and dtype,
    updated in place, or None when momentum == 0. lr, weight_decay,
    momentum, dampening: Python floats. nesterov, maximize: bools.
    first_step: True when momentum_buffer holds no value yet (it is then
    set to the gradient, as in PyTorch, without dampening).

    Works in param's dtype (float32 stays float32) with one temporary array.
    """
    xp = get_array_module(param)
    lr, weight_decay = float(lr), float(weight_decay)
    momentum, dampening = float(momentum), float(dampening)

    # direction = (-grad if maximize else grad) + weight_decay * param,
    # built in the one temporary array of this step.
    direction = decayed_gradient(param, grad, weight_decay, maximize,
                                 copy=True)

    if momentum_buffer is None:
        update = direction
    elif first_step:
        xp.copyto(momentum_buffer, direction)
        update = momentum_buffer
    else:
        # buffer = momentum * buffer + (1 - dampening) * direction
        xp.multiply(momentum_buffer, momentum, out=momentum_buffer)
        if dampening != 0:  # (Nesterov forbids dampening, so direction is free)
            xp.multiply(direction, 1.0 - dampening, out=direction)
        xp.add(momentum_buffer, direction, out=momentum_buffer)
        update = momentum_buffer

    if momentum_buffer is not None and nesterov:
        # param -= lr * (direction + momentum * buffer), in two in-place
        # subtractions so that no second temporary is needed.
        xp.multiply(direction, lr, out=direction)
        xp.subtract(param, direction, out=param)
        xp.multiply(momentum_buffer, lr * momentum, out=direction)
        xp.subtract(param, direction, out=param)
        return
    # param -= lr * update (the temporary array takes lr * update).
    xp.multiply(update, lr, out=direction)
    xp.subtract(param, direction, out=param)
