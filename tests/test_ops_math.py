"""gradcheck, gradgradcheck (float64) and the comparison with PyTorch
(values, gradients, second derivatives) for every op of
op_specs_math.MATH_SPECS, as test_ops_gradcheck.py and test_ops_torch.py
do for op_specs.SPECS (whose helpers run here)."""
import pytest
from hypothesis import given, settings, strategies as st

import minidl
from minidl.autograd import gradcheck, gradgradcheck
from op_specs_math import MATH_SPECS
from test_ops_torch import _assert_same, _run
from conftest import assert_close

GRADCHECK_EXAMPLES = 2 * settings().max_examples
GRADGRADCHECK_EXAMPLES = settings().max_examples


def _tensors(arrays):
    return [minidl.tensor(a, dtype=minidl.float64, requires_grad=True)
            for a in arrays]


@pytest.mark.parametrize("spec", MATH_SPECS, ids=repr)
@settings(max_examples=GRADCHECK_EXAMPLES)
@given(data=st.data())
def test_gradcheck(spec, data):
    arrays, params = spec.draw(data)
    assert gradcheck(lambda *xs: spec.fn(minidl, *xs, **params),
                     _tensors(arrays), **spec.gradcheck_options)


@pytest.mark.parametrize("spec", MATH_SPECS, ids=repr)
@settings(max_examples=GRADGRADCHECK_EXAMPLES)
@given(data=st.data())
def test_gradgradcheck(spec, data):
    arrays, params = spec.draw(data)
    assert gradgradcheck(lambda *xs: spec.fn(minidl, *xs, **params),
                         _tensors(arrays), **spec.gradcheck_options)


@pytest.mark.parametrize("spec", MATH_SPECS, ids=repr)
@settings(max_examples=2 * settings().max_examples)
@given(data=st.data())
def test_against_torch(spec, data, torch):
    arrays, params = spec.draw(data)
    seed = data.draw(st.integers(0, 2 ** 32 - 1), label="weights seed")

    def minidl_tensor(a, grad=True):
        return minidl.tensor(a, dtype=minidl.float64, requires_grad=grad)

    def torch_tensor(a, grad=True):
        return torch.tensor(a, dtype=torch.float64, requires_grad=grad)

    def torch_grad(outputs, inputs, grad_outputs, create_graph=False,
                   allow_unused=False):
        return torch.autograd.grad(outputs, inputs, grad_outputs,
                                   create_graph=create_graph,
                                   allow_unused=allow_unused)

    mine = _run(minidl, minidl.autograd.grad, spec.fn, arrays, params, seed,
                minidl_tensor)
    theirs = _run(torch, torch_grad, spec.torch_fn, arrays, params, seed,
                  torch_tensor)
    assert len(mine[0]) == len(theirs[0])
    for i, (a, b) in enumerate(zip(mine[0], theirs[0])):
        assert a.dtype == b.dtype, f"output {i}: dtype {a.dtype} != {b.dtype}"
        assert_close(a, b, rtol=spec.torch_rtol, name=f"output {i}")
    input_shapes = [a.shape for a in arrays]
    _assert_same(mine[1], theirs[1], input_shapes, "gradient", spec.torch_rtol)
    _assert_same(mine[2], theirs[2], input_shapes, "second derivative",
                 spec.torch_rtol)
