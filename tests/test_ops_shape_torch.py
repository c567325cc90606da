"""Every op in op_specs_shape.SHAPE_SPECS against PyTorch, in float64, on
the same inputs: forward values (and dtypes), gradients and second
derivatives, with the machinery of test_ops_torch.py."""
import pytest
from hypothesis import given, settings, strategies as st

import minidl
import test_ops_torch as base
from conftest import assert_close
from op_specs_shape import SHAPE_SPECS


@pytest.mark.parametrize("spec", SHAPE_SPECS, ids=repr)
@settings(max_examples=2 * settings().max_examples)
@given(data=st.data())
def test_shape_op_against_torch(spec, data, torch):
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

    mine = base._run(minidl, minidl.autograd.grad, spec.fn, arrays, params, seed,
                     minidl_tensor)
    theirs = base._run(torch, torch_grad, spec.torch_fn, arrays, params, seed,
                       torch_tensor)
    assert len(mine[0]) == len(theirs[0])
    for i, (a, b) in enumerate(zip(mine[0], theirs[0])):
        assert a.dtype == b.dtype, f"output {i}: dtype {a.dtype} != {b.dtype}"
        assert_close(a, b, rtol=spec.torch_rtol, name=f"output {i}")
    input_shapes = [a.shape for a in arrays]
    base._assert_same(mine[1], theirs[1], input_shapes, "gradient", spec.torch_rtol)
    base._assert_same(mine[2], theirs[2], input_shapes, "second derivative",
                      spec.torch_rtol)
