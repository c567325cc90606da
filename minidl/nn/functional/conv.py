"""conv2d and conv_transpose2d: 2-D convolution and its adjoint.

Shapes, as in PyTorch: input x (N, C_in, H, W), weight W
(C_out, C_in/G, KH, KW), output y (N, C_out, OH, OW), where G = groups
splits the channels into G independent convolutions:

    y[n, o, oh, ow] = b[o] + sum over c, i, j of
                      W[o, c, i, j] * x[n, g*C_in/G + c, oh*SH - PH + i*DH,
                                                         ow*SW - PW + j*DW]

with g = o // (C_out/G), and x read as 0 outside the input (padding).

How it is computed, on arrays (im2col, then matrix products, on threads):
``_conv_arithmetic.py``; a ResNet's 3x3 stride-1 convolutions go by
Winograd's F(4x4, 3x3) there (``_winograd.py``) where it is faster. This
file holds the ops and the argument checks.

Gradients: ops, each the derivative of the others, so that backward
of backward works:

* :class:`Conv2d` (x, W) -> y.
* :class:`ConvTranspose2d` (z, W) -> the adjoint of Conv2d in x: W^T @ z,
  folded back onto the input by col2im. dx of Conv2d is
  ConvTranspose2d(gy, W); it is also the public ``conv_transpose2d``.
* :class:`Conv2dWeight` (x, gy) -> dW = gy_g @ cols_g^T per group, summed
  over the images.
* :class:`Conv2dGradsStrideOne` (x, gy, W) -> (dx, dW) at once, for a
  stride of 1: both from one im2col of gy
  (:func:`conv2d_grads_stride_one`), one copy of the columns fewer. Its
  backward is made of the three ops above.
"""
from ...autograd.function import Function
from ._conv_arithmetic import (conv2d_array, conv2d_grads_stride_one,
                               conv2d_weight_array, conv_transpose2d_array,
                               stride_one_transposes_as_conv)
from ._window import (as_batch, check_non_negative, check_positive,
                      conv_output_size, effective_kernel, pair)


# -- the ops -----------------------------------------------------------------

class _ConvOp(Function):
    """What the convolution ops share: the window geometry."""

    def __init__(self, stride, padding, dilation, groups):
        self.stride, self.padding = stride, padding
        self.dilation, self.groups = dilation, groups

    def geometry(self):
        return self.stride, self.padding, self.dilation, self.groups


class Conv2d(_ConvOp):
    """y = conv2d(x, W) + b (formula in the module docstring).

    x (N, C_in, H, W), W (C_out, C_in/G, KH, KW), b (C_out,) optional,
    y (N, C_out, OH, OW), (OH, OW) = output_size.

    dx = ConvTranspose2d(gy, W);  dW = Conv2dWeight(x, gy);
    db = gy summed over N, OH, OW. When both dx and dW are needed and the
    stride is 1, they come from one op, Conv2dGradsStrideOne (one im2col
    of gy instead of two copies): the same values.
    """

    def __init__(self, stride, padding, dilation, groups, output_size):
        super().__init__(stride, padding, dilation, groups)
        self.output_size = output_size

    def to_save(self, inputs, outputs):
        return inputs[:2]

    def forward(self, x, weight, bias=None):
        self.has_bias = bias is not None
        return conv2d_array(x, weight, bias, *self.geometry(), self.output_size)

    def backward(self, gy):
        x, weight = self.saved_tensors
        needs = self.needs_input_grad
        gx = gw = None
        if needs[0] and needs[1] and stride_one_transposes_as_conv(
                self.stride, self.padding, self.dilation, weight.shape[2:]):
            gx, gw = Conv2dGradsStrideOne(self.padding, self.dilation,
                                          self.groups)(x, gy, weight)
        else:
            if needs[0]:
                gx = ConvTranspose2d(*self.geometry(), x.shape[2:])(gy, weight)
            if needs[1]:
                gw = Conv2dWeight(*self.geometry(), weight.shape[2:])(x, gy)
        if not self.has_bias:
            return gx, gw
        return gx, gw, (gy.sum(dim=(0, 2, 3)) if needs[2] else None)


class ConvTranspose2d(_ConvOp):
    """u = conv_transpose2d(z, W) + b: the adjoint of Conv2d in its input.

    z (N, C_out, OH, OW), W (C_out, C_in/G, KH, KW) (the weight of the
    convolution it transposes), b (C_in,) optional, u (N, C_in, H, W),
    (H, W) = output_size. For every a: <Conv2d(a, W), z> = <a, u - b>.

    dz = Conv2d(gu, W);  dW = Conv2dWeight(gu, z);  db = gu summed over
    N, H, W.
    """

    def __init__(self, stride, padding, dilation, groups, output_size):
        super().__init__(stride, padding, dilation, groups)
        self.output_size = output_size

    def to_save(self, inputs, outputs):
        return inputs[:2]

    def forward(self, z, weight, bias=None):
        self.has_bias = bias is not None
        return conv_transpose2d_array(z, weight, bias, *self.geometry(),
                                      self.output_size)

    def backward(self, gu):
        z, weight = self.saved_tensors
        needs = self.needs_input_grad
        gz = gw = None
        if needs[0]:
            gz = Conv2d(*self.geometry(), z.shape[2:])(gu, weight)
        if needs[1]:
            gw = Conv2dWeight(*self.geometry(), weight.shape[2:])(gu, z)
        if not self.has_bias:
            return gz, gw
        return gz, gw, (gu.sum(dim=(0, 2, 3)) if needs[2] else None)


