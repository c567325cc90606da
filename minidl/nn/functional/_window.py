"""Sliding-window arithmetic shared by convolution and pooling.

A window of KH x KW taps, `dilation` apart, slides over an input of H x W
padded by `padding` zeros on each side, moving `stride` at a time. Along
one axis (H, say) its effective extent is ``dilation * (KH - 1) + 1``, and
output row ``oh`` reads input rows ``oh * stride - padding + i * dilation``
for ``i = 0 .. KH - 1``.
"""


def as_batch(input, op):
    """(input as 4-D, whether it was a single 3-D image (C, H, W))."""
    if input.ndim == 3:
        return input.unsqueeze(0), True
    if input.ndim != 4:
        raise ValueError("{}: expected a 4-D input (N, C, H, W) or a 3-D one "
                         "(C, H, W), got shape {}".format(op, input.shape))
    return input, False


def pair(value, name, op):
    """`value` (an int or a pair of ints) as a tuple (for H, for W)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, (tuple, list)) and len(value) == 2 \
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    if isinstance(value, (tuple, list)) and len(value) == 1 \
            and isinstance(value[0], int):
        return (value[0], value[0])
    raise ValueError("{}: {} must be an int or a pair of ints, got {!r}".format(
        op, name, value))


def check_positive(values, name, op):
    if any(v <= 0 for v in values):
        raise ValueError("{}: {} must be positive, got {}".format(op, name, values))


def check_non_negative(values, name, op):
    if any(v < 0 for v in values):
        raise ValueError("{}: {} must be non-negative, got {}".format(
            op, name, values))


def effective_kernel(kernel_size, dilation):
    """The extent (rows, columns) one dilated window covers."""
    return tuple(d * (k - 1) + 1 for k, d in zip(kernel_size, dilation))


def conv_output_size(input_size, kernel_size, stride, padding, dilation):
    """(OH, OW) of a convolution: floor((H + 2P - D(K-1) - 1) / S) + 1."""
    return tuple((size + 2 * p - d * (k - 1) - 1) // s + 1 for size, k, s, p, d
                 in zip(input_size, kernel_size, stride, padding, dilation))


def pool_output_size(input_size, kernel_size, stride, padding, dilation,
                     ceil_mode):
    """(OH, OW) of a pooling, PyTorch's rule.

    Like a convolution, but with ``ceil_mode`` the division rounds up; then
    a last window that would start beyond the input and its left padding is
    dropped (it would hold nothing but padding).
    """
    sizes = []
    for size, k, s, p, d in zip(input_size, kernel_size, stride, padding,
                                dilation):
        span = size + 2 * p - d * (k - 1) - 1
        out = (span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (out - 1) * s >= size + p:
            out -= 1
        sizes.append(out)
    return tuple(sizes)


def padded_extent(output_size, kernel_size, stride, dilation):
    """(rows, columns) of padded input that `output_size` windows read.

    The last window starts at (O - 1) * S and ends D (K - 1) further on.
    """
    return tuple((o - 1) * s + d * (k - 1) + 1 for o, k, s, d
                 in zip(output_size, kernel_size, stride, dilation))


def window_slice(offset, output_size, stride):
    """The slice of padded rows (or columns) that tap `offset` reads for
    every output position: offset, offset + S, ..., offset + S (O - 1)."""
    return slice(offset, offset + stride * (output_size - 1) + 1, stride)
