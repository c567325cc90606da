"""Tensor basics: creation and dtype rules, conversions, the device API,
printing."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
from conftest import assert_close
from op_specs import SPECS


# -- dtype rules ------------------------------------------------------------------------
@pytest.mark.parametrize("data, dtype", [
    (1.5, np.float32), ([1.0, 2.0], np.float32), ([1, 2.5], np.float32),
    ([[1, 2], [3, 4]], np.int64), (3, np.int64), (True, np.bool_),
    ([True, False], np.bool_), ([], np.float32),
    (np.array([1.0, 2.0]), np.float64), (np.array([1.0], np.float32), np.float32),
    (np.float64(2.0), np.float64), (np.array([1, 2], np.int32), np.int32),
])
def test_creation_dtypes(data, dtype):
    x = minidl.tensor(data)
    assert x.dtype == dtype
    np.testing.assert_array_equal(x.numpy(), np.asarray(data, dtype=dtype))


def test_creation_with_a_dtype_and_the_creation_functions():
    assert minidl.tensor([1, 2], dtype=minidl.float64).dtype == np.float64
    for make in (minidl.zeros, minidl.ones, minidl.empty, minidl.randn, minidl.rand):
        assert make(2, 3).dtype == np.float32 and make((2, 3)).shape == (2, 3)
    assert minidl.full((2,), 7.0).dtype == np.float32
    assert minidl.arange(3).dtype == np.int64
    assert minidl.arange(0.0, 1.0, 0.5).dtype == np.float32
    assert minidl.randint(0, 5, (4,)).dtype == np.int64
    assert minidl.randint(5, (4,)).numpy().max() < 5   # PyTorch's (high, size)
    x = minidl.zeros(2, dtype=minidl.float64)
    assert minidl.zeros_like(x).dtype == np.float64
    assert minidl.ones_like(x, dtype=minidl.float32).dtype == np.float32


def test_tensor_copies_its_data():
    array = np.zeros(3)
    x = minidl.tensor(array)
    array[0] = 1.0
    assert x.numpy()[0] == 0.0


def test_python_numbers_keep_float32_graphs_float32():
    x = minidl.tensor([1.0, 2.0], requires_grad=True)
    results = {
        "x * 2.0": x * 2.0, "x + 1": x + 1, "2 - x": 2 - x, "x ** 2": x ** 2,
        "x / 3": x / 3, "1 / x": 1 / x, "2 ** x": 2 ** x,
        "x * np.float64": x * np.float64(2.0), "maximum(x, 0.5)": minidl.maximum(x, 0.5),
        "clamp": x.clamp(0.1, 1.5), "where": minidl.where(x > 1, x, 0.0),
        "relu": minidl.relu(x), "mean": x.mean(), "var": x.var(),
        "softmax": minidl.softmax(x, 0), "x.pow(0.5)": x.pow(0.5),
    }
    for name, result in results.items():
        assert result.dtype == np.float32, name
        result.sum().backward()
        assert x.grad.dtype == np.float32, name


def test_float64_stays_float64():
    x = minidl.tensor(np.array([1.0, 2.0]), requires_grad=True)
    for result in (x * 2.0, x + 1, x.exp(), x.mean(), minidl.softmax(x, 0),
                   x.var(), x / 3, minidl.where(x > 1, x, 0.0)):
        assert result.dtype == np.float64


def test_integer_and_float_mixtures_follow_pytorch(torch):
    ints = [1, 2, 3]
    cases = {
        "int + 1.5": lambda lib, i: i + 1.5,
        "int * 2": lambda lib, i: i * 2,
        "int / 2": lambda lib, i: i / 2,
        "2.5 - int": lambda lib, i: 2.5 - i,
        "int * float32": lambda lib, i: i * lib.tensor([0.5, 0.5, 0.5]),
        "bool + 2": lambda lib, i: (i > 1) + 2,
        "int ** 2": lambda lib, i: i ** 2,
        "maximum(int, 1.5)": lambda lib, i: lib.maximum(i, lib.tensor(1.5)),
    }
    for name, f in cases.items():
        mine, theirs = f(minidl, minidl.tensor(ints)), f(torch, torch.tensor(ints))
        assert str(mine.dtype) == str(theirs.dtype).replace("torch.", ""), name
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), err_msg=name)


def test_requires_grad_on_an_integer_tensor_errors():
    with pytest.raises(RuntimeError, match="only floating-point tensors can "
                                           "require gradients, got dtype int64"):
        minidl.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="int64"):
        minidl.arange(3).requires_grad_()


@pytest.mark.parametrize("spec", [s for s in SPECS if "astype" not in s.name],
                         ids=repr)   # (astype asks for float64 on purpose)
@settings(max_examples=2)
@given(data=st.data())
def test_float32_in_float32_out_for_every_op(spec, data):
    """Each op of the table, fed float32, computes in float32 and returns
    float32 gradients."""
    arrays, params = spec.draw(data)
    inputs = [minidl.tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    outputs = spec.fn(minidl, *inputs, **params)
    outputs = list(outputs) if isinstance(outputs, tuple) else [outputs]
    floats = [o for o in outputs if o.dtype.kind == "f"]
    assert all(o.dtype == np.float32 for o in floats), [o.dtype for o in floats]
    grads = minidl.autograd.grad([o.sum() for o in floats], inputs, allow_unused=True)
    assert all(g is None or g.dtype == np.float32 for g in grads)


# -- conversions and the device API --------------------------------------------------------
@pytest.mark.cpu_only
def test_device_movement_on_the_cpu():
    x = minidl.tensor([1.0, 2.0], requires_grad=True)
    assert x.device == "cpu" and str(x.device) == "cpu"
    assert x.device == minidl.device("cpu")
    assert x.to("cpu") is x and x.cpu() is x and x.to(minidl.device("cpu")) is x
    assert isinstance(x.numpy(), np.ndarray)
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])
    assert minidl.get_array_module(x.data) is np
    assert minidl.get_array_module(x) is np
    assert minidl.get_array_module(np.zeros(1), 3.0) is np
    if minidl.backend._cupy is None:
        assert minidl.cuda.is_available() is False
        with pytest.raises(RuntimeError, match="CuPy is not installed"):
            x.cuda()


def test_to_changes_dtype_differentiably():
    x = minidl.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x.to(dtype=minidl.float32)
    assert y.dtype == np.float32 and y.requires_grad
    (y * 3).sum().backward()
    assert x.grad.dtype == np.float64
    assert_close(x.grad, [3.0, 3.0])
    assert x.to(dtype=minidl.float64) is x
    assert x.float().dtype == np.float32 and x.double() is x
    assert x.long().dtype == np.int64 and not x.long().requires_grad
    assert x.type_as(y).dtype == np.float32


def test_item_detach_and_requires_grad():
    x = minidl.tensor([2.5], requires_grad=True)
    assert x.item() == 2.5 and isinstance(x.item(), float)
    assert minidl.tensor(3).item() == 3
    with pytest.raises(ValueError, match=r"item\(\): tensor of shape \(2,\) has "
                                         r"2 elements"):
        minidl.tensor([1.0, 2.0]).item()
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert d.data is y.data                     # the same array
    z = minidl.tensor([1.0])
    assert z.requires_grad_() is z and z.requires_grad
    z.requires_grad_(False)
    assert not z.requires_grad
    assert y.is_leaf is False and x.is_leaf


def test_shape_facts_iteration_and_lists():
    x = minidl.tensor(np.arange(6.0).reshape(2, 3))
    assert x.shape == (2, 3) and x.ndim == 2 and x.dim() == 2
    assert x.size() == (2, 3) and x.size(1) == 3 and x.numel() == 6
    assert len(x) == 2
    rows = list(x)
    assert len(rows) == 2 and rows[1].tolist() == [3.0, 4.0, 5.0]
    assert x.T.shape == (3, 2)
    assert x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    with pytest.raises(TypeError, match="0-d"):
        len(minidl.tensor(1.0))
    with pytest.raises(TypeError, match="0-d"):
        list(minidl.tensor(1.0))
    assert bool(minidl.tensor([1.0])) and not bool(minidl.tensor(0.0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)


@pytest.mark.cpu_only
def test_repr():
    assert repr(minidl.tensor([1.0, 2.5])) == "tensor([1. , 2.5], dtype=float32)"
    x = minidl.tensor([1.0], requires_grad=True)
    assert repr(x) == "tensor([1.], dtype=float32, requires_grad=True)"
    assert repr(x * 2) == "tensor([2.], dtype=float32, grad_fn=<Mul>)"
    assert repr(minidl.tensor(3)) == "tensor(3, dtype=int64)"
    assert repr(minidl.zeros(2, 0)) == "tensor([], size=(2, 0), dtype=float32)"
    assert repr(minidl.zeros(1, 2)) == "tensor([[0., 0.]], dtype=float32)"
    assert "grad_fn=<max>" in repr(minidl.tensor([[1.0]], requires_grad=True).max(1)[0])


def test_tensors_hash_by_identity():
    x, y = minidl.tensor([1.0]), minidl.tensor([1.0])
    assert len({x, y}) == 2 and x in {x: 1}


@pytest.mark.cpu_only
def test_results_are_arrays_even_for_full_reductions():
    """NumPy returns scalars for full reductions; tensors always hold arrays,
    so in-place updates work on them too."""
    x = minidl.tensor(np.array([1.0, 2.0]))
    total = minidl.Tensor(x.data.sum())
    assert isinstance(total.data, np.ndarray) and total.shape == ()
    loss = x.sum()
    loss.add_(1.0)
    assert loss.item() == 4.0


def test_mT_concat_t_contiguous_detach_as_torch(torch):
    values = np.random.default_rng(0).standard_normal((2, 3, 4))
    x = minidl.tensor(values, requires_grad=True)
    reference = torch.tensor(values, requires_grad=True)
    assert_close(x.mT, reference.mT)
    assert_close(minidl.concat([x, x.contiguous()], 1),
                 torch.concat([reference, reference.contiguous()], 1))
    assert_close(minidl.t(x[0]), torch.t(reference[0]))
    with pytest.raises(RuntimeError, match="mT: expects a tensor with >= 2"):
        minidl.ones(3).mT
    y = x * 2
    assert y.detach_() is y
    assert not y.requires_grad and y.is_leaf
    (x * y).sum().backward()  # y is a constant now
    np.testing.assert_array_equal(x.grad.numpy(), 2 * values)


def test_axis_alias_dtype_arguments_where_and_full_as_torch(torch):
    values = np.arange(12.0).reshape(3, 4) - 5
    x, reference = minidl.tensor(values), torch.tensor(values)
    assert_close(x.sum(axis=1), reference.sum(axis=1))
    assert_close(minidl.mean(x, axis=0, keepdim=True),
                 torch.mean(reference, axis=0, keepdim=True))
    assert_close(x.max(axis=1).values, reference.max(axis=1).values)
    assert_close(minidl.cumsum(x, axis=1), torch.cumsum(reference, axis=1))
    with pytest.raises(TypeError, match="give dim or axis, not both"):
        x.sum(dim=0, axis=1)
    for ours, theirs in zip(minidl.where(x > 0), torch.where(reference > 0)):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    integers = minidl.arange(6)
    for dtype in ("float32", "float64"):
        assert_close(integers.sum(dtype=getattr(minidl, dtype)),
                     torch.arange(6).sum(dtype=getattr(torch, dtype)))
        assert_close(integers.mean(dtype=getattr(minidl, dtype)),
                     torch.arange(6).mean(dtype=getattr(torch, dtype)))
    for fill in (3, 2.5, True):
        ours, theirs = minidl.full((2, 2), fill), torch.full((2, 2), fill)
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
