"""The LoRA layers: a frozen layer plus a trainable low-rank update.

LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language
Models") keeps a pretrained weight W (out, in) fixed and learns an update
of rank r instead of W itself::

    y = x W^T + b + (lora_alpha / r) * B (A (dropout(x)))

with A (r, in) and B (out, r). A starts random (kaiming-uniform with
a = sqrt(5), as PEFT and torch's Linear do), B starts at zero, so at the
start the layer computes exactly what the pretrained one did, and only
r * (in + out) numbers train instead of in * out. Merging folds the update
into the weight: W' = W + (lora_alpha / r) B A, after which the layer is a
plain one again, with no extra cost at inference.

Three layers, with the PEFT library's names (``r``, ``lora_alpha``,
``scaling``, ``lora_dropout``, ``lora_A``, ``lora_B``):

* :class:`LoRALinear` wraps a Linear: ``lora_A`` is Linear(in, r),
  ``lora_B`` Linear(r, out), both without bias.
* :class:`LoRAConv2d` wraps a Conv2d: ``lora_A`` is a rank-r convolution
  with the same kernel size, stride, padding and dilation, ``lora_B`` a
  1x1 one (r -> out). (PEFT 0.21 leaves out the dilation, so for a dilated
  convolution its merged kernel is not what its adapter computed.) Both are linear in their weights, so their
  composition is one convolution with the kernel
  delta[o, i, kh, kw] = scaling * sum_k B[o, k] A[k, i, kh, kw].
* :class:`LoRAMultiheadAttention` wraps any attention module with torch's
  layout (``in_proj_weight`` (3E, E), ``in_proj_bias``, ``out_proj`` a
  Linear). Like PEFT, one rank-r update of the stacked (3E, E) in-projection
  (not one per query/key/value) and a LoRA ``out_proj``.

Names. The wrapped layer keeps the base layer's parameters under their own
names (``fc.weight``, not PEFT's ``fc.base_layer.weight``) and adds
``fc.lora_A.weight`` and ``fc.lora_B.weight``. So the state dict of a LoRA
model is the plain model's plus the adapters: a pretrained checkpoint
loads into it with ``strict=False`` (only adapter keys missing), code that
finds parameters by name (``--freeze``, the head's learning rate) keeps
working, and merging gives back exactly the plain model's names. PEFT needs
``base_layer`` because one layer may hold several named adapters; here a
layer holds one.

LoRA adds no new differentiable Function: the update is made of linear,
conv2d, matmul and mul, whose gradients are checked where they are defined.
"""
import contextlib
import math

from .. import nn
from ..autograd import no_grad
from ..nn import init
from ..nn.module import Module
from ..nn.parameter import Parameter


def check_lora_arguments(r, lora_alpha, lora_dropout, caller):
    """ValueError naming `caller` unless r is a positive int, lora_alpha a
    positive number and lora_dropout in [0, 1)."""
    if isinstance(r, bool) or not isinstance(r, int) or r <= 0:
        raise ValueError(f"{caller}: the rank r must be a positive int, got "
                         f"{r!r}")
    if isinstance(lora_alpha, bool) or not isinstance(lora_alpha, (int, float)) \
            or not lora_alpha > 0:
        raise ValueError(f"{caller}: lora_alpha must be a positive number, got "
                         f"{lora_alpha!r}")
    if isinstance(lora_dropout, bool) or \
            not isinstance(lora_dropout, (int, float)) or \
            not 0 <= lora_dropout < 1:
        raise ValueError(f"{caller}: lora_dropout must be in [0, 1), got "
                         f"{lora_dropout!r}")


