"""The arithmetic of 2-D convolution on plain arrays (the ops are in
``conv.py``).

im2col copies every window of x into a column (see ``_im2col.py``),
giving for each image a matrix of C_in*KH*KW rows and OH*OW columns; then
one matrix product per group, W_g (C_out/G, C_in/G*KH*KW) @ cols_g,
broadcast over the images, does all the arithmetic.
On the CPU the batch is split into chunks of images that run at once on
threads of their own (:mod:`minidl.parallel`).

The 3x3, stride-1, padding-1 convolutions of a ResNet go another route
where it is measured faster, Winograd's F(4x4, 3x3) (``_winograd.py``,
:func:`uses_winograd`): fewer multiplications, the same values up to
rounding.

Four entry points, used by the ops: :func:`conv2d_array` (y),
:func:`conv_transpose2d_array` (its adjoint in x), :func:`conv2d_weight_array`
(dW) and :func:`conv2d_grads_stride_one` (dx and dW at once, stride 1).

Small images take two routes of their own, each in its file: the kernel
taps that only ever read padding are dropped first
(``_conv_small_spatial.py``), and below FEW_POSITIONS output positions per
image the products are made per chunk of images, the images innermost
(``_conv_gemm.py``).
"""
from ... import kernels, parallel
from ...backend import get_array_module
from . import _conv_gemm
from . import _im2col  # noqa: F401  (registers the im2col/col2im kernels)
from . import _winograd
from ._conv_small_spatial import live_taps
from ._workspace import scratch

# Below this many output positions per image (OH*OW), a convolution takes
# the route of _conv_gemm.py: one product per chunk of images, the images
# innermost (measured on ResNet-18's and ResNet-20's layers: faster below
# 64 positions, slower at 256).
FEW_POSITIONS = 64


def _few_positions(output_size):
    return output_size[0] * output_size[1] < FEW_POSITIONS


def _route(x, weight_shape, output_size, stride, padding, dilation, groups):
    """Which arithmetic a convolution takes once the taps that only read
    padding are dropped: 'winograd' (:func:`uses_winograd`), else 'gemm'
    (fewer than FEW_POSITIONS output positions per image: one product per
    chunk of images, ``_conv_gemm.py``), else 'im2col' (one product per
    image, this file)."""
    if uses_winograd(x, weight_shape, stride, padding, dilation, groups):
        return "winograd"
    if _few_positions(output_size):
        return "gemm"
    return "im2col"


def conv2d_array(x, weight, bias, stride, padding, dilation, groups,
                 output_size):
    """y (N, C_out, OH, OW) = conv2d(x, weight) + bias, on plain arrays.

    On the CPU the images are split into chunks, each convolved on a thread
    of its own (see :mod:`minidl.parallel`).
    """
    # Small images: drop the taps that only read padding (_conv_small_spatial).
    live = live_taps(x.shape[2:], output_size, weight.shape[2:], stride,
                     padding, dilation)
    if live is not None:
        return conv2d_array(x, live.cut(weight), bias, stride, live.padding,
                            dilation, groups, output_size)
    route = _route(x, weight.shape, output_size, stride, padding, dilation,
                   groups)
    if route == "gemm":
        return _conv_gemm.conv2d_array(x, weight, bias, stride, padding,
                                       dilation, groups, output_size)
    xp = get_array_module(x)
    n, c_in = x.shape[:2]
    c_out, _, kh, kw = weight.shape
    y = xp.empty((n, c_out) + tuple(output_size), dtype=x.dtype)
    if route == "winograd":
        _winograd_conv2d_into(y, x, weight)
        if bias is not None:
            y += bias.reshape(1, c_out, 1, 1)
        return y

    def convolve_chunk(start, stop):
        _conv2d_into(y[start:stop], x[start:stop], weight, stride, padding,
                     dilation, groups)

    cols_size = n * c_in * kh * kw * output_size[0] * output_size[1]
    parallel.map_batch_chunks(convolve_chunk, n, cols_size, x)
    if bias is not None:
        y += bias.reshape(1, c_out, 1, 1)
    return y


def uses_winograd(x, weight_shape, stride, padding, dilation, groups):
    """Whether conv2d(x, weight) goes the Winograd route: a 3x3 kernel,
    stride 1, dilation 1, groups 1 and padding 1 (the route's only
    geometry), at sizes where the array module's kernel registry says it
    is faster (on NumPy: :func:`_winograd.conv2d_prefers_winograd`)."""
    c_out, c_in, kh, kw = weight_shape
    if ((kh, kw), tuple(stride), tuple(padding), tuple(dilation), groups) \
            != ((3, 3), (1, 1), (1, 1), (1, 1), 1):
        return False
    prefers = kernels.get("conv2d_prefers_winograd", get_array_module(x))
    return prefers(c_in, c_out, x.shape[2:])


