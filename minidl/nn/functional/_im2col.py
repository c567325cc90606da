"""im2col and col2im: the NumPy kernels behind convolution.

im2col copies every window of the input into a column, so that a
convolution becomes one matrix product; col2im is its adjoint, adding each
column back onto the input positions it came from. Both are registered in
:mod:`minidl.kernels`, so a GPU can supply its own versions with the same
signatures (ops call ``kernels.get("im2col", xp)``).

The column layout is (N, C, KH, KW, OH, OW): for each image a matrix of
C*KH*KW rows and OH*OW columns, the right operand of that image's product
with the weight, whose result is then already in (N, C_out, OH, OW) order.
The copy goes image by image, so each image is read from the cache KH*KW
times rather than from memory, and its innermost axis (OW) walks along an
input row (contiguously when the stride is 1).
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from ... import kernels
from ...backend import get_array_module
from ._window import padded_extent, window_slice


def pad_to_cover(x, padding, extent, value):
    """x (N, C, H, W) with `padding` (PH, PW) rows/columns of `value` before
    it and as many after it as needed for `extent` (rows, columns) to exist.

    Returns x itself when no padding is needed (no copy). Works on any
    array module (pooling uses it on the GPU too).
    """
    n, c, h, w = x.shape
    (ph, pw), (eh, ew) = padding, extent
    rows, cols = max(eh, ph + h), max(ew, pw + w)
    if (ph, pw) == (0, 0) and (rows, cols) == (h, w):
        return x
    xp = get_array_module(x)
    if value == 0:  # zeros() gets memory the system has already cleared
        padded = xp.zeros((n, c, rows, cols), dtype=x.dtype)
    else:
        padded = xp.full((n, c, rows, cols), value, dtype=x.dtype)
    padded[:, :, ph:ph + h, pw:pw + w] = x
    return padded


@kernels.register("im2col", "numpy")
def im2col(x, kernel_size, stride, padding, dilation, output_size, out=None):
    """Unfold the windows of `x` into columns.

    x: (N, C, H, W); kernel_size (KH, KW), stride (SH, SW), padding (PH, PW),
    dilation (DH, DW), output_size (OH, OW): pairs of ints.
    Returns cols, a C-contiguous array (N, C, KH, KW, OH, OW) of x's dtype:

        cols[n, c, i, j, oh, ow] = x[n, c, oh*SH - PH + i*DH,
                                           ow*SW - PW + j*DW]

    and 0 where that position is outside x (in the padding). `out`, if
    given, is a C-contiguous array of that shape and dtype to fill and
    return.
    """
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel_size, stride, dilation, \
        output_size
    extent = padded_extent(output_size, kernel_size, stride, dilation)
    padded = pad_to_cover(x, padding, extent, 0)
    n_step, c_step, h_step, w_step = padded.strides
    # A view, no copy: axis by axis, how far to move in memory for one step
    # of image, channel, kernel row, kernel column, output row, output column.
    windows = as_strided(
        padded, shape=(n, c, kh, kw, oh, ow),
        strides=(n_step, c_step, h_step * dh, w_step * dw, h_step * sh,
                 w_step * sw),
        writeable=False)
    if out is None:
        out = np.empty(windows.shape, dtype=x.dtype)
    np.copyto(out, windows)
    return out


@kernels.register("col2im", "numpy")
def col2im(cols, input_size, stride, padding, dilation):
    """Fold columns back onto the input: the adjoint of :func:`im2col`.

    cols: (N, C, KH, KW, OH, OW); input_size (H, W), stride, padding and
    dilation: pairs of ints, as for im2col. Returns a new C-contiguous array
    x of shape (N, C, H, W) and cols' dtype, where each element is the sum
    of all the cols entries that im2col would have copied from it (entries
    that fall in the padding are dropped).
    """
    n, c, kh, kw, oh, ow = cols.shape
    (h, w), (sh, sw), (ph, pw), (dh, dw) = input_size, stride, padding, \
        dilation
    eh, ew = padded_extent((oh, ow), (kh, kw), stride, dilation)
    rows, columns = max(eh, ph + h), max(ew, pw + w)
    padded = np.zeros((n, c, rows, columns), dtype=cols.dtype)
    # One add per kernel tap (i, j): that tap's entries for every window land
    # on a strided grid of the padded input. Windows overlap only across
    # taps, never within one, so each add is a plain element-wise +=.
    for i in range(kh):
        for j in range(kw):
            target = padded[:, :, window_slice(i * dh, oh, sh),
                            window_slice(j * dw, ow, sw)]
            target += cols[:, :, i, j]
    if (ph, pw) == (0, 0) and (rows, columns) == (h, w):
        return padded
    return np.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w])
