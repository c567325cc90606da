"""batch_norm: normalise each channel over the batch (and spatial) dims.

For an input x of shape (N, C, *) (N, C), (N, C, L) or (N, C, H, W), channel c
is normalised with a mean and variance taken over every element of that
channel (count M = N times the product of *):

    y = (x - mean) / sqrt(var + eps) * weight + bias

In training mode mean and var are the batch's (biased variance) and the
running estimates are updated in place, as PyTorch does:

    running_mean = (1 - momentum) * running_mean + momentum * mean
    running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)

In eval mode the running estimates are used instead.

The arithmetic is in fused array kernels, registered as
``"batch_norm_forward"`` and ``"batch_norm_backward"`` in
:mod:`minidl.kernels` (few passes over memory, no transposes). Two ops use
them: :class:`BatchNorm` (forward) and :class:`BatchNormBackward` (its
gradients), whose own backward, the second derivative, is written with
Tensor ops, so gradients of any order come out right.
"""
from ... import kernels, parallel
from ...autograd.function import Function
from ...backend import get_array_module
from ...tensor import Tensor


# -- fused array kernels --------------------------------------------------------

def _channel_sum(a):
    """Sum of an (N, C, S) array over N and S: shape (C,), float64.

    The inner sums over S are a matrix-vector product with ones (BLAS reads
    memory once, about 3 times faster than ``a.sum(axis=(0, 2))``); the N
    partial sums are added in float64.
    """
    xp = get_array_module(a)
    per_sample = a @ xp.ones(a.shape[2], dtype=a.dtype)
    return per_sample.sum(axis=0, dtype=xp.float64)


def _channel_dot(a, b):
    """Sum of a * b over N and S for (N, C, S) arrays: shape (C,), float64.

    Each (n, c) row pair is a dot product, computed as a stack of
    (1, S) @ (S, 1) matrix products: no temporary array of a's size.
    """
    xp = get_array_module(a)
    n, c = a.shape[:2]
    per_sample = (a[:, :, None, :] @ b[:, :, :, None]).reshape(n, c)
    return per_sample.sum(axis=0, dtype=xp.float64)


def _by_chunks(work, x3):
    """work(start, stop) over chunks of x3's images, at once on minidl's
    threads (see :mod:`minidl.parallel`); the list of its results. Each
    pass below is one such call: a pass that needs a whole-batch sum waits
    for the previous one to finish."""
    return parallel.map_batch_chunks(work, x3.shape[0], x3.size, x3)


def _per_channel(values, like):
    """(C,) values shaped to broadcast against an (N, C, S) array `like`.

    NumPy's inner loop runs about twice as fast when both operands are
    contiguous along the last axis than when one is a (C, 1) column read
    with stride 0. So, when the batch is large enough for a (C, S) copy to
    be small next to `like`, the values are spread to (C, S) (it stays in
    cache) and broadcast over N only.
    """
    column = values[:, None]
    if like.shape[0] < 8 or like.shape[2] == 1:
        return column
    xp = get_array_module(values)
    return xp.broadcast_to(column, like.shape[1:]).copy()