def _winograd_conv2d_into(y, x, weight):
    """y = conv2d(x, weight) (no bias) by Winograd, chunks of images on
    minidl's threads; the kernel is transformed once for all of them."""
    n, c_in, h, w = x.shape
    u = _winograd.transformed_kernel(weight)

    def convolve_chunk(start, stop):
        _winograd.winograd_conv2d_into(y[start:stop], x[start:stop], u)

    elements = _winograd.chunk_elements(n, c_in, weight.shape[0], (h, w))
    parallel.map_batch_chunks(convolve_chunk, n, elements, x)


def _columns(x, kernel_size, stride, padding, dilation, output_size):
    """im2col of x (N, C, H, W): (N, C, KH, KW, OH, OW), in this thread's
    scratch buffer (the column matrix is large and short-lived), valid
    until the next call."""
    n, c = x.shape[:2]
    cols = scratch("cols", (n, c) + tuple(kernel_size) + tuple(output_size),
                   x)
    kernels.get("im2col", get_array_module(x))(
        x, kernel_size, stride, padding, dilation, output_size, out=cols)
    return cols


def _conv2d_into(y, x, weight, stride, padding, dilation, groups):
    """Write conv2d(x, weight) (no bias) into y (N, C_out, OH, OW)."""
    cols = _columns(x, weight.shape[2:], stride, padding, dilation,
                    y.shape[2:])
    _weight_times_cols_into(y, weight, cols, groups)