class LoRALayer:
    """What the LoRA layers share (a mixin for Module subclasses): the
    adapter's hyper-parameters and modules, their initialisation, and
    turning the layer back into the plain one it wraps.

    Subclasses keep the wrapped module in ``self._base_layer`` (not a
    registered child, so its parameters are not listed twice) and define
    ``delta_weight()``, the update (lora_alpha / r) B A in the shape of the
    base weight.
    """

    def _add_adapter(self, lora_A, lora_B, r, lora_alpha, lora_dropout):
        self.r = r
        self.lora_alpha = lora_alpha
        self.scaling = lora_alpha / r
        self.lora_dropout = nn.Dropout(lora_dropout) if lora_dropout > 0 \
            else nn.Identity()
        self.lora_A = lora_A
        self.lora_B = lora_B
        self.reset_lora_parameters()

    def reset_lora_parameters(self):
        """A ~ kaiming-uniform (a = sqrt(5)): U(-1/sqrt(fan_in),
        1/sqrt(fan_in)), PEFT's default; B = 0, so the update starts at 0."""
        init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        init.zeros_(self.lora_B.weight)

    def delta_weight(self):
        raise NotImplementedError

    def unload(self):
        """The wrapped module, without the update (PEFT's ``unload``)."""
        base = self._base_layer
        base.train(self.training)
        return base

    def merge_and_unload(self):
        """The wrapped module with the update added to its weight, in place:
        W <- W + (lora_alpha / r) B A (PEFT's ``merge_and_unload``)."""
        _add_in_place(self._base_layer.weight, self.delta_weight())
        return self.unload()

    def lora_extra_repr(self):
        return f"r={self.r}, lora_alpha={self.lora_alpha}"


def _add_in_place(param, delta):
    """param += delta (a Tensor), outside the graph, in param's dtype."""
    with no_grad():
        param.data += delta.data.astype(param.dtype, copy=False)
    param._bump_version()


def _adapter_linear(in_features, out_features, like):
    """A bias-free Linear on `like`'s device and dtype."""
    return nn.Linear(in_features, out_features, bias=False, device=like.device,
                     dtype=like.dtype)


class LoRALinear(LoRALayer, nn.Linear):
    """A Linear plus a rank-r update: (*, in) -> (*, out),
    y = F.linear(x, W, b) + scaling * lora_B(lora_A(lora_dropout(x))).

    It shares the wrapped Linear's ``weight`` and ``bias`` Parameters (and
    is still an ``nn.Linear``); Linear.__init__ is not called, as it would
    allocate and initialise new ones.
    """

    def __init__(self, base, r=8, lora_alpha=8, lora_dropout=0.0):
        if not isinstance(base, nn.Linear) or isinstance(base, LoRALayer):
            raise TypeError(f"LoRALinear wraps a plain nn.Linear, got "
                            f"{type(base).__name__}")
        check_lora_arguments(r, lora_alpha, lora_dropout, "LoRALinear")
        Module.__init__(self)
        object.__setattr__(self, "_base_layer", base)
        self.in_features = base.in_features
        self.out_features = base.out_features
        self.weight = base.weight
        if base.bias is not None:
            self.bias = base.bias
        else:
            self.register_parameter("bias", None)
        self._add_adapter(_adapter_linear(base.in_features, r, base.weight),
                          _adapter_linear(r, base.out_features, base.weight),
                          r, lora_alpha, lora_dropout)
        self.train(base.training)

    def forward(self, x):
        result = super().forward(x)  # Linear's, with its shape check
        update = self.lora_B(self.lora_A(self.lora_dropout(x)))
        return result + update * self.scaling

    def delta_weight(self):
        """scaling * B A: (out, r) @ (r, in) -> (out, in)."""
        return (self.lora_B.weight @ self.lora_A.weight) * self.scaling

    def extra_repr(self):
        return f"{super().extra_repr()}, {self.lora_extra_repr()}"


