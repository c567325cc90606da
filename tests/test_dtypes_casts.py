"""PyTorch's dtype names, casts and type strings, against torch."""
import numpy as np
import pytest

import minidl
from conftest import assert_close

NAMES = ["float16", "half", "float32", "float", "float64", "double", "uint8",
         "int8", "int16", "short", "int32", "int", "int64", "long", "bool"]


@pytest.mark.parametrize("name", NAMES)
def test_dtype_names_are_torch_s(torch, name):
    mine, theirs = getattr(minidl, name), getattr(torch, name)
    assert str(theirs) == "torch." + str(mine)
    x = minidl.zeros(2, dtype=mine)
    assert x.dtype == mine and x.dtype.itemsize == theirs.itemsize


CASTS = ["int", "long", "float", "double", "bool", "half", "short", "char", "byte"]


@pytest.mark.parametrize("cast", CASTS)
def test_cast_methods_match_torch(torch, cast):
    values = [-2.7, -0.5, 0.0, 1.5, 3.9]
    if cast == "byte":
        values = [0.0, 1.5, 3.9, 200.2]
    mine = getattr(minidl.tensor(values), cast)()
    theirs = getattr(torch.tensor(values), cast)()
    assert str(theirs.dtype) == "torch." + str(mine.dtype)
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_type_strings_and_type_conversions_match_torch(torch):
    for name in ["float16", "float32", "float64", "uint8", "int8", "int16",
                 "int32", "int64", "bool"]:
        mine = minidl.zeros(2, dtype=getattr(minidl, name))
        theirs = torch.zeros(2, dtype=getattr(torch, name))
        assert mine.type() == theirs.type(), name
        # And back: a type string or a dtype converts.
        assert minidl.ones(2).type(theirs.type()).dtype == mine.dtype
        assert minidl.ones(2).type(getattr(minidl, name)).dtype == mine.dtype
    with pytest.raises(TypeError, match="not a dtype"):
        minidl.ones(2).type("torch.NoSuchTensor")


def test_to_takes_a_dtype_device_or_tensor_positionally():
    x = minidl.tensor([1.5, 2.5])
    assert x.to(minidl.float64).dtype == minidl.float64
    assert x.to("cpu", minidl.int32).dtype == minidl.int32
    assert x.to(minidl.tensor([1])).dtype == minidl.int64
    assert x.to(minidl.float32) is x
    copied = x.to(minidl.float32, copy=True)
    assert copied is not x and copied.tolist() == x.tolist()


def test_casts_are_differentiable_back_to_float32():
    x = minidl.tensor([1.0, 2.0], requires_grad=True)
    (x.double() * 3).sum().backward()
    assert x.grad.dtype == minidl.float32 and x.grad.tolist() == [3.0, 3.0]


def test_bfloat16_exists_but_says_numpy_has_none():
    assert repr(minidl.bfloat16) == "minidl.bfloat16"
    with pytest.raises(TypeError, match="no bfloat16"):
        minidl.zeros(2, dtype=minidl.bfloat16)
    with pytest.raises(TypeError, match="no bfloat16"):
        minidl.ones(2).to(minidl.bfloat16)
    assert minidl.float32 != minidl.bfloat16


def test_is_floating_point_t_and_element_size_match_torch(torch):
    for dtype in ["float16", "float32", "int64", "bool", "uint8"]:
        mine = minidl.zeros(2, dtype=getattr(minidl, dtype))
        theirs = torch.zeros(2, dtype=getattr(torch, dtype))
        assert mine.is_floating_point() == theirs.is_floating_point()
        assert minidl.is_floating_point(mine) == torch.is_floating_point(theirs)
        assert mine.element_size() == theirs.element_size()
    m = np.arange(6.0).reshape(2, 3)
    assert_close(minidl.tensor(m).t(), torch.tensor(m).t())
    assert_close(minidl.tensor(m[0]).t(), torch.tensor(m[0]).t())
    assert_close(minidl.tensor(1.0).t(), torch.tensor(1.0).t())
    with pytest.raises(RuntimeError, match="<= 2 dimensions"):
        minidl.zeros(2, 2, 2).t()


def test_from_numpy_shares_memory_like_torch(torch):
    array = np.arange(4.0)
    mine, theirs = minidl.from_numpy(array), torch.from_numpy(array)
    array[0] = 10.0
    assert mine.tolist() == theirs.tolist() == [10.0, 1.0, 2.0, 3.0]
    assert mine.dtype == minidl.float64
    with pytest.raises(TypeError, match="numpy.ndarray"):
        minidl.from_numpy([1, 2])


def test_inference_mode_as_context_manager_and_decorator():
    x = minidl.tensor([1.0], requires_grad=True)
    with minidl.inference_mode():
        assert not (x * 2).requires_grad
    with minidl.inference_mode(False):
        assert (x * 2).requires_grad
    with minidl.no_grad(), minidl.inference_mode(False):
        assert not (x * 2).requires_grad  # False leaves the mode as it is

    @minidl.inference_mode
    def bare():
        return (x * 2).requires_grad

    @minidl.inference_mode()
    def called():
        return (x * 2).requires_grad

    assert not bare() and not called()
    assert (x * 2).requires_grad  # switched back on after each


def test_default_dtype_and_is_tensor(torch):
    assert str(torch.get_default_dtype()) == "torch." + str(minidl.get_default_dtype())
    assert minidl.is_tensor(minidl.zeros(1)) and not minidl.is_tensor([1.0])


@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "HalfTensor",
                                  "LongTensor", "IntTensor", "ShortTensor",
                                  "CharTensor", "ByteTensor", "BoolTensor"])
def test_legacy_tensor_types_construct_and_convert_like_torch(torch, name):
    mine, theirs = getattr(minidl, name)([1, 0, 2]), getattr(torch, name)([1, 0, 2])
    assert mine.type() == theirs.type() == "torch." + name
    assert mine.tolist() == theirs.tolist()
    assert getattr(minidl, name)(2, 3).shape == tuple(getattr(torch, name)(2, 3).shape)
    assert getattr(minidl, name)().shape == (0,)
    assert minidl.tensor([1.5]).type(getattr(minidl, name)).type() == theirs.type()


def test_python_number_conversions_like_torch(torch):
    for lib in (minidl, torch):
        value, index = lib.tensor(2.6), lib.tensor(3)
        assert float(value) == float(torch.tensor(2.6))
        assert int(value) == 2 and complex(index) == 3 + 0j
        assert [0, 1, 2, 3, 4][index] == 3 and list(range(index)) == [0, 1, 2]
        assert f"{value:.2f}" == "2.60" and f"{lib.tensor([1.5])}" == str(lib.tensor([1.5]))
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        [0, 1][minidl.tensor(1.0)]
    with pytest.raises(ValueError):
        float(minidl.tensor([1.0, 2.0]))
