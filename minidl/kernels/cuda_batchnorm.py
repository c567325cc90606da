"""Batch normalisation on the GPU.

The NumPy versions are in ``nn/functional/normalization.py``.

Same signatures and results as ``batch_norm_forward`` and
``batch_norm_backward``. An input x (N, C, *) is read as (N, C, S): channel
c holds M = N * S elements, numbered m = image * S + s.

Per-channel sums (the mean, the variance, and in backward sum(gy) and
sum(gy * (x - mean))) are done in two steps, both plain elementwise kernels:

1. ``PARTIAL_SUMS``: `lanes` threads per channel; lane l adds up elements
   l, l + lanes, l + 2 lanes, ... of its channel, in double. Neighbouring
   lanes read neighbouring elements, so the loads are coalesced, and there
   are enough threads (about 64K) to keep a large GPU busy even with 16
   channels.
2. one thread per channel adds up its lanes' partial sums and finishes the
   per-channel numbers (mean, 1/std, the coefficients of the backward).

Then one elementwise pass computes y (or the input gradient). The variance
is computed in two passes, sum((x - mean)^2) after the mean, as the NumPy
version does: E[x^2] - mean^2 loses all precision when |mean| >> std.
"""
from .. import kernels
from .cuda_common import ElementwiseSource, contiguous, index_type

PARTIAL_SUMS = ElementwiseSource(
    "batch_norm_partial_sums",
    "raw T a, raw T a_shift, raw T b, raw T b_shift",
    "int32 channels, int64 spatial, int64 count, int32 lanes",
    "float64 sum_u, float64 sum_uv",
    r"""
    // Thread i = c * lanes + lane (outputs are (C, lanes) arrays) adds up,
    // in double, over the elements m = lane, lane + lanes, ... < M of
    // channel c (element [image, c, s] with m = image * S + s):
    //     u = a - a_shift[c]          into sum_u
    //     u * (b - b_shift[c])        into sum_uv
    const index_t S = (index_t)spatial;  // index arithmetic in index_t
    const index_t M = (index_t)count;
    const index_t c = (index_t)i / lanes;
    const index_t lane = (index_t)i - c * lanes;
    const double shift_a = (double)a_shift[c];
    const double shift_b = (double)b_shift[c];
    double total_u = 0.0;
    double total_uv = 0.0;
    for (index_t m = lane; m < M; m += lanes) {
        const index_t image = m / S;
        const index_t k = (image * channels + c) * S + (m - image * S);
        const double u = (double)a[k] - shift_a;
        total_u += u;
        total_uv += u * ((double)b[k] - shift_b);
    }
    sum_u = total_u;
    sum_uv = total_uv;
    """)

BATCH_MEAN = ElementwiseSource(
    "batch_norm_batch_mean",
    "raw float64 partial_sum",
    "int32 lanes, float64 count",
    "T mean",
    r"""
    // Thread i = channel c: the sum of its lanes' partial sums of x, / M.
    double total = 0.0;
    for (int lane = 0; lane < lanes; ++lane) {
        total += partial_sum[(index_t)i * lanes + lane];
    }
    mean = (T)(total / count);
    """)

BATCH_VARIANCE = ElementwiseSource(
    "batch_norm_batch_variance",
    "raw float64 partial_squares, T weight",
    "int32 lanes, float64 count, float64 eps",
    "T var, T invstd, T scale",
    r"""
    // Thread i = channel c: the biased variance sum((x - mean)^2) / M from
    // its lanes' partial sums, invstd = 1 / sqrt(var + eps), and the scale
    // of the normalisation, invstd * weight.
    double total = 0.0;
    for (int lane = 0; lane < lanes; ++lane) {
        total += partial_squares[(index_t)i * lanes + lane];
    }
    const T variance = (T)(total / count);
    var = variance;
    invstd = (T)1 / sqrt(variance + (T)eps);
    scale = invstd * weight;
    """)

RUNNING_STATISTICS = ElementwiseSource(
    "batch_norm_running_statistics",
    "T var, T weight",
    "float64 eps",
    "T invstd, T scale",
    r"""
    // Thread i = channel c, in eval mode (var given): invstd and the scale.
    invstd = (T)1 / sqrt(var + (T)eps);
    scale = invstd * weight;
    """)

NORMALIZE = ElementwiseSource(
    "batch_norm_normalize",
    "T x, raw T mean, raw T scale, raw T bias",
    "int32 channels, int64 spatial",
    "T y",
    r"""
    // Thread i normalises element i of x (N, C, S): c = (i / S) % C.
    const index_t c = ((index_t)i / (index_t)spatial) % channels;
    y = (x - mean[c]) * scale[c] + bias[c];
    """)

BACKWARD_COEFFICIENTS = ElementwiseSource(
    "batch_norm_backward_coefficients",
    "raw float64 partial_g, raw float64 partial_g_centred, T weight, T invstd",
    "int32 lanes, float64 count",
    "T grad_weight, T grad_bias, T input_scale, T centred_scale, "
    "T grad_bias_mean",
    r"""
    // Thread i = channel c. From its lanes' partial sums of gy and of
    // gy * (x - mean):
    //   grad_bias = sum(gy), grad_weight = sum(gy * (x - mean)) * invstd,
    // and the per-channel coefficients of the input gradient
    //   gx = ((x - mean) * centred_scale + gy - grad_bias_mean) * input_scale
    // with input_scale = weight * invstd, centred_scale =
    // -invstd * grad_weight / M, grad_bias_mean = grad_bias / M.
    double total_g = 0.0;
    double total_g_centred = 0.0;
    for (int lane = 0; lane < lanes; ++lane) {
        total_g += partial_g[(index_t)i * lanes + lane];
        total_g_centred += partial_g_centred[(index_t)i * lanes + lane];
    }
    const T gb = (T)total_g;
    const T gw = (T)total_g_centred * invstd;
    grad_bias = gb;
    grad_weight = gw;
    input_scale = weight * invstd;
    centred_scale = -(invstd * gw / (T)count);
    grad_bias_mean = gb / (T)count;
    """)