class LoRAConv2d(LoRALayer, nn.Conv2d):
    """A Conv2d plus a rank-r update: (N, C_in, H, W) -> (N, C_out, OH, OW),
    y = conv2d(x, W, b) + scaling * lora_B(lora_A(lora_dropout(x))),
    where lora_A is Conv2d(C_in, r, kernel_size) with the base layer's
    stride, padding and dilation, and lora_B is Conv2d(r, C_out, 1), both
    without bias (as PEFT). Only groups=1 base layers: the update is a dense
    (C_out, C_in, KH, KW) kernel, which a grouped kernel cannot hold.
    """

    def __init__(self, base, r=8, lora_alpha=8, lora_dropout=0.0):
        if not isinstance(base, nn.Conv2d) or isinstance(base, LoRALayer):
            raise TypeError(f"LoRAConv2d wraps a plain nn.Conv2d, got "
                            f"{type(base).__name__}")
        check_lora_arguments(r, lora_alpha, lora_dropout, "LoRAConv2d")
        if base.groups != 1:
            raise ValueError(f"LoRAConv2d: the convolution has groups="
                             f"{base.groups}; LoRA supports groups=1 only (the "
                             f"update B A is a dense kernel that cannot be "
                             f"merged into a grouped one)")
        Module.__init__(self)
        object.__setattr__(self, "_base_layer", base)
        for name in ("in_channels", "out_channels", "kernel_size", "stride",
                     "padding", "dilation", "groups", "padding_mode"):
            setattr(self, name, getattr(base, name))
        self.weight = base.weight
        if base.bias is not None:
            self.bias = base.bias
        else:
            self.register_parameter("bias", None)
        like = base.weight
        lora_A = nn.Conv2d(base.in_channels, r, base.kernel_size, base.stride,
                           base.padding, base.dilation, bias=False,
                           device=like.device, dtype=like.dtype)
        lora_B = nn.Conv2d(r, base.out_channels, 1, bias=False,
                           device=like.device, dtype=like.dtype)
        self._add_adapter(lora_A, lora_B, r, lora_alpha, lora_dropout)
        self.train(base.training)

    def forward(self, x):
        result = super().forward(x)  # Conv2d's, with its shape check
        update = self.lora_B(self.lora_A(self.lora_dropout(x)))
        return result + update * self.scaling

    def delta_weight(self):
        """scaling * B A as a kernel: (C_out, r) @ (r, C_in * KH * KW),
        reshaped to (C_out, C_in, KH, KW)."""
        B = self.lora_B.weight.reshape(self.out_channels, self.r)
        A = self.lora_A.weight.reshape(self.r, -1)
        return (B @ A).reshape(self.weight.shape) * self.scaling

    def extra_repr(self):
        return f"{super().extra_repr()}, {self.lora_extra_repr()}"


def is_attention(module):
    """Whether `module` has torch MultiheadAttention's layout for LoRA: a
    stacked ``in_proj_weight`` Parameter of shape (3E, E) and an
    ``out_proj`` Linear (E -> E)."""
    weight = getattr(module, "in_proj_weight", None)
    out_proj = getattr(module, "out_proj", None)
    return (isinstance(weight, Parameter) and weight.ndim == 2
            and weight.shape[0] == 3 * weight.shape[1]
            and isinstance(out_proj, nn.Linear)
            and out_proj.in_features == weight.shape[1])


@contextlib.contextmanager
def _shadowed(module, name, value):
    """Within the block, ``module.<name>`` reads `value` (a Tensor) instead
    of the registered Parameter: an instance attribute is found before
    Module.__getattr__ looks in ``_parameters``. The Parameter stays
    registered; the attribute is removed again on exit, even on an error."""
    module.__dict__[name] = value
    try:
        yield
    finally:
        del module.__dict__[name]


