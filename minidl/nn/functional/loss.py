"""Losses: cross_entropy, nll_loss, mse_loss (PyTorch's definitions).

Shapes: input (N, C) or (N, C, d1, d2, ...) (or unbatched (C,)); a
class-index target has the input's shape without C, integer dtype; a
class-probability target (cross_entropy only) has the input's shape.

Weighting with class-index targets, as PyTorch: element i with target t_i
gets weight w[t_i] (1 without `weight`) and weight 0 when t_i equals
`ignore_index`. reduction='mean' divides the summed loss by the sum of
those weights (not by the number of elements); 'sum' sums; 'none' keeps
one loss per element.
"""
import math
import warnings

import numpy as np

from ... import kernels
from ...autograd.function import Function
from ...backend import get_array_module
from ...tensor import Tensor, as_tensor
from .activation import log_softmax, softmax
from .smooth_activations import softplus

_REDUCTIONS = ("none", "mean", "sum")


# -- checks shared by the losses -------------------------------------------------

def _check_reduction(op, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError("{}: reduction must be 'none', 'mean' or 'sum', got "
                         "{!r}".format(op, reduction))


def _batched(op, input, target):
    """input and target with a batch dim added when input is unbatched (C,)."""
    if input.ndim == 0:
        raise ValueError("{}: input must have a class dim, got a 0-d tensor"
                         .format(op))
    if input.ndim == 1:
        return input.unsqueeze(0), target.reshape((1,) + target.shape), True
    return input, target, False


def _class_targets(op, input, target, ignore_index):
    """Check an integer class-index target against input (N, C, *).

    Returns the target array reshaped to (N, S), S the product of *.
    """
    xp = get_array_module(input.data)
    expected = (input.shape[0],) + input.shape[2:]
    if target.dtype.kind not in "iu":
        raise ValueError(
            "{}: class-index target must have an integer dtype, got {} (target "
            "shape {}, input shape {}){}".format(
                op, target.dtype, target.shape, input.shape,
                "; a float target of the input's shape is read as class "
                "probabilities by cross_entropy" if op == "cross_entropy"
                else ""))
    if target.shape != expected:
        raise ValueError("{}: target of shape {} does not fit input of shape {} "
                         "(expected target shape {})".format(
                             op, target.shape, input.shape, expected))
    classes = input.shape[1]
    labels = xp.asarray(target.data)
    bad = ((labels < 0) | (labels >= classes)) & (labels != ignore_index)
    if bool(bad.any()):
        value = int(labels[bad].reshape(-1)[0])
        raise ValueError("{}: target value {} is out of range: classes are "
                         "0..{} (ignore_index {}); input shape {}, target shape "
                         "{}".format(op, value, classes - 1, ignore_index,
                                     input.shape, target.shape))
    return labels.reshape(input.shape[0], -1)


def _class_weight(op, weight, input):
    """The (C,) weight array in input's dtype, or None."""
    if weight is None:
        return None
    if tuple(weight.shape) != (input.shape[1],):
        raise ValueError("{}: weight of shape {} does not match the {} classes "
                         "of input of shape {} (expected ({},))".format(
                             op, tuple(weight.shape), input.shape[1],
                             input.shape, input.shape[1]))
    data = weight.data if hasattr(weight, "grad_fn") else weight
    return get_array_module(input.data).asarray(data, dtype=input.dtype)


def _as_three_dims(value):
    """An (N, C, *) array or Tensor as (N, C, S), S = prod(*) (a view when
    it is contiguous)."""
    return value.reshape(value.shape[0], value.shape[1], -1)


def _restore(loss, target_shape, unbatched):
    """A 'none' loss (N, S) back to the target's shape."""
    return loss.reshape(target_shape[1:] if unbatched else target_shape)


# -- the fused softmax cross-entropy ------------------------------------------------

def _target_weights(target, weight, ignore_index, dtype):
    """(safe_target, target_weight) for integer class targets (arrays).

    safe_target is target with ignored entries set to class 0 (so it can
    index); target_weight is w[target] (1 without weights), 0 where ignored.
    """
    xp = get_array_module(target)
    kept = target != ignore_index
    safe_target = xp.where(kept, target, 0)
    if weight is None:
        return safe_target, kept.astype(dtype)
    return safe_target, weight[safe_target] * kept


@kernels.register("softmax_cross_entropy")
def softmax_cross_entropy(logits, target, weight, ignore_index,
                          label_smoothing):
    """Cross-entropy of logits with class indices, on arrays.

    logits: (N, C, S) array; target: (N, S) integer array (values in [0, C)
    or ignore_index); weight: (C,) array of logits' dtype, or None;
    label_smoothing: a float in [0, 1].

    Returns (loss, target_weight, probabilities): loss (N, S) is each
    element's weighted loss (0 where ignored), target_weight (N, S) is
    w[t] (0 where ignored), probabilities (N, C, S) = softmax over C.
    All of logits' dtype. With logp = log_softmax(logits), eps =
    label_smoothing:
        loss = (1 - eps) * (-w[t] logp[t]) + eps / C * (-sum_c w[c] logp[c])
    Stable for large logits: the max over C is subtracted first.
    """
    xp = get_array_module(logits)
    classes = logits.shape[1]
    shifted = logits - logits.max(axis=1, keepdims=True)
    exponentials = xp.exp(shifted)
    total = exponentials.sum(axis=1, keepdims=True)
    log_probabilities = shifted - xp.log(total)
    probabilities = exponentials / total
    safe_target, target_weight = _target_weights(target, weight, ignore_index,
                                                 logits.dtype)
    picked = xp.take_along_axis(log_probabilities, safe_target[:, None, :],
                                axis=1)[:, 0, :]
    loss = -picked * target_weight
    if label_smoothing:
        if weight is None:
            smooth = -log_probabilities.sum(axis=1)
        else:
            smooth = -(log_probabilities * weight[None, :, None]).sum(axis=1)
        loss = (1 - label_smoothing) * loss \
            + (label_smoothing / classes) * (smooth * (target != ignore_index))
    return loss, target_weight, probabilities


class GradientTerms:
    """The two constant arrays of the cross-entropy gradient
    grad = g * (p * factor - constant), from the class targets.

    target (N, S) integer class indices, weight (C,) or None, classes C.
    With eps = label_smoothing, kept = (target != ignore_index) and
    w[t] the target's weight (0 where ignored):
        factor   (N, 1, S) = (1 - eps) w[t] + eps / C * sum(w) * kept
        constant (N, C, S) = (1 - eps) w[t] onehot(t) + eps / C * w * kept
    Both in `dtype`.
    """

    def __init__(self, target, weight, ignore_index, label_smoothing, classes,
                 dtype):
        xp = get_array_module(target)
        kept = target != ignore_index
        _, target_weight = _target_weights(target, weight, ignore_index, dtype)
        keep = 1 - label_smoothing
        smooth = label_smoothing / classes
        onehot = xp.arange(classes).reshape(1, classes, 1) == target[:, None, :]
        factor = keep * target_weight
        constant = onehot * (keep * target_weight)[:, None, :]
        if label_smoothing:
            class_weight = xp.ones(classes, dtype=dtype) if weight is None \
                else weight
            factor = factor + smooth * class_weight.sum() * kept
            constant = constant + smooth * class_weight[None, :, None] \
                * kept[:, None, :]
        self.factor = factor[:, None, :].astype(dtype, copy=False)
        self.constant = constant.astype(dtype, copy=False)


@kernels.register("softmax_cross_entropy_backward")
def softmax_cross_entropy_backward(grad_loss, probabilities, target, weight,
                                   target_weight, ignore_index,
                                   label_smoothing):
    """Gradient of :func:`softmax_cross_entropy`'s loss w.r.t. the logits.

    grad_loss: (N, S) array (the gradient of each element's loss);
    probabilities: (N, C, S); target, target_weight: (N, S); weight: (C,)
    or None. Returns the (N, C, S) gradient:
        grad = g * ((1 - eps) * w[t] * (p - onehot(t))
                    + eps / C * (p * sum_c w[c] - w) * kept)
    = g * (p * factor - constant) (see :class:`GradientTerms`).
    """
    terms = GradientTerms(target, weight, ignore_index, label_smoothing,
                          probabilities.shape[1], probabilities.dtype)
    g = grad_loss[:, None, :]
    grad = probabilities * (g * terms.factor)
    grad -= terms.constant * g
    return grad


class SoftmaxCrossEntropy(Function):
    """loss = reduce(cross-entropy of softmax(x) over dim 1, class indices t).

    Shapes: x (N, C, *) logits, seen as (N, C, S) with S = prod(*); t (N, S)
    (held by the op, no gradient); output () for 'mean'/'sum', the target's
    shape (N, *) for 'none'.

    dx = g_i * ((1 - eps) w[t] (p - onehot(t)) + eps / C (p sum(w) - w)),
    with g_i the gradient of element i's loss (the output gradient divided
    by sum(w[t]) for 'mean'), computed by the op
    :class:`SoftmaxCrossEntropyBackward` (the fused kernel), whose own
    backward is the second derivative.
    """

    def __init__(self, target, weight, ignore_index, reduction,
                 label_smoothing):
        self.target, self.weight = target, weight
        self.ignore_index, self.reduction = ignore_index, reduction
        self.label_smoothing = label_smoothing

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, logits):
        xp = get_array_module(logits)
        cross_entropy_kernel = kernels.get("softmax_cross_entropy", xp)
        loss, self.target_weight, self.probabilities = cross_entropy_kernel(
            _as_three_dims(logits), self.target, self.weight,
            self.ignore_index, self.label_smoothing)
        if self.reduction == "none":
            return loss.reshape(logits.shape[:1] + logits.shape[2:])
        total = loss.sum()
        if self.reduction == "mean":
            self.weight_sum = self.target_weight.sum().item()
            # 0 / 0 = nan when every target is ignored, as in PyTorch
            # (quietly: NumPy would warn).
            with np.errstate(invalid="ignore", divide="ignore"):
                total = total / self.weight_sum
        return xp.asarray(total, dtype=logits.dtype)

    def grad_scale(self):
        """What each element's loss gradient is, per unit of output gradient.

        If every element is ignored the 'mean' is 0 / 0 = nan and the
        gradient 0, as in PyTorch.
        """
        if self.reduction == "mean":
            return 1 / self.weight_sum if self.weight_sum else 0.0
        return 1.0

    def backward(self, g):
        logits, = self.saved_tensors
        return SoftmaxCrossEntropyBackward(self)(logits, g)