@kernels.register("batch_norm_forward")
def batch_norm_forward(x, weight, bias, mean, var, eps):
    """Batch-norm forward on arrays: ``(y, mean, var, invstd)``.

    x: (N, C, *) array. weight, bias: (C,) arrays of x's dtype. mean, var:
    (C,) arrays to normalise with (eval mode), or both None to use the
    batch's statistics (training mode). eps: a float.

    Returns y (x's shape and dtype) and three (C,) arrays of x's dtype: the
    mean and the biased variance used, and invstd = 1 / sqrt(var + eps).
    Running statistics are not touched.
    """
    xp = get_array_module(x)
    n, c = x.shape[:2]
    x3 = x.reshape(n, c, -1)
    dtype, count = x.dtype, x3.shape[0] * x3.shape[2]
    y = xp.empty_like(x3)
    if mean is None:
        mean = (sum(_by_chunks(lambda a, b: _channel_sum(x3[a:b]), x3))
                / count).astype(dtype)

        # Two passes (centre, then square) rather than E[x^2] - mean^2,
        # which loses all precision in float32 when |mean| >> std. The
        # centred values are computed straight into the output array.
        def centre(start, stop):
            part = y[start:stop]
            xp.subtract(x3[start:stop], _per_channel(mean, part), out=part)
            return _channel_dot(part, part)

        var = (sum(_by_chunks(centre, x3)) / count).astype(dtype)
        invstd = 1 / xp.sqrt(var + eps)
        scale, shift = invstd * weight, bias

        def scale_and_shift(start, stop):
            part = y[start:stop]
            part *= _per_channel(scale, part)
            part += _per_channel(shift, part)
    else:
        invstd = 1 / xp.sqrt(var + eps)
        # y = x * scale + shift: two passes over memory.
        scale = invstd * weight
        shift = bias - mean * scale

        def scale_and_shift(start, stop):
            part = y[start:stop]
            xp.multiply(x3[start:stop], _per_channel(scale, part), out=part)
            part += _per_channel(shift, part)

    _by_chunks(scale_and_shift, x3)
    return (y.reshape(x.shape), mean.astype(dtype, copy=False),
            var.astype(dtype, copy=False), invstd.astype(dtype, copy=False))


@kernels.register("batch_norm_backward")
def batch_norm_backward(grad_output, x, weight, mean, invstd, training):
    """Batch-norm backward on arrays: ``(grad_input, grad_weight, grad_bias)``.

    grad_output, x: (N, C, *) arrays; weight, mean, invstd: (C,) arrays (the
    mean and invstd the forward used); training: whether the forward used
    the batch's statistics (then they depend on x).

    With xhat = (x - mean) * invstd and M = N * prod(*):
        grad_bias   = sum(gy)          grad_weight = sum(gy * xhat)
        grad_input  = weight * invstd * (gy - grad_bias / M
                                         - xhat * grad_weight / M)  training
        grad_input  = weight * invstd * gy                          eval
    Returns grad_input of x's shape and two (C,) arrays, all of x's dtype.
    Neither grad_output nor x is modified.
    """
    xp = get_array_module(x)
    n, c = x.shape[:2]
    x3 = x.reshape(n, c, -1)
    g3 = grad_output.reshape(n, c, -1)
    dtype, count = x.dtype, x3.shape[0] * x3.shape[2]
    # grad_input starts as the centred input, x - mean, and is turned into
    # the gradient in place: no other array of x's size.
    grad_input = xp.empty_like(x3)

    def sums(start, stop):
        part = grad_input[start:stop]
        xp.subtract(x3[start:stop], _per_channel(mean, part), out=part)
        return (_channel_sum(g3[start:stop]),
                _channel_dot(g3[start:stop], part))

    parts = _by_chunks(sums, x3)
    grad_bias = sum(bias_part for bias_part, _ in parts).astype(dtype)
    grad_weight = (sum(weight_part for _, weight_part in parts)
                   * invstd).astype(dtype)
    input_scale = weight * invstd
    # Training: grad_input = input_scale * (gy - grad_bias / M - centred * k)
    # with k = invstd * grad_weight / M: four passes. Eval: one.
    k = invstd * grad_weight / count

    def finish(start, stop):
        part = grad_input[start:stop]
        if training:
            part *= _per_channel(-k, part)
            part += g3[start:stop]
            part -= _per_channel(grad_bias / count, part)
            part *= _per_channel(input_scale, part)
        else:
            xp.multiply(g3[start:stop], _per_channel(input_scale, part),
                        out=part)

    _by_chunks(finish, x3)
    return grad_input.reshape(x.shape), grad_weight, grad_bias


# -- the ops --------------------------------------------------------------------

def _channel_view(x):
    """(dims, channel_shape, M) for x (N, C, *): the dims reduced per channel
    (all but C), the shape (1, C, 1, ...) that broadcasts a per-channel value
    against x, and the count M of values per channel."""
    dims = (0,) + tuple(range(2, x.ndim))
    channel_shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return dims, channel_shape, x.numel() // x.shape[1]


