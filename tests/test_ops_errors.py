"""Bad input: each op's error names the op and the shapes involved."""
import pytest

import minidl


def zeros(*shape):
    return minidl.zeros(*shape)


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: zeros(2, 3) + zeros(4), ValueError,
     r"Add: .*\(input shapes \[\(2, 3\), \(4,\)\]\)"),
    (lambda: zeros(2, 3) * zeros(2, 2), ValueError,
     r"Mul: .*\(input shapes \[\(2, 3\), \(2, 2\)\]\)"),
    (lambda: zeros(2, 3) @ zeros(4, 5), ValueError,
     r"matmul: shapes \(2, 3\) and \(4, 5\) do not fit \(3 != 4\)"),
    (lambda: zeros(2, 2, 3) @ zeros(3, 3, 4), ValueError,
     r"matmul: the batch dims of shapes \(2, 2, 3\) and \(3, 3, 4\) do not "
     r"broadcast"),
    (lambda: minidl.matmul(minidl.tensor(2.0), zeros(2)), ValueError,
     r"matmul: both operands need at least 1 dim, got shapes \(\) and \(2,\)"),
    (lambda: minidl.cat([zeros(2, 3), zeros(2, 4)]), ValueError,
     r"cat: shapes \[\(2, 3\), \(2, 4\)\] differ outside dim 0"),
    (lambda: minidl.cat([zeros(2, 3), zeros(3)], dim=1), ValueError,
     r"cat: shapes \[\(2, 3\), \(3,\)\]"),
    (lambda: minidl.cat([]), ValueError, "cat: expected a non-empty list"),
    (lambda: minidl.stack([zeros(2), zeros(3)]), ValueError,
     r"stack: all tensors must have the same shape, got \[\(2,\), \(3,\)\]"),
    (lambda: zeros(2, 3).reshape(4), ValueError,
     r"reshape: cannot view shape \(2, 3\) \(6 elements\) as \(4,\)"),
    (lambda: zeros(2, 3).expand(4, 3), ValueError,
     r"expand: cannot broadcast shape \(2, 3\) to \(4, 3\)"),
    (lambda: zeros(2, 3).expand(3), ValueError,
     r"expand: cannot expand shape \(2, 3\) to \(3,\)"),
    (lambda: zeros(2, 3).permute(0, 0), ValueError,
     r"permute: \(0, 0\) is not an order of the 2 dims of shape \(2, 3\)"),
    (lambda: zeros(2, 3).permute(0, 5), ValueError, r"permute: \(0, 5\)"),
    (lambda: zeros(2, 3).transpose(0, 2), IndexError,
     "transpose: dim 2 is out of range for a tensor with 2 dimensions"),
    (lambda: zeros(2, 3).unsqueeze(3), IndexError,
     "unsqueeze: dim 3 is out of range"),
    (lambda: zeros(2, 3).sum(dim=(0, 0)), ValueError,
     r"sum: dim 0 appears more than once"),
    (lambda: zeros(2, 3).mean(dim=-3), IndexError,
     "mean: dim -3 is out of range for a tensor with 2 dimensions"),
    (lambda: minidl.softmax(zeros(2, 3), dim=2), IndexError,
     "softmax: dim 2 is out of range"),
    (lambda: minidl.log_softmax(zeros(2, 3), dim=5), IndexError, "log_softmax: dim 5"),
    (lambda: zeros(0, 3).max(dim=0), ValueError,
     r"max: cannot reduce over dim 0 of size 0 \(shape \(0, 3\)\)"),
    (lambda: zeros(0, 3).amax(), ValueError, r"amax: .*\(0, 3\)"),
    (lambda: zeros(2, 3)[5], IndexError,
     r"getitem: index 5 is out of bounds .* tensor of shape \(2, 3\)"),
    (lambda: minidl.pad(zeros(2), (1, 1, 1, 1)), ValueError,
     r"pad: \(1, 1, 1, 1\) sizes for a tensor of shape \(2,\)"),
    (lambda: minidl.pad(zeros(2), (1,)), ValueError, "pad: expected an even number"),
    (lambda: minidl.pad(zeros(2), (1, 1), mode="wrap"), ValueError,
     "pad: mode 'wrap' is not one of"),
    (lambda: minidl.gather(zeros(2, 3), 1, minidl.tensor([0, 1])), ValueError,
     r"gather: index must be an integer tensor with as many dims as the input; "
     r"got index of shape \(2,\)"),
    (lambda: minidl.where(zeros(2) > 0, zeros(3), zeros(2)), ValueError,
     r"Where: .*\(3,\)"),
    (lambda: minidl.clamp(zeros(2)), ValueError, "clamp: at least one of min"),
])
def test_bad_input_names_the_op_and_the_shapes(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
