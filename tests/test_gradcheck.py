"""The gradient checkers themselves: they pass on right gradients and catch
wrong ones, with messages that say where."""
import re

import numpy as np
import pytest

import minidl
from minidl.autograd import Function, check_backward, gradcheck, gradgradcheck
from minidl.autograd.gradcheck import GradcheckError


class Cube(Function):
    """y = x^3, right: dy/dx = 3 x^2, written with Tensor ops."""

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x):
        return x ** 3

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * 3 * x * x


class CubeWrongGradient(Cube):
    """dy/dx = 2 x^2: wrong."""

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * 2 * x * x


class CubeWrongDoubleBackward(Cube):
    """The right gradient, but computed from a constant copy of x: its own
    derivative (the second derivative of y) comes out as 0."""

    def backward(self, gy):
        x, = self.saved_tensors
        constant = minidl.Tensor(x.data)
        return gy * 3 * constant * constant


class ScaleSecondInput(Function):
    """z = x * y with dz/dy right but dz/dx wrong in one element."""

    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, gz):
        gx_data = (gz.data * self.y).copy()
        gx_data.reshape(-1)[-1] += 1.0  # wrong in the last element
        return minidl.Tensor(gx_data), gz * minidl.Tensor(self.x)


def inputs(*arrays):
    return [minidl.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)
            for a in arrays]


def test_gradcheck_passes_on_a_right_gradient():
    assert gradcheck(lambda x: Cube()(x), inputs([0.5, -1.0, 2.0]))
    assert gradgradcheck(lambda x: Cube()(x), inputs([0.5, -1.0, 2.0]))


def test_gradcheck_names_input_element_and_values_of_a_wrong_gradient():
    x = inputs([[1.0, 2.0], [1.5, -1.0]])
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda x: CubeWrongGradient()(x), x)
    message = str(caught.value)
    # The first element: analytical 2 * 1^2 = 2, numerical 3 * 1^2 = 3.
    assert "input 0 (shape (2, 2)), element (0, 0)" in message
    assert "analytical 2.0" in message
    numerical = float(re.search(r"numerical ([-+0-9.e]+)", message).group(1))
    assert numerical == pytest.approx(3.0, rel=1e-6)
    assert gradcheck(lambda x: CubeWrongGradient()(x), x,
                     raise_exception=False) is False


def test_gradcheck_finds_the_wrong_input_among_several():
    x, y = inputs([1.0, 2.0, 3.0], [0.5, -0.5, 2.0])
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(3,\)\), "
                                             r"element \(2,\)"):
        gradcheck(lambda x, y: ScaleSecondInput()(x, y), [x, y])
    # Only y requires grad: its gradient is right.
    x.requires_grad_(False)
    assert gradcheck(lambda x, y: ScaleSecondInput()(x, y), [x, y])


@pytest.mark.filterwarnings("ignore:divide by zero", "ignore:invalid value")
def test_gradcheck_catches_a_nan_gradient():
    # sqrt(x - x + 1): the value does not depend on x, gradient 0; the
    # right gradient of sqrt(0 * x) at 0 is NaN * 0 = NaN.
    x = inputs([1.0])
    with pytest.raises(GradcheckError, match="analytical nan"):
        gradcheck(lambda x: (x * 0).sqrt(), x)


def test_gradcheck_needs_float64_and_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="input 0 is float32; gradient checks "
                                         "need float64"):
        gradcheck(lambda x: x * 2, [minidl.tensor([1.0], requires_grad=True)])
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda x: x * 2, [minidl.tensor(np.array([1.0]))])


@pytest.mark.cpu_only
def test_gradcheck_works_on_non_contiguous_inputs():
    data = np.arange(6.0).reshape(2, 3).T + 1.0  # a transposed view
    x = minidl.Tensor(data, requires_grad=True)
    assert not x.data.flags["C_CONTIGUOUS"]
    assert gradcheck(lambda x: Cube()(x), [x])
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: CubeWrongGradient()(x), [x])


def test_gradgradcheck_catches_a_wrong_double_backward():
    x = inputs([0.5, -1.0, 2.0])
    assert gradcheck(lambda x: CubeWrongDoubleBackward()(x), x)  # first order fine
    with pytest.raises(GradcheckError, match="gradgradcheck: .*input 0 "
                                             r"\(shape \(3,\)\)"):
        gradgradcheck(lambda x: CubeWrongDoubleBackward()(x), x)


def test_check_backward_random_direction():
    x = inputs(np.random.default_rng(0).standard_normal((40, 30)))
    assert check_backward(lambda x: Cube()(x), x)
    with pytest.raises(GradcheckError, match="check_backward failed: "
                                             "directional derivative"):
        check_backward(lambda x: CubeWrongGradient()(x), x)
    # Several inputs, one of them a constant.
    a, b = inputs(np.ones((3, 4)), np.full((4, 2), 0.5))
    b.requires_grad_(False)
    assert check_backward(lambda a, b: (a @ b).tanh(), [a, b])
    wrong = inputs([[1.0, 2.0, 3.0]]) + inputs([[0.5, 0.25, 2.0]])
    with pytest.raises(GradcheckError):
        check_backward(lambda x, y: ScaleSecondInput()(x, y), wrong)


def test_checks_with_several_outputs_and_an_integer_output():
    x = inputs([[1.0, 3.0, 2.0], [0.5, -1.0, 4.0]])
    assert gradcheck(lambda x: tuple(x.max(dim=1)) + (x.exp(),), x)
    assert gradgradcheck(lambda x: tuple(x.max(dim=1)) + (x.exp(),), x)