class BatchNorm(Function):
    """y = (x - mean) * invstd * weight + bias, per channel.

    Shapes: x (N, C, *), weight and bias (C,), y like x.

    training=True: mean and var are the batch's, functions of x. Then, with
    xhat = (x - mean) * invstd and M values per channel,
        dx = weight * invstd * (gy - sum(gy) / M - xhat * sum(gy * xhat) / M)
    training=False: mean and invstd are constants (from the running stats),
        dx = weight * invstd * gy.
    In both modes dweight = sum(gy * xhat) and dbias = sum(gy), sums over
    every dim but C. The three come from one op, :class:`BatchNormBackward`
    (the fused kernel), whose own backward is the second derivative.
    """

    def __init__(self, training, eps, running_mean=None, running_var=None):
        self.training, self.eps = training, eps
        self.running_mean, self.running_var = running_mean, running_var

    def to_save(self, inputs, outputs):
        return inputs[:2]  # x and weight

    def forward(self, x, weight, bias):
        forward = kernels.get("batch_norm_forward", get_array_module(x))
        if self.training:
            y, self.mean, self.var, self.invstd = forward(
                x, weight, bias, None, None, self.eps)
        else:
            # Copies of the running stats are cast to x's dtype here, so a
            # later in-place update of them cannot change this backward.
            mean = self.running_mean.astype(x.dtype)
            var = self.running_var.astype(x.dtype)
            y, self.mean, self.var, self.invstd = forward(
                x, weight, bias, mean, var, self.eps)
        return y

    def backward(self, gy):
        x, weight = self.saved_tensors
        gx, gw, gb = BatchNormBackward(self.training, self.eps, self.mean,
                                       self.invstd)(gy, x, weight)
        needs = self.needs_input_grad
        return (gx if needs[0] else None, gw if needs[1] else None,
                gb if needs[2] else None)


class BatchNormBackward(Function):
    """(gx, gw, gb) = the gradients of :class:`BatchNorm`, from (gy, x, w).

    Shapes: gy and x (N, C, *), w (C,); gx like x, gw and gb (C,). The
    forward is the fused ``"batch_norm_backward"`` kernel (formulas in
    BatchNorm's docstring); mean and invstd are the arrays BatchNorm's
    forward used (recomputed from x here in training mode, where they
    depend on x).

    Its backward, for output gradients (ggx, ggw, ggb), is the second
    derivative of batch norm, written with Tensor ops (so it can be
    differentiated again). Per channel, with <v> = sum(v) / M and
    P(v) = invstd * (v - <v> - xhat * <v * xhat>) (the transposed
    Jacobian of xhat in x; dx = w * P(gy) in training mode):

    training:
        dgy = ggb + ggw * xhat + w * P(ggx)
        dw  = sum(ggx * P(gy))
        dx  = ggw * P(gy) - w * invstd * (invstd * (<ggx * gy>
              - <ggx> <gy> - <ggx * xhat> <gy * xhat>) * xhat
              + <gy * xhat> P(ggx) + <ggx * xhat> P(gy))
    eval (mean and invstd constants):
        dgy = ggb + ggw * xhat + w * invstd * ggx
        dw  = sum(ggx * gy) * invstd
        dx  = ggw * invstd * gy
    """

    def __init__(self, training, eps, mean, invstd):
        self.training, self.eps = training, eps
        self.mean, self.invstd = mean, invstd

    def to_save(self, inputs, outputs):
        return inputs  # gy, x and weight

    def forward(self, gy, x, weight):
        backward = kernels.get("batch_norm_backward", get_array_module(x))
        return backward(gy, x, weight, self.mean, self.invstd, self.training)

    def backward(self, ggx, ggw, ggb):
        gy, x, weight = self.saved_tensors
        dims, channel_shape, count = _channel_view(x)

        def channel_mean(value):
            return value.sum(dims, keepdim=True) / count

        w = weight.reshape(channel_shape)
        ggw = ggw.reshape(channel_shape)
        ggb = ggb.reshape(channel_shape)
        if self.training:
            centred = x - x.mean(dims, keepdim=True)
            invstd = 1 / (channel_mean(centred * centred) + self.eps).sqrt()
        else:
            centred = x - Tensor(self.mean.reshape(channel_shape))
            invstd = Tensor(self.invstd.reshape(channel_shape))
        xhat = centred * invstd
        if not self.training:
            dgy = ggb + ggw * xhat + (w * invstd) * ggx
            dw = (ggx * gy).sum(dims, keepdim=True) * invstd
            dx = (ggw * invstd) * gy
            return dgy, dx, dw.reshape(-1)

        def project(value):  # P(value): the transposed Jacobian of xhat
            return invstd * (value - channel_mean(value)
                             - xhat * channel_mean(value * xhat))

        gy_xhat, ggx_xhat = channel_mean(gy * xhat), channel_mean(ggx * xhat)
        project_gy, project_ggx = project(gy), project(ggx)
        dgy = ggb + ggw * xhat + w * project_ggx
        dw = (ggx * project_gy).sum(dims, keepdim=True)
        through_invstd = invstd * (channel_mean(ggx * gy)
                                   - channel_mean(ggx) * channel_mean(gy)
                                   - ggx_xhat * gy_xhat)
        dx = ggw * project_gy - (w * invstd) * (
            through_invstd * xhat + gy_xhat * project_ggx
            + ggx_xhat * project_gy)
        return dgy, dx, dw.reshape(-1)


