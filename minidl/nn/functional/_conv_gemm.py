"""Convolutions with few output positions per image: one matrix product per
chunk of images, the images as the innermost axis.

The general route (``_conv_arithmetic.py``) multiplies the weight by each
image's column matrix, (C_out, K) @ (K, OH*OW) per image, K = C_in*KH*KW.
When OH*OW is small (ResNet-18 at 32x32 input runs at 4x4, 2x2 and 1x1)
that product is almost a matrix-vector product, which reads the whole
weight (up to 9 MB) once per image for a few operations per weight. And
its im2col copies rows only OW values long, so the copy, not the
arithmetic, takes most of the time.

Here the images of a chunk sit innermost instead: the columns are one
matrix (C_in, KH, KW, OH, OW, N), so K rows of OH*OW*N columns, and

    forward:  y_t  (C_out, OH*OW*N) = W (C_out, K) @ cols (K, OH*OW*N)
    dW:       dW   (C_out, K)       = gy_t (C_out, OH*OW*N) @ cols^T
    dx:       cols (K, OH*OW*N)     = W^T @ gy_t, then col2im

where y_t and gy_t are y and gy with the images moved innermost (C_out, OH,
OW, N). Each is one product per chunk (per group), whose long dimension
OH*OW*N is the chunk's images together: dW's sum over the images becomes
the product's inner dimension. Moving the images innermost costs one
transposing copy of x, y or gy, cheap because those are small next to the
columns, and makes each of im2col's copies move runs of N contiguous
values.

Chunks are those of :func:`minidl.parallel.map_batch_chunks` (they depend
on the batch and the work only), and dW's parts are added in chunk order,
so results are the same bit for bit on any number of threads.
"""
from ... import parallel
from ...backend import get_array_module
from ._window import padded_extent, window_slice
from ._workspace import scratch


def _images_last(a):
    """a (N, C, H, W) as a new C-contiguous (C, H, W, N) array."""
    return get_array_module(a).ascontiguousarray(a.transpose(1, 2, 3, 0))


def _padded_images_last(x, padding, extent):
    """x (N, C, H, W) as a zero-padded (C, H', W', N) array: `padding`
    (PH, PW) zeros before each image and as many after as needed for
    `extent` (rows, columns) to exist. One copy moves the images innermost
    and pads them; without padding, a view (im2col's copies then read only
    the positions they need, which matters at stride 2). The padded array
    is this thread's scratch buffer, valid until the next call."""
    n, c, h, w = x.shape
    (ph, pw), (eh, ew) = padding, extent
    if (ph, pw) == (0, 0) and eh <= h and ew <= w:
        return x.transpose(1, 2, 3, 0)
    # A reused buffer, cleared: a fresh array would cost a page fault per
    # 4 KB on first touch, more than clearing it.
    padded = scratch("padded_images_last",
                     (c, max(eh, ph + h), max(ew, pw + w), n), x)
    padded.fill(0)
    padded[:, ph:ph + h, pw:pw + w, :] = x.transpose(1, 2, 3, 0)
    return padded


def _columns(x, kernel_size, stride, padding, dilation, output_size):
    """im2col of x (N, C, H, W) with the images innermost,
    cols (C, KH, KW, OH, OW, N) in this thread's scratch buffer (valid until
    the next call):

        cols[c, i, j, oh, ow, n] = x[n, c, oh*SH - PH + i*DH,
                                           ow*SW - PW + j*DW]

    and 0 in the padding. One copy per kernel tap (i, j): the windows'
    values at that tap lie on a strided grid of the padded input.
    """
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel_size, stride, dilation, \
        output_size
    padded = _padded_images_last(
        x, padding, padded_extent(output_size, kernel_size, stride, dilation))
    cols = scratch("cols_images_last", (c, kh, kw, oh, ow, n), x)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = padded[:, window_slice(i * dh, oh, sh),
                                   window_slice(j * dw, ow, sw)]
    return cols


def _col2im(cols, input_size, stride, padding, dilation):
    """The adjoint of :func:`_columns`: cols (C, KH, KW, OH, OW, N) added
    back onto the input positions they came from, returned as a view
    (N, C, H, W) of this thread's scratch buffer, valid until the next call
    (entries in the padding are dropped)."""
    c, kh, kw, oh, ow, n = cols.shape
    (h, w), (sh, sw), (ph, pw), (dh, dw) = input_size, stride, padding, \
        dilation
    eh, ew = padded_extent((oh, ow), (kh, kw), stride, dilation)
    padded = scratch("col2im_images_last",
                     (c, max(eh, ph + h), max(ew, pw + w), n), cols)
    padded.fill(0)  # a reused buffer, as in _padded_images_last
    # Windows overlap only across taps, never within one, so each tap's
    # add is a plain element-wise +=.
    for i in range(kh):
        for j in range(kw):
            padded[:, window_slice(i * dh, oh, sh),
                   window_slice(j * dw, ow, sw)] += cols[:, i, j]
    return padded[:, ph:ph + h, pw:pw + w].transpose(3, 0, 1, 2)


def _by_group(a, groups, columns):
    """a, whose first axis holds the channels (the groups one after the
    other), as G matrices of `columns` columns: (G, rows, columns), a view
    when a is C-contiguous."""
    return a.reshape(groups, -1, columns)


def _work(n, c_in, c_out, kernel_size, output_size):
    """The size of the work, for map_batch_chunks: the elements of the
    columns and of the product (or of gy), all images together. Counting
    the product too splits a 1x1 image's work into a chunk per thread, where
    the columns alone are too few to split."""
    kh, kw = kernel_size
    return n * output_size[0] * output_size[1] * (c_in * kh * kw + c_out)