class SoftmaxCrossEntropyBackward(Function):
    """dx = the gradient of :class:`SoftmaxCrossEntropy`, from (x, g).

    Shapes: logits x (N, C, *), g the loss's gradient (() for 'mean' and
    'sum', (N, *) for 'none'); dx like x. Forward: the fused
    ``"softmax_cross_entropy_backward"`` kernel on the probabilities
    p = softmax(x) the loss computed,
        dx = e * (p * factor - constant),  e = g * scale per element
    (:class:`GradientTerms`; scale is 1 / sum(w[t]) for 'mean', else 1).

    Backward, for the gradient ggx of dx (Tensor ops, differentiable again):
        dg = scale * sum over C (and over every element, for 'mean' and
             'sum') of ggx * (p * factor - constant)
        dx = p * (u - sum_c(u * p)),  u = ggx * e * factor
    (the softmax's transposed Jacobian applied to u).
    """

    def __init__(self, loss):
        self.target, self.reduction = loss.target, loss.reduction
        self.weight, self.ignore_index = loss.weight, loss.ignore_index
        self.label_smoothing = loss.label_smoothing
        self.target_weight = loss.target_weight
        self.probabilities, self.scale = loss.probabilities, loss.grad_scale()

    def to_save(self, inputs, outputs):
        return inputs  # the logits and g

    def forward(self, logits, g):
        xp = get_array_module(logits)
        # The gradient of each element's loss, as an (N, S) array.
        grad_loss = g * g.dtype.type(self.scale)
        grad_loss = xp.broadcast_to(grad_loss.reshape(self.target.shape)
                                    if self.reduction == "none" else grad_loss,
                                    self.target.shape)
        backward = kernels.get("softmax_cross_entropy_backward", xp)
        grad = backward(grad_loss, self.probabilities, self.target,
                        self.weight, self.target_weight, self.ignore_index,
                        self.label_smoothing)
        return grad.reshape(logits.shape)

    def backward(self, ggx):
        logits, g = self.saved_tensors
        terms = GradientTerms(self.target, self.weight, self.ignore_index,
                              self.label_smoothing, logits.shape[1],
                              logits.dtype)
        factor = Tensor(terms.factor)
        probabilities = softmax(_as_three_dims(logits), 1)
        ggx = _as_three_dims(ggx)
        # e: g * scale as (N, 1, S), to broadcast over the classes.
        e = g * self.scale
        if self.reduction == "none":
            e = e.reshape(self.target.shape).unsqueeze(1)
        else:
            e = e.reshape(1, 1, 1).expand(self.target.shape[0], 1,
                                          self.target.shape[1])
        per_element = (ggx * (probabilities * factor
                              - Tensor(terms.constant))).sum(1)
        if self.reduction == "none":
            dg = per_element.reshape(g.shape) * self.scale
        else:
            dg = per_element.sum().reshape(g.shape) * self.scale
        u = ggx * e * factor
        dx = probabilities * (u - (u * probabilities).sum(1, keepdim=True))
        return dx.reshape(logits.shape), dg


