"""Fused optimizer updates on the GPU (the NumPy versions: ``optim/sgd.py``,
``optim/adam.py``).

Same signatures and results as ``sgd_update`` and ``adam_update``. Each
update is ONE elementwise kernel: every thread reads its parameter, its
gradient and its state once, does the whole update in registers and writes
the parameter and the state back once. The NumPy version makes several
passes over memory instead (one per array operation). The steps follow the
NumPy version's order of operations, so the results round the same way up
to fused multiply-adds.

Hyper-parameters arrive as scalars of the parameter's dtype (``T``), so
float32 parameters are updated in float32; combinations such as
1 - lr * weight_decay are computed once per step in Python (float64), as
the NumPy version does.
"""
import math

from .. import kernels
from .cuda_common import ElementwiseSource, scalar

# The gradient step direction shared by both SGD kernels:
# (-grad if maximize else grad) + weight_decay * param.
_SGD_DIRECTION = r"""
    T direction;
    if (has_weight_decay) {
        direction = maximize ? param * weight_decay - grad
                             : param * weight_decay + grad;
    } else {
        direction = maximize ? -grad : grad;
    }
"""

SGD = ElementwiseSource(
    "sgd_update",
    "T grad",
    "T lr, T weight_decay, int32 has_weight_decay, int32 maximize",
    "T param",
    r"""
    // Thread i updates parameter element i: param -= lr * direction.
    """ + _SGD_DIRECTION + r"""
    param = param - direction * lr;
    """)

SGD_MOMENTUM = ElementwiseSource(
    "sgd_momentum_update",
    "T grad",
    "T lr, T weight_decay, T momentum, T dampening_keep, T lr_momentum, "
    "int32 has_weight_decay, int32 maximize, int32 dampen, int32 nesterov, "
    "int32 first_step",
    "T param, T momentum_buffer",
    r"""
    // Thread i updates parameter element i and its momentum buffer b:
    //   b = direction                                   (first step)
    //   b = momentum * b + (1 - dampening) * direction  (afterwards)
    //   param -= lr * direction + (lr * momentum) * b   (Nesterov)
    //   param -= lr * b                                 (otherwise)
    """ + _SGD_DIRECTION + r"""
    T buffer;
    if (first_step) {
        buffer = direction;
    } else {
        buffer = momentum_buffer * momentum;
        buffer = buffer + (dampen ? direction * dampening_keep : direction);
    }
    momentum_buffer = buffer;
    if (nesterov) {
        param = param - direction * lr;
        param = param - buffer * lr_momentum;
    } else {
        param = param - buffer * lr;
    }
    """)

_ADAM_SCALARS = ("T decay_factor, T weight_decay, T beta1, T one_minus_beta1, "
                 "T beta2, T one_minus_beta2, T bias_correction2_sqrt, T eps, "
                 "T step_size, int32 decoupled, int32 has_weight_decay, "
                 "int32 maximize")

# What both Adam kernels do before the second moment is chosen: decay,
# gradient, first and second moments. Leaves p, m and v in registers.
_ADAM_MOMENTS = r"""
    T p = param;
    if (decoupled && has_weight_decay) {
        p = p * decay_factor;                  // AdamW: p *= 1 - lr * wd
    }
    T g;
    if (has_weight_decay && !decoupled) {      // Adam: L2 term in the gradient
        g = maximize ? p * weight_decay - grad : p * weight_decay + grad;
    } else {
        g = maximize ? -grad : grad;
    }
    const T v = exp_avg_sq * beta2 + (g * g) * one_minus_beta2;
    const T m = exp_avg * beta1 + g * one_minus_beta1;
    exp_avg = m;
    exp_avg_sq = v;
"""

# The step from m and the chosen second moment `second`.
_ADAM_STEP = r"""
    const T denom = sqrt(second) / bias_correction2_sqrt + eps;
    param = p - (m / denom) * step_size;
"""

ADAM = ElementwiseSource(
    "adam_update",
    "T grad",
    _ADAM_SCALARS,
    "T param, T exp_avg, T exp_avg_sq",
    r"""
    // Thread i updates parameter element i and its moments m, v:
    //   m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2,
    //   param -= step_size * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
    """ + _ADAM_MOMENTS + r"""
    const T second = v;
    """ + _ADAM_STEP)

ADAM_AMSGRAD = ElementwiseSource(
    "adam_amsgrad_update",
    "T grad",
    _ADAM_SCALARS,
    "T param, T exp_avg, T exp_avg_sq, T max_exp_avg_sq",
    r"""
    // As adam_update, with the running maximum of v in place of v (a NaN
    // in either propagates, as numpy.maximum does).
    """ + _ADAM_MOMENTS + r"""
    const T old_max = max_exp_avg_sq;
    const T second = (old_max > v || isnan(old_max)) ? old_max : v;
    max_exp_avg_sq = second;
    """ + _ADAM_STEP)


@kernels.register("sgd_update", "cupy")
def sgd_update(param, grad, momentum_buffer, lr, weight_decay, momentum,
               dampening, nesterov, maximize, first_step):
    """One SGD step for one parameter, in place: same contract as the NumPy
    ``sgd_update``."""
    lr, weight_decay = float(lr), float(weight_decay)
    momentum, dampening = float(momentum), float(dampening)
    grad = grad.astype(param.dtype, copy=False)
    flags = (int(weight_decay != 0), int(bool(maximize)))
    if momentum_buffer is None:
        SGD.kernel()(grad, scalar(lr, param), scalar(weight_decay, param),
                     *flags, param)
        return
    SGD_MOMENTUM.kernel()(
        grad, scalar(lr, param), scalar(weight_decay, param),
        scalar(momentum, param), scalar(1.0 - dampening, param),
        scalar(lr * momentum, param), *flags, int(dampening != 0),
        int(bool(nesterov)), int(bool(first_step)), param, momentum_buffer)


@kernels.register("adam_update", "cupy")
def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr,
                beta1, beta2, eps, weight_decay, decoupled_weight_decay,
                maximize):
    """One Adam/AdamW step for one parameter, in place: same contract as
    the NumPy ``adam_update``."""
    lr, beta1, beta2 = float(lr), float(beta1), float(beta2)
    eps, weight_decay = float(eps), float(weight_decay)
    grad = grad.astype(param.dtype, copy=False)
    # The bias corrections, once per step in float64 (as the NumPy version).
    step_size = lr / (1.0 - beta1 ** step)
    bias_correction2_sqrt = math.sqrt(1.0 - beta2 ** step)
    scalars = tuple(scalar(value, param) for value in (
        1.0 - lr * weight_decay, weight_decay, beta1, 1.0 - beta1, beta2,
        1.0 - beta2, bias_correction2_sqrt, eps, step_size))
    flags = (int(bool(decoupled_weight_decay)), int(weight_decay != 0),
             int(bool(maximize)))
    if max_exp_avg_sq is None:
        ADAM.kernel()(grad, *scalars, *flags, param, exp_avg, exp_avg_sq)
    else:
        ADAM_AMSGRAD.kernel()(grad, *scalars, *flags, param, exp_avg,
                              exp_avg_sq, max_exp_avg_sq)
