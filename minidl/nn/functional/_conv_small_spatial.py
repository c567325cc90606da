"""Convolutions on small images: dropping the kernel taps that only read
padding.

When the image is small next to the kernel's padding, some taps of the
kernel never land on the image, for any output position: a 3x3 kernel with
padding 1 on a 1x1 image (ResNet-18's last stage at 32x32 input) touches
the image with its centre tap only; the eight others always read the zero
padding. Their rows of im2col's column matrix are all zeros, so they add
nothing to y, to dx or to dW, yet they would cost 8/9 of the arithmetic
and of the column matrix's memory.

:func:`live_taps` finds the smallest block of taps (rows i0..i1-1,
columns j0..j1-1) outside of which every tap only reads padding. The
convolution with the kernel cut to that block and the padding reduced by
i0*D (resp. j0*D) is the same convolution; its weight gradient is the
block of the full one (the rest of dW is exactly 0). The entry points in
``_conv_arithmetic.py`` use it when it drops something.
"""
from collections import namedtuple

from ...backend import get_array_module


class LiveTaps(namedtuple("LiveTaps", "rows cols padding")):
    """The block of kernel taps that can reach the image: `rows` and `cols`
    are slices of the kernel's (KH, KW) axes, `padding` (PH', PW') the
    padding of the convolution with the cut kernel."""

    @property
    def kernel_size(self):
        return (self.rows.stop - self.rows.start,
                self.cols.stop - self.cols.start)

    def cut(self, weight):
        """weight (C_out, C_in/G, KH, KW) cut to the live block, a new
        C-contiguous array (C_out, C_in/G, KH', KW')."""
        xp = get_array_module(weight)
        return xp.ascontiguousarray(weight[:, :, self.rows, self.cols])

    def full_weight_gradient(self, cut_gradient, kernel_size):
        """dW of the full kernel from dW of the cut one: zeros outside the
        block (those taps only ever multiplied padding zeros)."""
        xp = get_array_module(cut_gradient)
        full = xp.zeros(cut_gradient.shape[:2] + tuple(kernel_size),
                        dtype=cut_gradient.dtype)
        full[:, :, self.rows, self.cols] = cut_gradient
        return full


def _live_range(size, out, kernel, stride, padding, dilation):
    """[first, stop) of the taps along one axis that read the image (not
    the padding) at one output position at least, or None when none does.

    Tap i at output position o reads input position o*S - P + i*D; its
    first position that is not in the leading padding is at
    o = ceil((P - i*D) / S) (or 0), and the tap is live when that o exists
    and the position there is still inside the image.
    """
    live = []
    for tap in range(kernel):
        first_read = tap * dilation - padding  # at output position 0
        first_o = max(0, -(first_read // stride))  # ceil(-first_read / S)
        if first_o < out and first_o * stride + first_read < size:
            live.append(tap)
    if not live:
        return None
    return live[0], live[-1] + 1


def live_taps(input_size, output_size, kernel_size, stride, padding,
              dilation):
    """The taps of a convolution's kernel that can reach the image, as a
    :class:`LiveTaps`, or None when cutting the kernel would drop nothing.

    input_size (H, W), output_size (OH, OW), kernel_size (KH, KW), stride,
    padding, dilation: pairs of ints. The cut is only made when the new
    padding P' = P - first*D stays between 0 and D*(KH'-1), so that the cut
    convolution is an ordinary one that every route handles (its stride-1
    transpose is also an ordinary convolution when the full one's is).
    """
    if padding == (0, 0):  # then the first window lies inside the image
        return None
    slices, new_padding = [], []
    for size, out, kernel, s, p, d in zip(input_size, output_size,
                                          kernel_size, stride, padding,
                                          dilation):
        taps = _live_range(size, out, kernel, s, p, d)
        if taps is None:  # every tap reads padding only: y is all bias
            return None
        first, stop = taps
        cut_padding = p - first * d
        if not 0 <= cut_padding <= d * (stop - first - 1):
            first, stop, cut_padding = 0, kernel, p  # keep this axis whole
        slices.append(slice(first, stop))
        new_padding.append(cut_padding)
    if all(cut == slice(0, kernel) for cut, kernel in zip(slices,
                                                         kernel_size)):
        return None
    return LiveTaps(slices[0], slices[1], tuple(new_padding))