def cross_entropy(input, target, weight=None, ignore_index=-100,
                  reduction="mean", label_smoothing=0.0):
    """Cross-entropy between logits `input` and `target` (PyTorch's F.cross_entropy).

    input: (N, C, *) logits (or (C,)). target: class indices (N, *) of an
    integer dtype, or class probabilities of input's shape (floats).
    weight: (C,) class weights (no gradient). label_smoothing eps mixes the
    target with the uniform distribution: (1 - eps) target + eps / C.
    Computed from log_softmax, so logits of any magnitude are fine.
    """
    op = "cross_entropy"
    _check_reduction(op, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError("cross_entropy: label_smoothing must be in [0, 1], "
                         "got {}".format(label_smoothing))
    target = as_tensor(target)
    if target.dtype.kind == "f":
        if ignore_index != -100:
            raise ValueError("cross_entropy: ignore_index ({}) is not supported "
                             "for class-probability (float) targets; target "
                             "shape {}".format(ignore_index, target.shape))
        return _cross_entropy_probabilities(input, target, weight, reduction,
                                            label_smoothing)
    batched_input, batched_target, unbatched = _batched(op, input, target)
    labels = _class_targets(op, batched_input, batched_target, ignore_index)
    weights = _class_weight(op, weight, batched_input)
    function = SoftmaxCrossEntropy(labels, weights, ignore_index, reduction,
                                   float(label_smoothing))
    loss = function(batched_input)
    if reduction == "none" and unbatched:
        return loss.reshape(())
    return loss


def _cross_entropy_probabilities(input, target, weight, reduction,
                                 label_smoothing):
    """Cross-entropy with class-probability targets (Tensor ops).

    loss_i = -sum_c w[c] q[i, c] logp[i, c], q = (1 - eps) target + eps / C;
    'mean' divides by the number of elements N * prod(*) (not by weights).
    """
    op = "cross_entropy"
    if target.shape != input.shape:
        raise ValueError(
            "cross_entropy: a float target is read as class probabilities and "
            "must have the input's shape {}, got target of shape {} and dtype "
            "{} (class indices need an integer dtype)".format(
                input.shape, target.shape, target.dtype))
    batched_input, batched_target, unbatched = _batched(op, input, target)
    classes = batched_input.shape[1]
    target = batched_target.to(dtype=batched_input.dtype)
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    log_probabilities = log_softmax(batched_input, 1)
    weights = _class_weight(op, weight, batched_input)
    if weights is not None:
        shape = (1, classes) + (1,) * (batched_input.ndim - 2)
        log_probabilities = log_probabilities * Tensor(weights.reshape(shape))
    loss = -(target * log_probabilities).sum(1)
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / (loss.numel() if loss.numel() else float("nan"))
    return loss.reshape(loss.shape[1:]) if unbatched else loss


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood: -w[t] * input[t] (PyTorch's F.nll_loss).

    input: (N, C, *) log-probabilities (or (C,)); target: (N, *) class
    indices. The gradient is -w[t] at the target class (divided by
    sum(w[t]) for 'mean'), 0 elsewhere; built from gather, so it is
    differentiable again.
    """
    op = "nll_loss"
    _check_reduction(op, reduction)
    target = as_tensor(target)
    batched_input, batched_target, unbatched = _batched(op, input, target)
    labels = _class_targets(op, batched_input, batched_target, ignore_index)
    weights = _class_weight(op, weight, batched_input)
    safe_labels, target_weight = _target_weights(labels, weights, ignore_index,
                                                 batched_input.dtype)
    picked = _as_three_dims(batched_input).gather(
        1, Tensor(safe_labels[:, None, :])).squeeze(1)
    loss = -picked * Tensor(target_weight)
    if reduction == "none":
        return _restore(loss, batched_target.shape, unbatched)
    total = loss.sum()
    if reduction == "sum":
        return total
    weight_sum = target_weight.sum().item()
    if weight_sum == 0:  # every element ignored: nan, gradient 0 (as PyTorch)
        return total * 0 + float("nan")
    return total / weight_sum


def mse_loss(input, target, reduction="mean"):
    """Mean squared error: (input - target)^2, reduced (PyTorch's F.mse_loss).

    Gradient 2 (input - target) (divided by the element count for 'mean');
    the target gets the opposite one if it requires grad.
    """
    op = "mse_loss"
    _check_reduction(op, reduction)
    target = as_tensor(target, like=input)
    if target.shape != input.shape:
        warnings.warn("mse_loss: target of shape {} differs from input of shape "
                      "{}; they will be broadcast, which is probably not what "
                      "you want".format(target.shape, input.shape),
                      stacklevel=2)
    difference = input - target
    squared = difference * difference
    if reduction == "none":
        return squared
    if reduction == "sum":
        return squared.sum()
    return squared.mean()


# -- binary cross entropy and the regression losses ------------------------------

def _reduce(loss, reduction, op):
    _check_reduction(op, reduction)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _same_shape_target(op, input, target):
    target = as_tensor(target, like=input)
    if target.shape != input.shape:
        raise ValueError(f"{op}: target of shape {target.shape} must have the input's "
                         f"shape {input.shape}")
    return target.to(dtype=input.dtype) if target.dtype != input.dtype else target


class BinaryCrossEntropy(Function):
    """loss = -(t log(x) + (1 - t) log(1 - x)), each log clamped at -100
    (PyTorch's rule: a probability of exactly 0 or 1 gives a finite loss).

    dx = (x - t) / max(x (1 - x), 1e-12), PyTorch's gradient;
    dt = log(1 - x) - log(x), with the same clamped logs.
    """

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x, t):
        xp = get_array_module(x)
        if x.size and (x.min() < 0 or x.max() > 1):
            raise ValueError("binary_cross_entropy: all elements of input should be "
                             "between 0 and 1")
        with np.errstate(divide="ignore"):
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log1p(-x), -100)
        return -(t * log_x + (1 - t) * log_1mx)

    def backward(self, gy):
        from ...ops.elementwise import log
        x, t = self.saved_tensors
        gx = gt = None
        if self.needs_input_grad[0]:
            gx = gy * (x - t) / (x * (1 - x)).clamp(min=1e-12)
        if self.needs_input_grad[1]:
            gt = gy * ((log(1 - x)).clamp(min=-100) - log(x).clamp(min=-100))
        return gx, gt


def binary_cross_entropy(input, target, weight=None, size_average=None,
                         reduce=None, reduction="mean"):
    """-w (t log(x) + (1 - t) log(1 - x)) for probabilities x in [0, 1],
    reduced (PyTorch's F.binary_cross_entropy)."""
    op = "binary_cross_entropy"
    _check_reduction(op, reduction)
    target = _same_shape_target(op, input, target)
    loss = BinaryCrossEntropy()(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, op)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """BCE on logits x, stably: (1 - t) x + l softplus(-x) with
    l = 1 + (pos_weight - 1) t, times weight, reduced (PyTorch's)."""
    op = "binary_cross_entropy_with_logits"
    _check_reduction(op, reduction)
    target = _same_shape_target(op, input, target)
    log_weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * target
    # softplus with no linear cut-off: logaddexp(0, -x), exact everywhere.
    loss = (1 - target) * input + log_weight * softplus(-input,
                                                        threshold=math.inf)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, op)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """|input - target|, reduced."""
    target = _same_shape_target("l1_loss", input, target)
    return _reduce((input - target).abs(), reduction, "l1_loss")


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean",
                   beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target)."""
    from ...ops.elementwise import where
    target = _same_shape_target("smooth_l1_loss", input, target)
    difference = (input - target).abs()
    if beta == 0:
        return _reduce(difference, reduction, "smooth_l1_loss")
    loss = where(difference.data < beta, 0.5 * difference * difference / beta,
                 difference - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)."""
    from ...ops.elementwise import where
    target = _same_shape_target("huber_loss", input, target)
    difference = (input - target).abs()
    loss = where(difference.data < delta, 0.5 * difference * difference,
                 delta * (difference - 0.5 * delta))
    return _reduce(loss, reduction, "huber_loss")


def kl_div(input, target, size_average=None, reduce=None, reduction="mean",
           log_target=False):
    """t (log t - input) (0 where t = 0), or exp(t) (t - input) with
    log_target; reduction 'batchmean' divides the sum by the batch size."""
    from ...ops.elementwise import exp, log, where
    op = "kl_div"
    target = _same_shape_target(op, input, target)
    if log_target:
        loss = exp(target) * (target - input)
    else:
        positive = target.data > 0
        safe = where(positive, target, 1.0)
        loss = where(positive, target * log(safe), 0.0) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction, op)
