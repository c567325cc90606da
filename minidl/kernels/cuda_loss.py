"""Softmax cross-entropy on the GPU (the NumPy versions: ``nn/functional/loss.py``).

Same signatures and results as ``softmax_cross_entropy`` and
``softmax_cross_entropy_backward``. Logits are (N, C, S): the softmax runs
over C for each of the N * S rows (image, s), whose C values lie S apart
in memory.

Forward, two kernels:

1. ``ROWS``: one thread per row finds the largest logit, the sum of
   exp(logit - largest) (in double), and the row's loss and target weight.
2. ``PROBABILITIES``: one thread per element, p = exp(logit - largest) /
   sum. Separate from 1 so that the writes of all C * N * S probabilities
   are spread over that many threads (coalesced) instead of C per thread.

Backward: one thread per element of the (N, C, S) gradient.
"""
from .. import kernels
from .cuda_common import ElementwiseSource, contiguous, index_type, scalar

ROWS = ElementwiseSource(
    "softmax_cross_entropy_rows",
    "raw T logits, I target, raw T class_weight",
    "int32 classes, int64 spatial, int64 ignore_index, T keep_fraction, "
    "T smooth_fraction, int32 smoothing",
    "T loss, T target_weight, T row_max, T row_sum",
    r"""
    // Thread i = row (image, s) of the (N, S) outputs; its logits are
    // logits[image, c, s] = logits[first + c * S]. With logp the log-softmax
    // and w the class weights (1 without weights), eps = label smoothing:
    //   loss = keep_fraction * (-w[t] logp[t])
    //          + smooth_fraction * (-sum_c w[c] logp[c])   (if smoothing)
    // keep_fraction = 1 - eps, smooth_fraction = eps / C; 0 where target is
    // ignore_index. The largest logit is subtracted before exp(), so exp()
    // never overflows; a NaN logit makes the whole row NaN.
    const index_t S = (index_t)spatial;  // index arithmetic in index_t
    const index_t image = (index_t)i / S;
    const index_t first = image * classes * S + ((index_t)i - image * S);
    T largest = logits[first];
    for (int c = 1; c < classes; ++c) {
        const T value = logits[first + c * S];
        if (value > largest || isnan(value)) largest = value;
    }
    double total = 0.0;
    for (int c = 0; c < classes; ++c) {
        total += (double)exp(logits[first + c * S] - largest);
    }
    const T sum = (T)total;
    const T log_sum = log(sum);
    row_max = largest;
    row_sum = sum;
    const bool kept = target != ignore_index;
    const index_t t = kept ? (index_t)target : 0;
    const T weight = class_weight[t] * (T)kept;
    target_weight = weight;
    const T picked = (logits[first + t * S] - largest) - log_sum;
    T result = -picked * weight;
    if (smoothing) {
        double weighted = 0.0;  // sum_c w[c] logp[c]
        for (int c = 0; c < classes; ++c) {
            const T logp = (logits[first + c * S] - largest) - log_sum;
            weighted += (double)(logp * class_weight[c]);
        }
        result = keep_fraction * result
                 + smooth_fraction * (-(T)weighted * (T)kept);
    }
    loss = result;
    """)

PROBABILITIES = ElementwiseSource(
    "softmax_cross_entropy_probabilities",
    "T logits, raw T row_max, raw T row_sum",
    "int32 classes, int64 spatial",
    "T probabilities",
    r"""
    // Thread i = element (image, c, s) of (N, C, S): the softmax of its
    // logit within row (image, s), from that row's largest logit and sum.
    const index_t S = (index_t)spatial;  // index arithmetic in index_t
    const index_t image = (index_t)i / (classes * S);
    const index_t row = image * S + (index_t)i % S;
    probabilities = exp(logits - row_max[row]) / row_sum[row];
    """)

