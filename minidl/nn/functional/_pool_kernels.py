"""The NumPy kernels of max pooling, registered in :mod:`minidl.kernels`.

Both walk the KH*KW taps of the window: for tap (i, j), the elements that
tap reads for every output position form one strided slice of the padded
input, so each step is a whole-array operation and there is no loop over
images, channels or positions.

Both split the batch into chunks of images that run on minidl's threads
(:mod:`minidl.parallel`); the chunks also keep each pass's arrays in the
cache. No chunk reads another's values, so the results do not depend on
the split.

A window's choice is stored as its tap number ``i * KW + j`` (int32, shape
(N, C, OH, OW)); :func:`minidl.nn.functional.max_pool2d` turns it into
PyTorch's flat indices when asked to return them.
"""
import numpy as np

from ... import kernels, parallel
from ._im2col import pad_to_cover
from ._window import padded_extent, window_slice


@kernels.register("max_pool2d_forward", "numpy")
def max_pool2d_forward(x, kernel_size, stride, padding, dilation, output_size):
    """The largest element of each window, and which tap it is.

    x: (N, C, H, W); kernel_size (KH, KW), stride (SH, SW), padding
    (PH, PW), dilation (DH, DW), output_size (OH, OW): pairs of ints.
    Positions outside x (the padding, and beyond the end in ceil mode)
    read as -inf.

    Returns (values, taps), both new C-contiguous arrays of shape
    (N, C, OH, OW): values of x's dtype, and taps (int32) such that

        values[n, c, oh, ow] = x[n, c, oh*SH - PH + i*DH, ow*SW - PW + j*DW]
        with i, j = divmod(taps[n, c, oh, ow], KW),

    the first tap (in row-major order) holding the maximum, as PyTorch
    picks; a NaN counts as larger than everything (the last NaN wins).
    """
    n, c = x.shape[:2]
    values = np.empty((n, c) + tuple(output_size), dtype=x.dtype)
    taps = np.empty(values.shape, dtype=np.int32)

    def pool_chunk(start, stop):
        values[start:stop], taps[start:stop] = _max_pool_chunk(
            x[start:stop], kernel_size, stride, padding, dilation,
            output_size)

    parallel.map_batch_chunks(pool_chunk, n, x.size, x)
    return values, taps


def _max_pool_chunk(x, kernel_size, stride, padding, dilation, output_size):
    """max_pool2d_forward of the images of x, (values, taps) as new
    arrays."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel_size, stride, dilation, \
        output_size
    extent = padded_extent(output_size, kernel_size, stride, dilation)
    padded = pad_to_cover(x, padding, extent, -np.inf)
    # Masked copies (np.where, copyto(where=)) branch on every element and
    # are slow on a mask that is half True; this loop uses only comparisons,
    # maxima and products, which NumPy vectorises.
    values = taps = None
    for i in range(kh):
        for j in range(kw):
            window = padded[:, :, window_slice(i * dh, oh, sh),
                            window_slice(j * dw, ow, sw)]
            tap = i * kw + j
            if values is None:
                values = window.copy()
                taps = np.zeros(values.shape, dtype=np.int32)
                # Work arrays. Each tap's window is first copied into a
                # contiguous array: elementwise ops over a strided view are
                # several times slower, and it is read three times.
                current = np.empty_like(values)
                better = np.empty(values.shape, dtype=bool)
                is_nan = np.empty(values.shape, dtype=bool)
                tap_if_better = np.empty(values.shape, dtype=np.int32)
                continue
            np.copyto(current, window)
            # Strictly larger: at ties the earlier tap keeps its place.
            np.greater(current, values, out=better)
            better |= np.isnan(current, out=is_nan)
            # Taps come in increasing order, so "the latest tap that was
            # better" is the maximum of tap * better over the taps so far.
            np.multiply(better, tap, out=tap_if_better)
            np.maximum(taps, tap_if_better, out=taps)
            np.maximum(values, current, out=values)  # NaN stays NaN
    return values, taps


@kernels.register("max_pool2d_backward", "numpy")
def max_pool2d_backward(grad_output, taps, input_size, kernel_size, stride,
                        padding, dilation):
    """Send each window's gradient to the element the forward chose.

    grad_output (N, C, OH, OW) and taps (N, C, OH, OW), from
    :func:`max_pool2d_forward`; input_size (H, W) and the window pairs as
    there. Returns a new C-contiguous array grad_input (N, C, H, W) of
    grad_output's dtype, where each element is the sum of the gradients of
    the windows that chose it (windows may overlap).
    """
    n, c = grad_output.shape[:2]
    grad_input = np.empty((n, c) + tuple(input_size), dtype=grad_output.dtype)

    def scatter_chunk(start, stop):
        grad_input[start:stop] = _max_pool_backward_chunk(
            grad_output[start:stop], taps[start:stop], input_size,
            kernel_size, stride, padding, dilation)

    parallel.map_batch_chunks(scatter_chunk, n, grad_input.size, grad_output)
    return grad_input


def _max_pool_backward_chunk(grad_output, taps, input_size, kernel_size,
                             stride, padding, dilation):
    """max_pool2d_backward of the images of grad_output, a new array."""
    n, c, oh, ow = grad_output.shape
    (h, w), (kh, kw), (sh, sw), (ph, pw), (dh, dw) = input_size, \
        kernel_size, stride, padding, dilation
    eh, ew = padded_extent((oh, ow), kernel_size, stride, dilation)
    rows, columns = max(eh, ph + h), max(ew, pw + w)
    padded = np.zeros((n, c, rows, columns), dtype=grad_output.dtype)
    # Multiplying by the 0/1 mask of a tap is many times faster than where(),
    # but 0 * inf is NaN: with a non-finite gradient, where() it is.
    finite = bool(np.isfinite(grad_output).all())
    for i in range(kh):
        for j in range(kw):
            chosen = taps == i * kw + j
            target = padded[:, :, window_slice(i * dh, oh, sh),
                            window_slice(j * dw, ow, sw)]
            if finite:
                target += grad_output * chosen
            else:
                target += np.where(chosen, grad_output, 0)
    if (ph, pw) == (0, 0) and (rows, columns) == (h, w):
        return padded
    return np.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w])
