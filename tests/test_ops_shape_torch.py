"""Every op in op_specs_shape.SHAPE_SPECS against PyTorch, in float64, on
the same inputs: forward values (and dtypes), gradients and second
derivatives, with the machinery of test_ops_torch.py."""
import pytest
from hypothesis import given, settings, strategies as st

from test_ops_torch import compare_with_torch
from op_specs_shape import SHAPE_SPECS


@pytest.mark.parametrize("spec", SHAPE_SPECS, ids=repr)
@settings(max_examples=2 * settings().max_examples)
@given(data=st.data())
def test_shape_op_against_torch(spec, data, torch):
    compare_with_torch(spec, data, torch)