GRAD_INPUT = ElementwiseSource(
    "batch_norm_grad_input",
    "T grad_output, T x, raw T mean, raw T input_scale, raw T centred_scale, "
    "raw T grad_bias_mean",
    "int32 channels, int64 spatial, int32 training",
    "T grad_input",
    r"""
    // Thread i computes element i of gx (N, C, S), c = (i / S) % C. In
    // training mode mean and invstd depend on x, which adds two terms:
    //   gx = ((x - mean) * centred_scale + gy - grad_bias_mean) * input_scale
    // in eval mode they are constants: gx = gy * input_scale.
    const index_t c = ((index_t)i / (index_t)spatial) % channels;
    if (training) {
        grad_input = (((x - mean[c]) * centred_scale[c] + grad_output)
                      - grad_bias_mean[c]) * input_scale[c];
    } else {
        grad_input = grad_output * input_scale[c];
    }
    """)


_ZEROS = {}


def _zeros(channels, dtype):
    """A read-only (C,) array of zeros (the shift of a plain sum), made once
    per device, size and dtype: one kernel launch fewer per call."""
    import cupy
    key = (cupy.cuda.Device().id, channels, dtype.str)
    if key not in _ZEROS:
        _ZEROS[key] = cupy.zeros(channels, dtype=dtype)
    return _ZEROS[key]


def _lanes(channels, count):
    """Threads per channel for PARTIAL_SUMS: about 64K threads in all, but
    at most 1024 per channel and each summing at least 32 elements."""
    return max(1, min(65536 // max(channels, 1), count // 32, 1024))


def _partial_sums(a, a_shift, b, b_shift):
    """PARTIAL_SUMS over (N, C, S) arrays a and b: two (C, lanes) float64
    arrays, and lanes."""
    import cupy
    n, c, s = a.shape
    count = n * s
    lanes = _lanes(c, count)
    sum_u = cupy.empty((c, lanes), dtype=cupy.float64)
    sum_uv = cupy.empty((c, lanes), dtype=cupy.float64)
    kernel = PARTIAL_SUMS.kernel(index_type(a.size + lanes))
    kernel(a, a_shift, b, b_shift, c, s, count, lanes, sum_u, sum_uv)
    return sum_u, sum_uv, lanes


@kernels.register("batch_norm_forward", "cupy")
def batch_norm_forward(x, weight, bias, mean, var, eps):
    """``(y, mean, var, invstd)``: same contract as the NumPy
    ``batch_norm_forward`` (mean and var None: the batch's statistics)."""
    import cupy
    n, c = x.shape[:2]
    x3 = contiguous(x).reshape(n, c, -1)
    count = n * x3.shape[2]
    dtype = x.dtype
    weight = contiguous(weight.astype(dtype, copy=False))
    bias = contiguous(bias.astype(dtype, copy=False))
    invstd = cupy.empty(c, dtype=dtype)
    scale = cupy.empty(c, dtype=dtype)
    if mean is None:
        zeros = _zeros(c, dtype)
        sums, _, lanes = _partial_sums(x3, zeros, x3, zeros)
        mean = cupy.empty(c, dtype=dtype)
        BATCH_MEAN.kernel()(sums, lanes, float(count), mean)
        _, squares, lanes = _partial_sums(x3, mean, x3, mean)
        var = cupy.empty(c, dtype=dtype)
        BATCH_VARIANCE.kernel()(squares, weight, lanes, float(count),
                                float(eps), var, invstd, scale)
    else:
        mean = contiguous(mean.astype(dtype, copy=False))
        var = var.astype(dtype, copy=False)
        RUNNING_STATISTICS.kernel()(var, weight, float(eps), invstd, scale)
    y = cupy.empty_like(x3)
    NORMALIZE.kernel(index_type(x3.size))(x3, mean, scale, bias, c,
                                          x3.shape[2], y)
    return y.reshape(x.shape), mean, var, invstd


@kernels.register("batch_norm_backward", "cupy")
def batch_norm_backward(grad_output, x, weight, mean, invstd, training):
    """``(grad_input, grad_weight, grad_bias)``: same contract as the NumPy
    ``batch_norm_backward``."""
    import cupy
    n, c = x.shape[:2]
    x3 = contiguous(x).reshape(n, c, -1)
    g3 = contiguous(grad_output).reshape(n, c, -1)
    count = n * x3.shape[2]
    dtype = x.dtype
    mean = contiguous(mean.astype(dtype, copy=False))
    zeros = _zeros(c, dtype)
    sum_g, sum_g_centred, lanes = _partial_sums(g3, zeros, x3, mean)
    grad_weight, grad_bias, input_scale, centred_scale, grad_bias_mean = (
        cupy.empty(c, dtype=dtype) for _ in range(5))
    BACKWARD_COEFFICIENTS.kernel()(
        sum_g, sum_g_centred, weight.astype(dtype, copy=False),
        invstd.astype(dtype, copy=False), lanes, float(count), grad_weight,
        grad_bias, input_scale, centred_scale, grad_bias_mean)
    grad_input = cupy.empty_like(x3)
    GRAD_INPUT.kernel(index_type(x3.size))(
        g3, x3, mean, input_scale, centred_scale, grad_bias_mean, c,
        x3.shape[2], int(bool(training)), grad_input)
    return grad_input.reshape(x.shape), grad_weight, grad_bias