class Conv2dWeight(_ConvOp):
    """dW = the weight gradient of conv2d, from x and gy.

    x (N, C_in, H, W), gy (N, C_out, OH, OW), dW (C_out, C_in/G, KH, KW),
    (KH, KW) = kernel_size. dW is bilinear in (x, gy): for a gradient ggW,
    dx = ConvTranspose2d(gy, ggW) and dgy = Conv2d(x, ggW).
    """

    def __init__(self, stride, padding, dilation, groups, kernel_size):
        super().__init__(stride, padding, dilation, groups)
        self.kernel_size = kernel_size

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x, gy):
        return conv2d_weight_array(x, gy, self.kernel_size, *self.geometry())

    def backward(self, ggw):
        x, gy = self.saved_tensors
        gx = ggy = None
        if self.needs_input_grad[0]:
            gx = ConvTranspose2d(*self.geometry(), x.shape[2:])(gy, ggw)
        if self.needs_input_grad[1]:
            ggy = Conv2d(*self.geometry(), gy.shape[2:])(x, ggw)
        return gx, ggy


class Conv2dGradsStrideOne(_ConvOp):
    """(dx, dW) of a stride-1 Conv2d at once, from x, gy and W.

    x (N, C_in, H, W), gy (N, C_out, H', W'), W (C_out, C_in/G, KH, KW);
    dx like x, dW like W. The same values as ConvTranspose2d(gy, W) and
    Conv2dWeight(x, gy), from one im2col of gy instead of an im2col of gy
    and one of x (:func:`conv2d_grads_stride_one`). Conv2d's backward uses
    it when it needs both and the stride is 1.

    dx is bilinear in (gy, W), dW in (x, gy): for gradients (ggx, ggW),
        d x  = ConvTranspose2d(gy, ggW)
        d gy = Conv2d(ggx, W) + Conv2d(x, ggW)
        d W  = Conv2dWeight(ggx, gy)
    """

    def __init__(self, padding, dilation, groups):
        super().__init__((1, 1), padding, dilation, groups)

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x, gy, weight):
        return conv2d_grads_stride_one(x, gy, weight, self.padding,
                                       self.dilation, self.groups)

    def backward(self, ggx, ggw):
        x, gy, weight = self.saved_tensors
        needs = self.needs_input_grad
        dx = dgy = dw = None
        if needs[0]:
            dx = ConvTranspose2d(*self.geometry(), x.shape[2:])(gy, ggw)
        if needs[1]:
            dgy = (Conv2d(*self.geometry(), gy.shape[2:])(ggx, weight)
                   + Conv2d(*self.geometry(), gy.shape[2:])(x, ggw))
        if needs[2]:
            dw = Conv2dWeight(*self.geometry(), weight.shape[2:])(ggx, gy)
        return dx, dgy, dw


# -- the public functions: argument checks, then the op ----------------------

def _check_weight_and_bias(input, weight, bias, groups, bias_size, op):
    if weight.ndim != 4:
        raise ValueError("{}: expected a 4-D weight, got shape {}".format(
            op, weight.shape))
    if not isinstance(groups, int) or groups < 1:
        raise ValueError("{}: groups must be a positive int, got {!r}".format(
            op, groups))
    if weight.dtype != input.dtype or (bias is not None
                                       and bias.dtype != input.dtype):
        raise ValueError("{}: input ({}), weight ({}) and bias ({}) must have "
                         "the same dtype".format(
                             op, input.dtype, weight.dtype,
                             None if bias is None else bias.dtype))
    if bias is not None and tuple(bias.shape) != (bias_size,):
        raise ValueError("{}: bias of shape {} for weight of shape {} "
                         "(expected ({},))".format(op, bias.shape, weight.shape,
                                                   bias_size))


