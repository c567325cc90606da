"""gradcheck and gradgradcheck, in float64, for every op in
op_specs_shape.SHAPE_SPECS (the same checks test_ops_gradcheck.py runs on
op_specs.SPECS)."""
import pytest
from hypothesis import given, settings, strategies as st

import minidl
from minidl.autograd import gradcheck, gradgradcheck
from op_specs_shape import SHAPE_SPECS
from test_ops_gradcheck import GRADCHECK_EXAMPLES, GRADGRADCHECK_EXAMPLES, _tensors


def _float_outputs(fn):
    """fn without its integer outputs (indices), which carry no gradient."""
    def wrapped(*xs):
        result = fn(*xs)
        if isinstance(result, (tuple, list)):
            return tuple(r for r in result if r.dtype == minidl.float64)
        return result
    return wrapped


@pytest.mark.parametrize("spec", SHAPE_SPECS, ids=repr)
@settings(max_examples=GRADCHECK_EXAMPLES)
@given(data=st.data())
def test_shape_op_gradcheck(spec, data):
    arrays, params = spec.draw(data)
    assert gradcheck(_float_outputs(lambda *xs: spec.fn(minidl, *xs, **params)),
                     _tensors(arrays), **spec.gradcheck_options)


@pytest.mark.parametrize("spec", SHAPE_SPECS, ids=repr)
@settings(max_examples=GRADGRADCHECK_EXAMPLES)
@given(data=st.data())
def test_shape_op_gradgradcheck(spec, data):
    arrays, params = spec.draw(data)
    assert gradgradcheck(_float_outputs(lambda *xs: spec.fn(minidl, *xs, **params)),
                         _tensors(arrays), **spec.gradcheck_options)