def conv2d_array(x, weight, bias, stride, padding, dilation, groups,
                 output_size):
    """y (N, C_out, OH, OW) = conv2d(x, weight) + bias: per chunk of images
    and group, W_g (C_out/G, K_g) @ cols_g (K_g, OH*OW*n)."""
    xp = get_array_module(x)
    n, c_in = x.shape[:2]
    c_out, _, kh, kw = weight.shape
    oh, ow = output_size
    y = xp.empty((n, c_out, oh, ow), dtype=x.dtype)
    w = _by_group(weight, groups, weight[0].size)

    def convolve_chunk(start, stop):
        cols = _columns(x[start:stop], (kh, kw), stride, padding, dilation,
                        output_size)
        positions = oh * ow * (stop - start)
        y_t = scratch("y_images_last", (groups, c_out // groups, positions), x)
        xp.matmul(w, _by_group(cols, groups, positions), out=y_t)
        y[start:stop] = y_t.reshape(c_out, oh, ow, stop - start).transpose(
            3, 0, 1, 2)

    parallel.map_batch_chunks(
        convolve_chunk, n, _work(n, c_in, c_out, (kh, kw), output_size), x)
    if bias is not None:
        y += bias.reshape(1, c_out, 1, 1)
    return y


def conv_transpose2d_array(z, weight, bias, stride, padding, dilation, groups,
                           output_size):
    """u (N, C_in, H, W), the adjoint of conv2d_array in x, plus bias: per
    chunk and group, cols_g = W_g^T @ z_g (K_g, OH*OW*n), then col2im."""
    xp = get_array_module(z)
    n, c_out, oh, ow = z.shape
    c_group, kh, kw = weight.shape[1:]
    u = xp.empty((n, c_group * groups) + tuple(output_size), dtype=z.dtype)
    # A view: BLAS reads W_g transposed without a copy.
    w_t = _by_group(weight, groups, weight[0].size).transpose(0, 2, 1)

    def transpose_chunk(start, stop):
        u[start:stop] = _input_gradient(_images_last(z[start:stop]), w_t,
                                        (kh, kw), stride, padding, dilation,
                                        output_size)

    parallel.map_batch_chunks(transpose_chunk, n, _work(
        n, c_group * groups, c_out, (kh, kw), (oh, ow)), z)
    if bias is not None:
        u += bias.reshape(1, -1, 1, 1)
    return u


def _input_gradient(z_t, w_t, kernel_size, stride, padding, dilation,
                    input_size):
    """dx (n, C_in, H, W) (a view) from z_t = gy with the images innermost
    (C_out, OH, OW, n) and w_t (G, K_g, C_out/G): W^T @ gy, then col2im."""
    groups = w_t.shape[0]
    c_out, oh, ow, n = z_t.shape
    cols = scratch("dx_cols_images_last", (groups, w_t.shape[1], oh * ow * n),
                   z_t)
    get_array_module(z_t).matmul(w_t, _by_group(z_t, groups, oh * ow * n),
                                 out=cols)
    c_in = cols.size // (kernel_size[0] * kernel_size[1] * oh * ow * n)
    return _col2im(cols.reshape((c_in,) + tuple(kernel_size) + (oh, ow, n)),
                   input_size, stride, padding, dilation)


def _weight_gradient_part(x, gy_t, kernel_size, stride, padding, dilation,
                          groups):
    """The images' part of dW (G, C_out/G, K_g): gy_t (C_out, OH, OW, n) is
    gy with the images innermost; the sum over images and positions is the
    inner dimension of one product, gy_t_g @ cols_g^T."""
    positions = gy_t[0].size  # OH*OW*n
    cols = _columns(x, kernel_size, stride, padding, dilation,
                    gy_t.shape[1:3])
    return get_array_module(x).matmul(
        _by_group(gy_t, groups, positions),
        _by_group(cols, groups, positions).transpose(0, 2, 1))  # a view


def conv2d_weight_array(x, gy, kernel_size, stride, padding, dilation,
                        groups):
    """dW (C_out, C_in/G, KH, KW) of conv2d from x and gy: the chunks'
    parts (see _weight_gradient_part), added in chunk order."""
    n, c_in = x.shape[:2]
    c_out, oh, ow = gy.shape[1:]
    kh, kw = kernel_size

    def chunk_part(start, stop):
        return _weight_gradient_part(x[start:stop], _images_last(
            gy[start:stop]), kernel_size, stride, padding, dilation, groups)

    parts = parallel.map_batch_chunks(
        chunk_part, n, _work(n, c_in, c_out, kernel_size, (oh, ow)), x)
    return sum(parts).reshape(c_out, c_in // groups, kh, kw)


def conv2d_grads(x, gy, weight, stride, padding, dilation, groups):
    """(dx, dW) of conv2d at once: each chunk moves its gy's images
    innermost once, for both products."""
    xp = get_array_module(x)
    n, c_in = x.shape[:2]
    c_out, oh, ow = gy.shape[1:]
    kh, kw = weight.shape[2:]
    dx = xp.empty_like(x)
    w_t = _by_group(weight, groups, weight[0].size).transpose(0, 2, 1)

    def chunk_grads(start, stop):
        gy_t = _images_last(gy[start:stop])
        dx[start:stop] = _input_gradient(gy_t, w_t, (kh, kw), stride, padding,
                                         dilation, x.shape[2:])
        return _weight_gradient_part(x[start:stop], gy_t, (kh, kw), stride,
                                     padding, dilation, groups)

    parts = parallel.map_batch_chunks(
        chunk_grads, n, _work(n, c_in, c_out, (kh, kw), (oh, ow)), x)
    return dx, sum(parts).reshape(weight.shape)
