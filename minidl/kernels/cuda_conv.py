"""im2col and col2im on the GPU (the NumPy versions: ``nn/functional/_im2col.py``).

Same signatures and results as the NumPy kernels. The column layout is
(N, C, KH, KW, OH, OW):

    cols[n, c, i, j, oh, ow] = x[n, c, oh*SH - PH + i*DH, ow*SW - PW + j*DW]

(0 in the padding). im2col gives each element of `cols` its own thread.
col2im, its adjoint, gives each element of the INPUT its own thread, which
gathers every column entry that came from it: no two threads write the same
element, so no atomic additions are needed and the sum is done in the same
order as the NumPy version (tap by tap), hence with the same rounding.
"""
from .. import kernels
from .cuda_common import ElementwiseSource, contiguous, index_type

# Shared by both kernels: the window geometry, as int32 scalars.
_GEOMETRY = ("int32 channels, int32 height, int32 width, "
             "int32 kernel_h, int32 kernel_w, "
             "int32 out_h, int32 out_w, int32 stride_h, int32 stride_w, "
             "int32 pad_h, int32 pad_w, int32 dilation_h, int32 dilation_w")

IM2COL = ElementwiseSource(
    "im2col",
    "raw T x", _GEOMETRY,
    "T cols",
    r"""
    // Thread i fills cols[image, c, ki, kj, oh, ow] (i is that element's C-order
    // flat index): the pixel that tap (ki, kj) of window (oh, ow) reads in
    // channel c of image `image`, or 0 when it lies in the padding.
    index_t rest = i;
    const index_t ow = rest % out_w;    rest /= out_w;
    const index_t oh = rest % out_h;    rest /= out_h;
    const index_t kj = rest % kernel_w; rest /= kernel_w;
    const index_t ki = rest % kernel_h; rest /= kernel_h;
    const index_t c = rest % channels;
    const index_t image = rest / channels;
    const index_t h = oh * stride_h - pad_h + ki * dilation_h;
    const index_t w = ow * stride_w - pad_w + kj * dilation_w;
    if (0 <= h && h < height && 0 <= w && w < width) {
        cols = x[((image * channels + c) * height + h) * width + w];
    } else {
        cols = (T)0;
    }
    """)

COL2IM = ElementwiseSource(
    "col2im",
    "raw T cols", _GEOMETRY,
    "T x",
    r"""
    // Thread i computes x[image, c, h, w] (i its C-order flat index): the sum of
    // the column entries im2col would copy from this pixel. Tap (ki, kj) of
    // window (oh, ow) reads it when h = oh*SH - PH + ki*DH, i.e. when
    // h + PH - ki*DH is a non-negative multiple of SH below OH*SH (and the
    // same along w). Taps are visited in the NumPy kernel's order.
    index_t rest = i;
    const index_t w = rest % width;  rest /= width;
    const index_t h = rest % height; rest /= height;
    const index_t c = rest % channels;
    const index_t image = rest / channels;
    T total = (T)0;
    for (index_t ki = 0; ki < kernel_h; ++ki) {
        const index_t row = h + pad_h - ki * dilation_h;  // = oh * SH
        if (row < 0 || row % stride_h != 0) continue;
        const index_t oh = row / stride_h;
        if (oh >= out_h) continue;
        for (index_t kj = 0; kj < kernel_w; ++kj) {
            const index_t column = w + pad_w - kj * dilation_w;  // = ow * SW
            if (column < 0 || column % stride_w != 0) continue;
            const index_t ow = column / stride_w;
            if (ow >= out_w) continue;
            total += cols[((((image * channels + c) * kernel_h + ki) * kernel_w
                            + kj) * out_h + oh) * out_w + ow];
        }
    }
    x = total;
    """)


def _geometry(channels, input_size, kernel_size, output_size, stride, padding,
              dilation):
    """The 13 int32 scalars of _GEOMETRY, in order."""
    values = ((channels,) + tuple(input_size) + tuple(kernel_size)
              + tuple(output_size) + tuple(stride) + tuple(padding)
              + tuple(dilation))
    return tuple(int(v) for v in values)


@kernels.register("im2col", "cupy")
def im2col(x, kernel_size, stride, padding, dilation, output_size, out=None):
    """Unfold the windows of `x` (N, C, H, W) into cols (N, C, KH, KW, OH, OW).

    Same contract as the NumPy ``im2col``: pairs of ints for the geometry,
    `out` an optional C-contiguous array of cols' shape and dtype to fill.
    """
    import cupy
    n, c, h, w = x.shape
    (kh, kw), (oh, ow) = kernel_size, output_size
    x = contiguous(x)
    if out is None:
        out = cupy.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    kernel = IM2COL.kernel(index_type(x.size, out.size))
    kernel(x, *_geometry(c, (h, w), kernel_size, output_size, stride,
                         padding, dilation), out)
    return out


@kernels.register("col2im", "cupy")
def col2im(cols, input_size, stride, padding, dilation):
    """Fold cols (N, C, KH, KW, OH, OW) back onto a new x (N, C, H, W).

    Same contract as the NumPy ``col2im``: each pixel is the sum of the
    column entries im2col would have copied from it.
    """
    import cupy
    n, c, kh, kw, oh, ow = cols.shape
    cols = contiguous(cols)
    x = cupy.empty((n, c) + tuple(input_size), dtype=cols.dtype)
    kernel = COL2IM.kernel(index_type(x.size, cols.size))
    kernel(cols, *_geometry(c, input_size, (kh, kw), (oh, ow), stride,
                            padding, dilation), x)
    return x


@kernels.register("conv2d_prefers_winograd", "cupy")
def conv2d_prefers_winograd(c_in, c_out, size):
    """The GPU keeps im2col for every convolution: the Winograd route
    (``nn/functional/_winograd.py``, NumPy's choice for a ResNet's 3x3
    convolutions) has not been measured there."""
    return False
