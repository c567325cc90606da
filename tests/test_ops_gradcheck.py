"""gradcheck and gradgradcheck, in float64, for every op in op_specs.SPECS.

Shapes and parameters are drawn by Hypothesis (broadcasting pairs, negative
dims, keepdim, size-1 and empty dims); each op's values stay away from its
non-differentiable points (see op_specs).
"""
import pytest
from hypothesis import given, settings, strategies as st

import minidl
from minidl.autograd import gradcheck, gradgradcheck
from op_specs import SPECS

# The inputs are small enough to afford twice the profile's examples for
# gradcheck; gradgradcheck costs several times more and gets the profile's.
GRADCHECK_EXAMPLES = 2 * settings().max_examples
GRADGRADCHECK_EXAMPLES = settings().max_examples


def _tensors(arrays):
    return [minidl.tensor(a, dtype=minidl.float64, requires_grad=True)
            for a in arrays]


@pytest.mark.parametrize("spec", SPECS, ids=repr)
@settings(max_examples=GRADCHECK_EXAMPLES)
@given(data=st.data())
def test_gradcheck(spec, data):
    arrays, params = spec.draw(data)
    inputs = _tensors(arrays)
    assert gradcheck(lambda *xs: spec.fn(minidl, *xs, **params), inputs,
                     **spec.gradcheck_options)


@pytest.mark.parametrize("spec", SPECS, ids=repr)
@settings(max_examples=GRADGRADCHECK_EXAMPLES)
@given(data=st.data())
def test_gradgradcheck(spec, data):
    arrays, params = spec.draw(data)
    inputs = _tensors(arrays)
    assert gradgradcheck(lambda *xs: spec.fn(minidl, *xs, **params), inputs,
                         **spec.gradcheck_options)