def _check_channel_vector(name, value, channels, input_shape):
    if value is not None and tuple(value.shape) != (channels,):
        raise ValueError(
            "batch_norm: {} of shape {} does not match the input's {} channels "
            "(input shape {}, expected {} of shape ({},))".format(
                name, tuple(value.shape), channels, input_shape, name,
                channels))


def _update_running_stats(running_mean, running_var, mean, var, count,
                          momentum):
    """running = (1 - momentum) * running + momentum * batch, in place.

    The variance is the unbiased one, var * M / (M - 1), as PyTorch uses.
    """
    for running, batch in ((running_mean, mean), (running_var,
                                                  var * (count / (count - 1)))):
        if running is None:
            continue
        data = running.data
        data *= 1 - momentum
        data += momentum * batch.astype(data.dtype, copy=False)
        running._bump_version()


def batch_norm(input, running_mean, running_var, weight=None, bias=None,
               training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation of `input` (N, C, *) per channel (PyTorch's F.batch_norm).

    running_mean, running_var: (C,) tensors, updated in place when
    `training` (they may be None in training mode, then nothing is tracked);
    required in eval mode. weight, bias: (C,) tensors or None (1 and 0).
    See the module docstring for the formulas.
    """
    shape = input.shape
    if input.ndim < 2:
        raise ValueError("batch_norm: expected input of shape (N, C, *) with "
                         "at least 2 dims, got shape {}".format(shape))
    channels = shape[1]
    for name, value in (("running_mean", running_mean),
                        ("running_var", running_var), ("weight", weight),
                        ("bias", bias)):
        _check_channel_vector(name, value, channels, shape)
    count = input.numel() // channels if channels else 0
    if training and count <= 1:
        raise ValueError("batch_norm: expected more than 1 value per channel "
                         "when training, got input of shape {}".format(shape))
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: running_mean and running_var are "
                         "required in eval mode (training=False), input shape "
                         "{}".format(shape))
    if training and momentum is None:
        raise ValueError("batch_norm: momentum must be a number; the "
                         "cumulative average (momentum=None) is computed by "
                         "the BatchNorm modules, which pass 1 / "
                         "num_batches_tracked")
    xp = get_array_module(input.data)
    # Missing affine parameters are constants 1 and 0 (no gradient).
    if weight is None:
        weight = Tensor(xp.ones(channels, dtype=input.dtype))
    if bias is None:
        bias = Tensor(xp.zeros(channels, dtype=input.dtype))
    function = BatchNorm(training, eps,
                         None if training else running_mean.data,
                         None if training else running_var.data)
    output = function(input, weight, bias)
    if training:
        _update_running_stats(running_mean, running_var, function.mean,
                              function.var, count, momentum)
    return output
