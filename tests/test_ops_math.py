"""gradcheck, gradgradcheck (float64) and the comparison with PyTorch
(values, gradients, second derivatives) for every op of
op_specs_math.MATH_SPECS, as test_ops_gradcheck.py and test_ops_torch.py
do for op_specs.SPECS (whose helpers run here)."""
import pytest
from hypothesis import given, settings, strategies as st

import minidl
from minidl.autograd import gradcheck, gradgradcheck
from op_specs_math import MATH_SPECS
from test_ops_gradcheck import GRADCHECK_EXAMPLES, GRADGRADCHECK_EXAMPLES, _tensors
from test_ops_torch import compare_with_torch



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
    compare_with_torch(spec, data, torch)