BACKWARD = ElementwiseSource(
    "softmax_cross_entropy_backward",
    "T probabilities, raw T grad_loss, raw I target, raw T target_weight, "
    "raw T class_weight, raw T weight_total",
    "int32 classes, int64 spatial, int64 ignore_index, T keep_fraction, "
    "T smooth_fraction, int32 smoothing",
    "T grad",
    r"""
    // Thread i = element (image, c, s) of the (N, C, S) gradient of the
    // logits, in row (image, s) with loss gradient g = grad_loss[row]:
    //   grad = g * (p * per_row - onehot_part - smooth_part)
    //   per_row     = keep_fraction * w[t] (+ smooth_fraction * sum(w) * kept)
    //   onehot_part = keep_fraction * w[t] if c == t, else 0
    //   smooth_part = smooth_fraction * w[c] * kept   (if smoothing)
    // computed in the NumPy kernel's order.
    const index_t S = (index_t)spatial;  // index arithmetic in index_t
    const index_t image = (index_t)i / (classes * S);
    const index_t c = ((index_t)i / S) % classes;
    const index_t row = image * S + (index_t)i % S;
    const T g = grad_loss[row];
    const T kept = (T)(target[row] != ignore_index);
    const T target_part = keep_fraction * target_weight[row];
    T per_row = target_part;
    if (smoothing) {
        per_row += smooth_fraction * weight_total[0] * kept;
    }
    T result = probabilities * (g * per_row);
    const T onehot_part = (target[row] == c) ? target_part : (T)0;
    result -= onehot_part * g;
    if (smoothing) {
        result -= smooth_fraction * class_weight[c] * kept * g;
    }
    grad = result;
    """)


def _class_weight(weight, classes, like):
    """The (C,) class weights as a contiguous array of like's dtype (ones
    when there are none: the same arithmetic as no weighting)."""
    import cupy
    if weight is None:
        return cupy.ones(classes, dtype=like.dtype)
    return contiguous(weight.astype(like.dtype, copy=False))


def _smoothing_scalars(label_smoothing, classes, like):
    """keep_fraction = 1 - eps, smooth_fraction = eps / C (in like's dtype),
    and whether there is smoothing at all."""
    label_smoothing = float(label_smoothing)
    return (scalar(1.0 - label_smoothing, like),
            scalar(label_smoothing / classes, like),
            int(label_smoothing != 0))


@kernels.register("softmax_cross_entropy", "cupy")
def softmax_cross_entropy(logits, target, weight, ignore_index,
                          label_smoothing):
    """``(loss, target_weight, probabilities)``: same contract as the NumPy
    ``softmax_cross_entropy`` (logits (N, C, S), target (N, S))."""
    import cupy
    n, classes, spatial = logits.shape
    logits = contiguous(logits)
    dtype = logits.dtype
    class_weight = _class_weight(weight, classes, logits)
    keep_fraction, smooth_fraction, smoothing = _smoothing_scalars(
        label_smoothing, classes, logits)
    loss, target_weight, row_max, row_sum = (
        cupy.empty((n, spatial), dtype=dtype) for _ in range(4))
    ROWS.kernel(index_type(logits.size))(
        logits, target, class_weight, classes, spatial, int(ignore_index),
        keep_fraction, smooth_fraction, smoothing, loss, target_weight,
        row_max, row_sum)
    probabilities = cupy.empty_like(logits)
    PROBABILITIES.kernel(index_type(logits.size))(
        logits, row_max, row_sum, classes, spatial, probabilities)
    return loss, target_weight, probabilities


@kernels.register("softmax_cross_entropy_backward", "cupy")
def softmax_cross_entropy_backward(grad_loss, probabilities, target, weight,
                                   target_weight, ignore_index,
                                   label_smoothing):
    """The (N, C, S) gradient of the logits: same contract as the NumPy
    ``softmax_cross_entropy_backward``."""
    import cupy
    n, classes, spatial = probabilities.shape
    dtype = probabilities.dtype
    class_weight = _class_weight(weight, classes, probabilities)
    keep_fraction, smooth_fraction, smoothing = _smoothing_scalars(
        label_smoothing, classes, probabilities)
    # sum(w) as a (1,) array, read only with smoothing (otherwise the
    # kernel is handed class_weight, which it does not read either).
    weight_total = class_weight.sum(keepdims=True) if smoothing \
        else class_weight
    grad = cupy.empty((n, classes, spatial), dtype=dtype)
    BACKWARD.kernel(index_type(probabilities.size))(
        probabilities, contiguous(grad_loss.astype(dtype, copy=False)),
        contiguous(target), contiguous(target_weight.astype(dtype, copy=False)),
        class_weight, weight_total, classes, spatial, int(ignore_index),
        keep_fraction, smooth_fraction, smoothing, grad)
    return grad