def _same_padding(dilation, kernel_size, stride, op):
    """padding='same': the output keeps the input size (stride 1 only).

    The total padding D(K-1) is split with the odd one at the end (bottom,
    right), as in PyTorch; the end's share is implied by the output size.
    """
    if stride != (1, 1):
        raise ValueError("{}: padding='same' needs stride 1, got stride {}"
                         .format(op, stride))
    return tuple(d * (k - 1) // 2 for d, k in zip(dilation, kernel_size))


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution over a batch of images (PyTorch's conv2d).

    input (N, C_in, H, W) or (C_in, H, W); weight (C_out, C_in/groups, KH,
    KW); bias (C_out,) or None; stride, padding, dilation: an int or a
    pair (padding may also be 'valid' or 'same'). Returns
    (N, C_out, OH, OW) with OH = floor((H + 2 PH - DH (KH - 1) - 1) / SH) + 1
    (OW likewise). See :class:`Conv2d` for the gradients.
    """
    op = "conv2d"
    x, single = as_batch(input, op)
    stride, dilation = pair(stride, "stride", op), pair(dilation, "dilation", op)
    check_positive(stride, "stride", op)
    check_positive(dilation, "dilation", op)
    _check_weight_and_bias(x, weight, bias, groups, weight.shape[0]
                           if weight.ndim == 4 else None, op)
    c_in, (h, w) = x.shape[1], x.shape[2:]
    c_out, c_group, kh, kw = weight.shape
    if c_in % groups or c_out % groups:
        raise ValueError("{}: groups={} must divide both the input channels "
                         "({}, input shape {}) and the output channels ({}, "
                         "weight shape {})".format(op, groups, c_in, x.shape,
                                                   c_out, weight.shape))
    if c_group * groups != c_in:
        raise ValueError("{}: input of shape {} has {} channels, but weight of "
                         "shape {} with groups={} expects {} (weight.shape[1] "
                         "* groups)".format(op, x.shape, c_in, weight.shape,
                                            groups, c_group * groups))
    extent = effective_kernel((kh, kw), dilation)
    if padding == "valid":
        padding = (0, 0)
    if padding == "same":
        padding = _same_padding(dilation, (kh, kw), stride, op)
        output_size = (h, w)
        total = tuple(e - 1 for e in extent)
    else:
        padding = pair(padding, "padding", op)
        check_non_negative(padding, "padding", op)
        output_size = conv_output_size((h, w), (kh, kw), stride, padding,
                                       dilation)
        total = tuple(2 * p for p in padding)
    if any(e > size + t for e, size, t in zip(extent, (h, w), total)):
        raise ValueError("{}: kernel of size {} (dilated: {}) is larger than "
                         "the padded input ({}, {}) (input shape {}, padding "
                         "{}, weight shape {})".format(
                             op, (kh, kw), extent, h + total[0], w + total[1],
                             x.shape, padding, weight.shape))
    inputs = (x, weight) if bias is None else (x, weight, bias)
    y = Conv2d(stride, padding, dilation, groups, output_size)(*inputs)
    return y.squeeze(0) if single else y


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0,
                     output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution (PyTorch's conv_transpose2d): the gradient
    of conv2d with respect to its input, used as a layer that upsamples.

    input (N, C_in, H, W) or (C_in, H, W); weight (C_in, C_out/groups, KH,
    KW); bias (C_out,) or None. Returns (N, C_out, OH, OW) with
    OH = (H - 1) SH - 2 PH + DH (KH - 1) + output_padding + 1 (OW likewise).
    See :class:`ConvTranspose2d` for the gradients.
    """
    op = "conv_transpose2d"
    x, single = as_batch(input, op)
    stride, dilation = pair(stride, "stride", op), pair(dilation, "dilation", op)
    padding = pair(padding, "padding", op)
    output_padding = pair(output_padding, "output_padding", op)
    check_positive(stride, "stride", op)
    check_positive(dilation, "dilation", op)
    check_non_negative(padding, "padding", op)
    check_non_negative(output_padding, "output_padding", op)
    _check_weight_and_bias(x, weight, bias, groups, weight.shape[1] * groups
                           if weight.ndim == 4 else None, op)
    c_in, (h, w) = x.shape[1], x.shape[2:]
    c_weight, c_group, kh, kw = weight.shape
    if c_in % groups:
        raise ValueError("{}: groups={} must divide the input channels ({}, "
                         "input shape {})".format(op, groups, c_in, x.shape))
    if c_weight != c_in:
        raise ValueError("{}: input of shape {} has {} channels, but weight of "
                         "shape {} expects {} (weight.shape[0])".format(
                             op, x.shape, c_in, weight.shape, c_weight))
    if any(o >= s and o >= d for o, s, d in zip(output_padding, stride,
                                                dilation)):
        raise ValueError("{}: output_padding {} must be smaller than either "
                         "stride {} or dilation {}".format(
                             op, output_padding, stride, dilation))
    output_size = tuple(
        (size - 1) * s - 2 * p + d * (k - 1) + o + 1 for size, s, p, d, k, o
        in zip((h, w), stride, padding, dilation, (kh, kw), output_padding))
    if any(size < 1 for size in output_size):
        raise ValueError("{}: the output would be {} for input shape {}, "
                         "weight shape {}, stride {}, padding {}, dilation {} "
                         "(padding too large)".format(
                             op, output_size, x.shape, weight.shape, stride,
                             padding, dilation))
    inputs = (x, weight) if bias is None else (x, weight, bias)
    y = ConvTranspose2d(stride, padding, dilation, groups, output_size)(*inputs)
    return y.squeeze(0) if single else y