class LoRAMultiheadAttention(LoRALayer, Module):
    """LoRA on an attention module with torch's layout (any module for
    which :func:`is_attention` holds, such as ``nn.MultiheadAttention``).

    As PEFT does:

    * one rank-r update of the stacked in-projection: ``lora_A`` is
      Linear(E, r) and ``lora_B`` Linear(r, 3E), so
      in_proj_weight' = in_proj_weight + scaling * B A (3E, E): query, key
      and value share A and each get a third of B's rows;
    * ``out_proj`` becomes a :class:`LoRALinear` with the same r and alpha
      (its update is added once; PEFT 0.21.2 adds it twice, in forward and
      in merge_and_unload, see tests/test_peft.py).

    The attention's forward reads ``self.in_proj_weight`` and
    ``self.out_proj.weight`` (torch's calls the functional form with them),
    so the forward here computes W + scaling * B A as a Tensor of the graph
    and lets the wrapped module's own forward read it in place of the
    Parameter (see :func:`_shadowed`): gradients reach A and B, the base
    weights stay untouched. For the same reason lora_dropout, which acts on
    a layer's input, cannot apply here; PEFT ignores it silently for
    attention, this class refuses a non-zero value.

    The wrapper registers the wrapped module's parameters, buffers and
    children under their own names (``in_proj_weight``, ``in_proj_bias``,
    ``out_proj.weight``, ...), so the state dict is the plain one plus
    ``lora_A.weight``, ``lora_B.weight``, ``out_proj.lora_A.weight`` and
    ``out_proj.lora_B.weight``. Other attributes (``embed_dim``,
    ``num_heads``, ``batch_first``, ...) are read from the wrapped module.
    """

    def __init__(self, base, r=8, lora_alpha=8, lora_dropout=0.0):
        if not is_attention(base):
            raise TypeError(f"LoRAMultiheadAttention wraps a module with a "
                            f"stacked in_proj_weight (3E, E) and an out_proj "
                            f"Linear (torch's MultiheadAttention layout with "
                            f"kdim == vdim == embed_dim), got "
                            f"{type(base).__name__}")
        check_lora_arguments(r, lora_alpha, lora_dropout,
                             "LoRAMultiheadAttention")
        if lora_dropout != 0:
            raise ValueError(f"LoRAMultiheadAttention: lora_dropout="
                             f"{lora_dropout} cannot apply to attention (its "
                             f"update is added to the projection weights, "
                             f"not computed from an input); use "
                             f"lora_dropout=0 or leave attention out of the "
                             f"targets")
        Module.__init__(self)
        for name, param in base._parameters.items():
            self.register_parameter(name, param)
        for name, buffer in base._buffers.items():
            self.register_buffer(name, buffer, persistent=(
                name not in base._non_persistent_buffers_set))
        for name, child in base._modules.items():
            if name == "out_proj":
                child = LoRALinear(child, r, lora_alpha)
            self.add_module(name, child)
        embed_dim = base.in_proj_weight.shape[1]
        like = base.in_proj_weight
        self._add_adapter(_adapter_linear(embed_dim, r, like),
                          _adapter_linear(r, 3 * embed_dim, like),
                          r, lora_alpha, lora_dropout)
        # Set last: from here on, unknown attributes are read from `base`.
        object.__setattr__(self, "_base_layer", base)
        self.train(base.training)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            base = self.__dict__.get("_base_layer")
            if base is None:
                raise
            return getattr(base, name)

    def train(self, mode=True):
        super().train(mode)
        self._base_layer.train(mode)
        return self

    def delta_weight(self):
        """scaling * B A: (3E, r) @ (r, E) -> (3E, E)."""
        return (self.lora_B.weight @ self.lora_A.weight) * self.scaling

    def forward(self, *args, **kwargs):
        base = self._base_layer
        in_proj_weight = self.in_proj_weight + self.delta_weight()
        out_proj_weight = self.out_proj.weight + self.out_proj.delta_weight()
        with _shadowed(base, "in_proj_weight", in_proj_weight), \
                _shadowed(base.out_proj, "weight", out_proj_weight):
            return base(*args, **kwargs)

    def merge_and_unload(self):
        """The wrapped module with both updates folded in, in place."""
        _add_in_place(self._base_layer.in_proj_weight, self.delta_weight())
        self.out_proj.merge_and_unload()  # the wrapped module's own out_proj
        return self.unload()

    def extra_repr(self):
        return self.lora_extra_repr()

    def _get_name(self):
        return f"LoRA{type(self._base_layer).__name__}"


LORA_LAYERS = (LoRALinear, LoRAConv2d, LoRAMultiheadAttention)
