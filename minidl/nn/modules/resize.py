"""Upsample and the padding layers (ReflectionPad2d, ReplicationPad2d,
ZeroPad2d, ConstantPad2d, CircularPad2d and their 1-d / 3-d forms)."""
from .. import functional as F
from ..module import Module


class Upsample(Module):
    """F.interpolate as a layer."""

    def __init__(self, size=None, scale_factor=None, mode="nearest",
                 align_corners=None, recompute_scale_factor=None):
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode,
                             self.align_corners, self.recompute_scale_factor)

    def extra_repr(self):
        if self.scale_factor is not None:
            return f"scale_factor={self.scale_factor}, mode={self.mode!r}"
        return f"size={self.size}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, "nearest")


class UpsamplingBilinear2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, "bilinear", align_corners=True)


class _Pad(Module):
    mode = "constant"
    spatial = 2

    def __init__(self, padding, value=0.0):
        super().__init__()
        if isinstance(padding, int):
            padding = (padding,) * (2 * self.spatial)
        self.padding, self.value = tuple(padding), value

    def forward(self, x):
        return F.pad(x, self.padding, self.mode, self.value)

    def extra_repr(self):
        return f"{self.padding}"


def _pad_layer(name, mode, spatial, doc):
    return type(name, (_Pad,), {"mode": mode, "spatial": spatial, "__doc__": doc})


ReflectionPad1d = _pad_layer("ReflectionPad1d", "reflect", 1, "Pads the last dim by reflection.")
ReflectionPad2d = _pad_layer("ReflectionPad2d", "reflect", 2, "Pads H and W by reflection.")
ReflectionPad3d = _pad_layer("ReflectionPad3d", "reflect", 3, "Pads D, H, W by reflection.")
ReplicationPad1d = _pad_layer("ReplicationPad1d", "replicate", 1, "Repeats the edge (last dim).")
ReplicationPad2d = _pad_layer("ReplicationPad2d", "replicate", 2, "Repeats the edges of H, W.")
ReplicationPad3d = _pad_layer("ReplicationPad3d", "replicate", 3, "Repeats the edges of D, H, W.")
CircularPad1d = _pad_layer("CircularPad1d", "circular", 1, "Wraps the last dim around.")
CircularPad2d = _pad_layer("CircularPad2d", "circular", 2, "Wraps H and W around.")
ZeroPad1d = _pad_layer("ZeroPad1d", "constant", 1, "Pads the last dim with zeros.")
ZeroPad2d = _pad_layer("ZeroPad2d", "constant", 2, "Pads H and W with zeros.")
ConstantPad1d = _pad_layer("ConstantPad1d", "constant", 1, "Pads the last dim with `value`.")
ConstantPad2d = _pad_layer("ConstantPad2d", "constant", 2, "Pads H and W with `value`.")
ConstantPad3d = _pad_layer("ConstantPad3d", "constant", 3, "Pads D, H, W with `value`.")
