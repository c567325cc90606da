"""lerp: linear interpolation between two tensors."""
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import as_tensor
from .arithmetic import require_kind, sum_to_shape


class Lerp(Function):
    """z = start + weight * (end - start), broadcast; weight a tensor or
    a number. Computed as PyTorch does: from `end` when |weight| >= 1/2,
    so that weight = 1 gives exactly `end`.

    dz/dstart = 1 - weight, dz/dend = weight, dz/dweight = end - start.
    """

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, start, end, weight):
        xp = get_array_module(start)
        difference = end - start
        near_start = xp.abs(weight) < 0.5
        return xp.where(near_start, start + weight * difference,
                        end - difference * (1 - weight))

    def backward(self, gz):
        start, end, weight = self.saved_tensors
        needs = self.needs_input_grad
        g_start = sum_to_shape(gz * (1 - weight), start.shape) if needs[0] else None
        g_end = sum_to_shape(gz * weight, end.shape) if needs[1] else None
        g_weight = sum_to_shape(gz * (end - start), weight.shape) if needs[2] else None
        return g_start, g_end, g_weight


def lerp(input, end, weight):
    """input + weight * (end - input); `weight` a number or a tensor."""
    if input.dtype != end.dtype:
        raise TypeError(f"lerp: expected end of dtype {input.dtype}, got "
                        f"{end.dtype} (as PyTorch, no promotion)")
    require_kind("lerp", input, "fc", "a floating dtype")
    return Lerp()(input, end, as_tensor(weight, like=input))
