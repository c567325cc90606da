"""BatchNorm1d and BatchNorm2d: normalise each channel over the batch.

In training mode a channel c is normalised with the mean and (biased)
variance of the batch, over every axis but C; the running estimates are
updated as PyTorch does:
``running = (1 - momentum) * running + momentum * batch_statistic``, with
the unbiased variance (n / (n - 1)) for ``running_var``. In evaluation mode
the running estimates are used instead. ``momentum=None`` gives the plain
cumulative average, 1 / num_batches_tracked.
"""
import numpy as np

from ... import backend
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from .linear import _empty


class _BatchNorm(Module):
    """Shared by BatchNorm1d/2d; subclasses say which input ranks are valid."""

    expected_dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *,
                 bias=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = _empty((num_features,), device, dtype)
            if bias:
                self.bias = _empty((num_features,), device, dtype)
            else:  # scale only (PyTorch 2.14's bias=False)
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", _empty(
                (num_features,), device, dtype).detach())
            self.register_buffer("running_var", _empty(
                (num_features,), device, dtype).detach())
            device = backend.Device(device) if device is not None \
                else backend.default_device()
            self.register_buffer("num_batches_tracked", Tensor(
                device.xp.zeros((), dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input(self, x):
        if x.ndim not in self.expected_dims:
            raise ValueError("{}: expected {} input, got {}-d input of shape {}"
                             .format(type(self).__name__, " or ".join(
                                 "{}-d".format(d) for d in self.expected_dims),
                                 x.ndim, x.shape))
        if x.shape[1] != self.num_features:
            raise ValueError("{}({}): expected {} channels in dim 1, got input "
                             "of shape {}".format(type(self).__name__,
                                                  self.num_features,
                                                  self.num_features, x.shape))

    def forward(self, x):
        self._check_input(x)
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1  # a plain counter, no autograd
            self.num_batches_tracked._bump_version()
            if self.momentum is None:
                momentum = 1.0 / float(self.num_batches_tracked.item())
        # Batch statistics are used in training, and also in evaluation when
        # there are no running estimates to use.
        use_batch_stats = self.training or self.running_mean is None
        # In training without tracking, pass no running estimates, so
        # batch_norm updates nothing.
        pass_running = not self.training or self.track_running_stats
        return F.batch_norm(
            x,
            self.running_mean if pass_running else None,
            self.running_var if pass_running else None,
            self.weight, self.bias, use_batch_stats, momentum, self.eps)

    def _load_from_state_dict(self, state_dict, prefix, expected_keys,
                              missing_keys, errors, copies):
        # Checkpoints from PyTorch before 0.4.1 have no num_batches_tracked;
        # PyTorch then keeps the current count, and so do we.
        key = prefix + "num_batches_tracked"
        if self.track_running_stats and key not in state_dict:
            state_dict[key] = self.num_batches_tracked.detach()
        super()._load_from_state_dict(state_dict, prefix, expected_keys,
                                      missing_keys, errors, copies)

    def extra_repr(self):
        return ("{}, eps={}, momentum={}, affine={}, bias={}, "
                "track_running_stats={}".format(
                    self.num_features, self.eps, self.momentum, self.affine,
                    self.bias is not None, self.track_running_stats))


class BatchNorm1d(_BatchNorm):
    """BatchNorm over (N, C) or (N, C, L) inputs, per channel C."""
    expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """BatchNorm over (N, C, H, W) inputs, per channel C."""
    expected_dims = (4,)
