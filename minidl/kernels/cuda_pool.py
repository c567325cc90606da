"""Max pooling on the GPU (the NumPy versions: ``nn/functional/_pool_kernels.py``).

Same signatures and results. A window's choice is its tap number
``ki * KW + kj`` (int32, shape (N, C, OH, OW)).

* Forward: one thread per output element scans its window's taps in
  row-major order, keeping the first maximum (a NaN beats everything, the
  last NaN wins), exactly as the NumPy kernel compares tap by tap.
* Backward: one thread per INPUT element gathers the gradients of the
  windows that chose it (windows may overlap), so no two threads write the
  same element and no atomic additions are needed.
"""
import numpy

from .. import kernels
from .cuda_common import ElementwiseSource, contiguous, index_type

_GEOMETRY = ("int32 height, int32 width, int32 kernel_h, int32 kernel_w, "
             "int32 out_h, int32 out_w, int32 stride_h, int32 stride_w, "
             "int32 pad_h, int32 pad_w, int32 dilation_h, int32 dilation_w")

MAX_POOL_FORWARD = ElementwiseSource(
    "max_pool2d_forward",
    "raw T x", "T negative_infinity, " + _GEOMETRY,
    "T value, int32 tap",
    r"""
    // Thread i computes output element (plane, oh, ow), plane = n * C + c:
    // the largest element of its window and the tap that holds it. Taps in
    // the padding read as -infinity. Tap 0 starts as the choice; a later tap
    // replaces it only when strictly larger (ties keep the earlier one) or
    // NaN (NaN propagates, as in PyTorch).
    index_t rest = i;
    const index_t ow = rest % out_w; rest /= out_w;
    const index_t oh = rest % out_h;
    const index_t plane = rest / out_h;
    const index_t plane_start = plane * height * width;
    T best = negative_infinity;
    int best_tap = 0;
    for (int ki = 0; ki < kernel_h; ++ki) {
        const index_t h = oh * stride_h - pad_h + ki * dilation_h;
        for (int kj = 0; kj < kernel_w; ++kj) {
            const index_t w = ow * stride_w - pad_w + kj * dilation_w;
            const int k = ki * kernel_w + kj;
            T candidate = negative_infinity;
            if (0 <= h && h < height && 0 <= w && w < width) {
                candidate = x[plane_start + h * width + w];
            }
            if (k == 0 || candidate > best || isnan(candidate)) {
                best = candidate;
                best_tap = k;
            }
        }
    }
    value = best;
    tap = best_tap;
    """)

MAX_POOL_BACKWARD = ElementwiseSource(
    "max_pool2d_backward",
    "raw T grad_output, raw int32 taps", _GEOMETRY,
    "T grad_input",
    r"""
    // Thread i computes grad_input[plane, h, w]: the sum of grad_output over
    // the windows whose chosen tap is this pixel. Tap (ki, kj) of window
    // (oh, ow) is this pixel when h + PH - ki*DH = oh*SH (and the same along
    // w); it counts when taps[plane, oh, ow] == ki * KW + kj. Taps are
    // visited in the NumPy kernel's order, so the sum rounds the same way.
    index_t rest = i;
    const index_t w = rest % width; rest /= width;
    const index_t h = rest % height;
    const index_t plane = rest / height;
    const index_t plane_start = plane * out_h * out_w;
    T total = (T)0;
    for (int ki = 0; ki < kernel_h; ++ki) {
        const index_t row = h + pad_h - ki * dilation_h;  // = oh * SH
        if (row < 0 || row % stride_h != 0) continue;
        const index_t oh = row / stride_h;
        if (oh >= out_h) continue;
        for (int kj = 0; kj < kernel_w; ++kj) {
            const index_t column = w + pad_w - kj * dilation_w;  // = ow * SW
            if (column < 0 || column % stride_w != 0) continue;
            const index_t ow = column / stride_w;
            if (ow >= out_w) continue;
            const index_t k = plane_start + oh * out_w + ow;
            if (taps[k] == ki * kernel_w + kj) {
                total += grad_output[k];
            }
        }
    }
    grad_input = total;
    """)


def _geometry(input_size, kernel_size, output_size, stride, padding,
              dilation):
    """The 12 int32 scalars of _GEOMETRY, in order."""
    values = (tuple(input_size) + tuple(kernel_size) + tuple(output_size)
              + tuple(stride) + tuple(padding) + tuple(dilation))
    return tuple(int(v) for v in values)


@kernels.register("max_pool2d_forward", "cupy")
def max_pool2d_forward(x, kernel_size, stride, padding, dilation, output_size):
    """(values, taps), both (N, C, OH, OW): same contract as the NumPy
    ``max_pool2d_forward``."""
    import cupy
    n, c, h, w = x.shape
    x = contiguous(x)
    shape = (n, c) + tuple(output_size)
    values = cupy.empty(shape, dtype=x.dtype)
    taps = cupy.empty(shape, dtype=numpy.int32)
    kernel = MAX_POOL_FORWARD.kernel(index_type(x.size, values.size))
    kernel(x, x.dtype.type(-numpy.inf),
           *_geometry((h, w), kernel_size, output_size, stride, padding,
                      dilation), values, taps)
    return values, taps


@kernels.register("max_pool2d_backward", "cupy")
def max_pool2d_backward(grad_output, taps, input_size, kernel_size, stride,
                        padding, dilation):
    """grad_input (N, C, H, W): same contract as the NumPy
    ``max_pool2d_backward``."""
    import cupy
    n, c, oh, ow = grad_output.shape
    grad_output = contiguous(grad_output)
    taps = contiguous(taps).astype(numpy.int32, copy=False)
    grad_input = cupy.empty((n, c) + tuple(input_size),
                            dtype=grad_output.dtype)
    kernel = MAX_POOL_BACKWARD.kernel(index_type(grad_input.size,
                                                 grad_output.size))
    kernel(grad_output, taps,
           *_geometry(input_size, kernel_size, (oh, ow), stride, padding,
                      dilation), grad_input)
    return grad_input