def _weight_times_cols_into(y, weight, cols, groups):
    """y (N, C_out, OH, OW) = W_g @ cols_g per image and group, for the
    columns cols (N, C_in, KH, KW, OH, OW) of im2col."""
    xp = get_array_module(cols)
    n, _, kh, kw, oh, ow = cols.shape
    c_out, c_group = weight.shape[:2]
    w = weight.reshape(groups, c_out // groups, c_group * kh * kw)
    # One product per group, broadcast over the images: (G, C_out/G, K) @
    # (N, G, K, OH*OW) with K = C_in/G*KH*KW, written straight into y.
    xp.matmul(w, cols.reshape(n, groups, c_group * kh * kw, oh * ow),
              out=y.reshape(n, groups, c_out // groups, oh * ow))


def _sum_over_images_of_products(a, b):
    """(G, R, S) = the sum over images n of a[n, g] @ b[n, g]^T, for
    a (N, G, R, P) and b (N, G, S, P): dW's product (P: positions)."""
    xp = get_array_module(a)
    n, groups, rows, positions = a.shape
    per_image = scratch("weight_per_image", (n, groups, rows, b.shape[2]), a)
    xp.matmul(a, b.transpose(0, 1, 3, 2),  # a view: BLAS reads it transposed
              out=per_image)
    return per_image.sum(axis=0)


def conv_transpose2d_array(z, weight, bias, stride, padding, dilation, groups,
                           output_size):
    """The adjoint of conv2d_array in x, on plain arrays.

    z (N, C_out, OH, OW) and weight (C_out, C_in/G, KH, KW) give
    x (N, C_in, H, W), (H, W) = output_size: per image and group,
    cols = W_g^T @ z_g (C_in/G*KH*KW rows, OH*OW columns), then col2im adds
    each column back onto the window it belongs to. On the CPU, chunks of
    images run on threads of their own (see :mod:`minidl.parallel`).
    """
    # Small images: drop the taps that only read padding (_conv_small_spatial).
    live = live_taps(output_size, z.shape[2:], weight.shape[2:], stride,
                     padding, dilation)
    if live is not None:
        return conv_transpose2d_array(z, live.cut(weight), bias, stride,
                                      live.padding, dilation, groups,
                                      output_size)
    if _few_positions(z.shape[2:]):  # one product per chunk (_conv_gemm.py)
        return _conv_gemm.conv_transpose2d_array(
            z, weight, bias, stride, padding, dilation, groups, output_size)
    xp = get_array_module(z)
    if stride_one_transposes_as_conv(stride, padding, dilation,
                                      weight.shape[2:]):
        u = _stride_one_transpose_as_conv(z, weight, padding, dilation,
                                          groups, output_size)
    else:
        n, _, oh, ow = z.shape
        c_group, kh, kw = weight.shape[1:]
        u = xp.empty((n, c_group * groups) + tuple(output_size),
                     dtype=z.dtype)

        def transpose_chunk(start, stop):
            u[start:stop] = _transpose_by_col2im(
                z[start:stop], weight, stride, padding, dilation, groups,
                output_size)

        cols_size = n * c_group * groups * kh * kw * oh * ow
        parallel.map_batch_chunks(transpose_chunk, n, cols_size, z)
    if bias is not None:
        u += bias.reshape(1, -1, 1, 1)
    return u


def _transpose_by_col2im(z, weight, stride, padding, dilation, groups,
                         output_size):
    """conv_transpose2d of z (no bias): the product W^T @ z, then col2im."""
    xp = get_array_module(z)
    n, c_out, oh, ow = z.shape
    c_group, kh, kw = weight.shape[1:]
    cols = scratch("cols", (n, c_group * groups, kh, kw, oh, ow), z)
    w = weight.reshape(groups, c_out // groups, c_group * kh * kw)
    w_t = w.transpose(0, 2, 1)  # a view: BLAS reads W_g transposed
    xp.matmul(w_t, z.reshape(n, groups, c_out // groups, oh * ow),
              out=cols.reshape(n, groups, c_group * kh * kw, oh * ow))
    return kernels.get("col2im", xp)(cols, output_size, stride, padding,
                                     dilation)


def _stride_one_transpose_as_conv(z, weight, padding, dilation, groups,
                                  output_size):
    """With stride 1, the transposed convolution is an ordinary one: each
    group's weight with C_in and C_out swapped and the kernel flipped,
    padding D(K-1) - P. This costs about 40% less than the product + col2im
    route (whose product has only C_out/G terms per sum and whose columns
    must then be added back one tap at a time)."""
    flipped, flipped_padding = _flipped(weight, padding, dilation, groups)
    return conv2d_array(z, flipped, None, (1, 1), flipped_padding, dilation,
                        groups, output_size)


def stride_one_transposes_as_conv(stride, padding, dilation, kernel_size):
    """Whether conv_transpose2d with this geometry is an ordinary
    convolution (stride 1, padding at most D(K-1))."""
    return stride == (1, 1) and all(
        p <= d * (k - 1) for p, d, k in zip(padding, dilation, kernel_size))


def _flipped(weight, padding, dilation, groups):
    """The weight (C_in, C_out/G, KH, KW) and padding of the ordinary
    convolution that a stride-1 transposed convolution with `weight`
    (C_out, C_in/G, KH, KW) is: C_in and C_out swapped per group, the
    kernel turned by 180 degrees, padding D(K-1) - P."""
    c_out, c_group, kh, kw = weight.shape
    flipped = weight.reshape(groups, c_out // groups, c_group, kh, kw)
    flipped = flipped.transpose(0, 2, 1, 3, 4)[:, :, :, ::-1, ::-1]
    flipped = flipped.reshape(groups * c_group, c_out // groups, kh, kw)
    flipped_padding = tuple(d * (k - 1) - p for p, d, k in zip(
        padding, dilation, (kh, kw)))
    return flipped, flipped_padding


def conv2d_grads_stride_one(x, gy, weight, padding, dilation, groups):
    """(dx, dW) of a stride-1 conv2d at once, on plain arrays.

    dx is the convolution of gy with the flipped weight (see
    _stride_one_transpose_as_conv), whose im2col copy of gy holds, for each
    input position (h, w), the gy values that dW pairs with x[n, c, h, w]:

        dW[o, c, i, j] = sum over n, h, w of
                         x[n, c, h, w] * cols[n, o, KH-1-i, KW-1-j, h, w]

    So dW is one more product with the same columns, x_g (C_in/G, H*W) @
    cols_g^T per image, and the im2col of x that conv2d_weight_array would
    make is saved. Chunks of images run on minidl's threads, as in
    conv2d_array.
    """
    # Small images: drop the taps that only read padding (_conv_small_spatial).
    live = live_taps(x.shape[2:], gy.shape[2:], weight.shape[2:], (1, 1),
                     padding, dilation)
    if live is not None:
        dx, dw = conv2d_grads_stride_one(x, gy, live.cut(weight),
                                         live.padding, dilation, groups)
        return dx, live.full_weight_gradient(dw, weight.shape[2:])
    route = _route(x, weight.shape, gy.shape[2:], (1, 1), padding, dilation,
                   groups)
    if route == "gemm":
        return _conv_gemm.conv2d_grads(x, gy, weight, (1, 1), padding,
                                       dilation, groups)
    xp = get_array_module(x)
    n, c_in, h, w = x.shape
    c_out, c_group, kh, kw = weight.shape
    dx = xp.empty_like(x)
    if route == "winograd":
        return dx, _winograd_grads_into(dx, x, gy, weight)
    flipped, flipped_padding = _flipped(weight, padding, dilation, groups)

    def chunk_grads(start, stop):
        cols = _columns(gy[start:stop], (kh, kw), (1, 1), flipped_padding,
                        dilation, (h, w))
        _weight_times_cols_into(dx[start:stop], flipped, cols, groups)
        return _sum_over_images_of_products(
            x[start:stop].reshape(stop - start, groups, c_group, h * w),
            cols.reshape(stop - start, groups, c_out // groups * kh * kw,
                         h * w))

    total = sum(parallel.map_batch_chunks(chunk_grads, n,
                                          n * c_out * kh * kw * h * w, x))
    # total[g, c, (o, i', j')] holds dW[o, c, KH-1-i', KW-1-j'] of group g.
    dw = total.reshape(groups, c_group, c_out // groups, kh, kw)
    dw = dw.transpose(0, 2, 1, 3, 4)[:, :, :, ::-1, ::-1]
    return dx, xp.ascontiguousarray(dw).reshape(c_out, c_group, kh, kw)


def _winograd_grads_into(dx, x, gy, weight):
    """Write dx of conv2d(x, weight) by Winograd (the convolution of gy with
    the flipped kernel) and return dW: each chunk of images adds its part
    of the transformed kernel's gradient dU, the parts are added in chunk
    order (the same bits whatever the threads), then dW = G^T dU G."""
    n, c_in, h, w = x.shape
    c_out = weight.shape[0]
    u_flipped = _winograd.transformed_kernel(_winograd.flipped_kernel(weight))

    def chunk_grads(start, stop):
        return _winograd.winograd_grads_part(dx[start:stop], x[start:stop],
                                             gy[start:stop], u_flipped)

    elements = _winograd.chunk_elements(n, c_in, c_out, (h, w))
    du = sum(parallel.map_batch_chunks(chunk_grads, n, elements, x))
    return _winograd.kernel_grad_from_transformed(du)


def _winograd_weight_grad(x, gy):
    """dW of conv2d from x and gy by Winograd: the chunks' parts of dU,
    added in chunk order, then dW = G^T dU G."""
    n, c_in, h, w = x.shape

    def chunk_part(start, stop):
        return _winograd.winograd_weight_grad_part(x[start:stop],
                                                   gy[start:stop])

    elements = _winograd.chunk_elements(n, c_in, gy.shape[1], (h, w))
    du = sum(parallel.map_batch_chunks(chunk_part, n, elements, x))
    return _winograd.kernel_grad_from_transformed(du)


def conv2d_weight_array(x, gy, kernel_size, stride, padding, dilation, groups):
    """dW (C_out, C_in/G, KH, KW) of conv2d from x and gy, on plain arrays:
    per group, the sum over images of gy_g (C_out/G, OH*OW) @ cols_g^T
    (OH*OW, C_in/G*KH*KW). On the CPU each chunk of images sums its own
    part on a thread of its own (see :mod:`minidl.parallel`); the parts are
    then added."""
    # Small images: drop the taps that only read padding (_conv_small_spatial).
    live = live_taps(x.shape[2:], gy.shape[2:], kernel_size, stride, padding,
                     dilation)
    if live is not None:
        return live.full_weight_gradient(conv2d_weight_array(
            x, gy, live.kernel_size, stride, live.padding, dilation, groups),
            kernel_size)
    n, c_in = x.shape[:2]
    c_out, oh, ow = gy.shape[1:]
    kh, kw = kernel_size
    route = _route(x, (c_out, c_in // groups, kh, kw), (oh, ow), stride,
                   padding, dilation, groups)
    if route == "gemm":
        return _conv_gemm.conv2d_weight_array(x, gy, kernel_size, stride,
                                              padding, dilation, groups)
    if route == "winograd":
        return _winograd_weight_grad(x, gy)

    def chunk_part(start, stop):
        return _weight_gradient_part(x[start:stop], gy[start:stop],
                                     kernel_size, stride, padding, dilation,
                                     groups)

    cols_size = n * c_in * kh * kw * oh * ow
    return sum(parallel.map_batch_chunks(chunk_part, n, cols_size, x))


def _weight_gradient_part(x, gy, kernel_size, stride, padding, dilation,
                          groups):
    """dW of conv2d from the images of x and gy, a new array."""
    n, c_in = x.shape[:2]
    c_out, oh, ow = gy.shape[1:]
    kh, kw = kernel_size
    c_group = c_in // groups
    cols = _columns(x, kernel_size, stride, padding, dilation, (oh, ow))
    dw = _sum_over_images_of_products(
        gy.reshape(n, groups, c_out // groups, oh * ow),
        cols.reshape(n, groups, c_group * kh * kw, oh * ow))
    return dw.reshape(c_out, c_group, kh, kw)
