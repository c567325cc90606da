"""The parts of the shape/scan/sort/scatter/creation ops that the spec
table does not cover: integer outputs (indices, positions), dtypes,
creation functions, ties, zeros in products, Tensor-method forms and the
errors for what is refused. Each against PyTorch where it has an answer."""
import numpy as np
import pytest

import minidl
from conftest import assert_close, assert_value_error
from minidl.autograd import gradcheck, gradgradcheck


def _both(torch, fn, *arrays):
    """fn on minidl and torch tensors made from the same arrays; the results
    as lists of NumPy arrays."""
    def as_list(result):
        items = result if isinstance(result, (tuple, list)) else [result]
        return [np.asarray(r.numpy() if hasattr(r, "numpy") else r) for r in items]
    mine = as_list(fn(minidl, *[minidl.tensor(a) for a in arrays]))
    theirs = as_list(fn(torch, *[torch.tensor(a) for a in arrays]))
    assert len(mine) == len(theirs)
    for i, (a, b) in enumerate(zip(mine, theirs)):
        assert a.dtype == b.dtype, f"output {i}: dtype {a.dtype} != {b.dtype}"
        assert_close(a, b, name=f"output {i}")


def test_integer_scans_and_products_are_int64_like_torch(torch):
    x = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int32)
    _both(torch, lambda lib, t: (t.cumsum(1), t.cumprod(0), t.prod(), t.prod(1)), x)
    _both(torch, lambda lib, t: (lib.cumsum(t, dim=0), t.sum()), np.array([True, False, True]))


def test_prod_cumprod_gradients_with_zeros_like_torch(torch):
    for x in ([2.0, 0.0, 3.0, 4.0], [0.0, 0.0, 3.0], [0.0], [1.5, -2.0, 0.0]):
        for fn in (lambda lib, t: t.prod(), lambda lib, t: t.cumprod(0)):
            mine = minidl.tensor(x, dtype=minidl.float64, requires_grad=True)
            theirs = torch.tensor(x, dtype=torch.float64, requires_grad=True)
            weights = np.arange(1.0, 1 + np.asarray(fn(np, np.asarray(x))).size)
            (fn(minidl, mine) * minidl.tensor(weights).reshape(fn(minidl, mine).shape)
             ).sum().backward()
            (fn(torch, theirs) * torch.tensor(weights).reshape(fn(torch, theirs).shape)
             ).sum().backward()
            assert_close(mine.grad, theirs.grad.numpy(), name=str(x))


def test_second_derivatives_with_several_zeros():
    """PyTorch refuses some of these; central differences are the reference."""
    def make(values):
        return minidl.tensor(values, dtype=minidl.float64, requires_grad=True)
    x = make([[0.0, 2.0, 0.0, -1.5], [1.0, 0.0, 3.0, 0.5]])
    for fn in (lambda t: t.prod(1), lambda t: t.cumprod(1), lambda t: t.prod()):
        assert gradcheck(fn, [x])
        assert gradgradcheck(fn, [x])
    base, src = make([1.5, 0.0, 2.0]), make([0.0, 0.0, 3.0, -1.0])
    index = minidl.tensor([0, 0, 1, 0])
    for include_self in (True, False):
        def product(b, s):
            return b.scatter_reduce(0, index, s, "prod", include_self=include_self)
        assert gradcheck(product, [base, src])
        assert gradgradcheck(product, [base, src])


def test_cummax_cummin_indices_at_ties_like_torch(torch):
    x = np.array([[1.0, 3.0, 3.0, 2.0, 3.0], [0.0, 0.0, -1.0, -1.0, 5.0]])
    _both(torch, lambda lib, t: tuple(lib.cummax(t, 1)) + tuple(t.cummin(dim=1)), x)
    _both(torch, lambda lib, t: tuple(lib.cummax(t, axis=0)), x)


def test_nan_in_median_cummax_sort_like_torch(torch):
    x = np.array([[1.0, np.nan, 3.0, 0.5], [2.0, 1.0, 4.0, 3.0], [np.nan, 0.0, np.nan, 1.0]])
    _both(torch, lambda lib, t: tuple(lib.median(t, 1)) + (t.median(),), x)
    _both(torch, lambda lib, t: tuple(t.cummax(1)) + tuple(lib.cummin(t, 1)), x)
    _both(torch, lambda lib, t: (t.sort(1).values, t.sort(1, descending=True).values), x)


def test_sort_is_stable_both_ways_like_torch(torch):
    x = np.array([[2.0, 1.0, 2.0, 1.0, 3.0, 2.0]])
    for descending in (False, True):
        _both(torch, lambda lib, t: tuple(lib.sort(t, descending=descending, stable=True)), x)
        _both(torch, lambda lib, t: t.argsort(dim=-1, descending=descending, stable=True), x)
    ints = np.array([3, 1, 2, 1], dtype=np.int64)
    _both(torch, lambda lib, t: tuple(t.sort(descending=True, stable=True)), ints)


def test_topk_kthvalue_median_mode_indices_like_torch(torch):
    x = np.array([[4.0, 1.0, 3.0, 2.0], [0.5, 2.5, -1.0, 9.0]])
    _both(torch, lambda lib, t: tuple(t.topk(2)) + tuple(t.topk(2, dim=0, largest=False)), x)
    _both(torch, lambda lib, t: tuple(t.kthvalue(2, 1)) + tuple(lib.median(t, 1)), x)
    _both(torch, lambda lib, t: t.median(), x)
    _both(torch, lambda lib, t: tuple(lib.mode(t, 1)), np.array([[1.0, 2.0, 2.0, 1.0, 3.0]]))


def test_selection_ops_like_torch(torch):
    x = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    _both(torch, lambda lib, t: (t.nonzero(), lib.count_nonzero(t, dim=1),
                                 lib.count_nonzero(t), lib.argwhere(t)), x)
    _both(torch, lambda lib, t: lib.nonzero(t, as_tuple=True), x)
    _both(torch, lambda lib, t: (t.all(), t.any(dim=1), lib.all(t, dim=0, keepdim=True),
                                 t.bool().any() if hasattr(t, "bool") else t.any()), x)
    _both(torch, lambda lib, t: lib.masked_select(t, t > 0), x)


def test_bincount_searchsorted_bucketize_like_torch(torch):
    boundaries, values = np.array([1, 3, 5, 7]), np.array([[0, 3, 6], [7, 8, 1]])
    for right in (False, True):
        _both(torch, lambda lib, b, v: (lib.bucketize(v, b, right=right),
                                        lib.searchsorted(b, v, right=right)),
              boundaries, values)
    _both(torch, lambda lib, i, w: (lib.bincount(i), i.bincount(minlength=6),
                                    lib.bincount(i, w)),
          np.array([0, 1, 1, 3]), np.array([0.5, 1.0, 1.0, 2.0]))
    _both(torch, lambda lib, t: lib.diff(t, prepend=t[:1], append=t[-2:]),
          np.array([1.0, 4.0, 9.0, 16.0]))


def test_creation_functions_like_torch(torch):
    checks = [
        lambda lib: lib.eye(3), lambda lib: lib.eye(2, 4, dtype=lib.float64),
        lambda lib: lib.linspace(0, 1, 7), lambda lib: lib.linspace(-3.5, 2, 11),
        lambda lib: lib.linspace(0, 1, 1), lambda lib: lib.logspace(0, 2, 5),
        lambda lib: lib.logspace(0, 3, 4, base=2.0), lambda lib: lib.linspace(2, 10, 5, dtype=lib.int64),
        lambda lib: lib.full_like(lib.zeros(2, 3), 7.0),
        lambda lib: lib.full_like(lib.zeros(2, dtype=lib.int64), 3),
        lambda lib: lib.empty_like(lib.ones(2, 2)).shape,
        lambda lib: lib.zeros((2, 3), dtype=lib.int64), lambda lib: lib.ones(2, 3, dtype=lib.float64),
        lambda lib: lib.tril_indices(3, 4, 1), lambda lib: lib.triu_indices(4, 3, -1),
        lambda lib: lib.ones(2, 3).new_zeros(4), lambda lib: lib.ones(2).new_full((2, 2), 5.0),
        lambda lib: lib.tensor([1, 2]).new_tensor([3.0, 4.0]),
        lambda lib: lib.repeat_interleave(lib.tensor([2, 0, 3])),
    ]
    for i, check in enumerate(checks):
        mine, theirs = check(minidl), check(torch)
        if isinstance(theirs, torch.Size):
            assert tuple(mine) == tuple(theirs)
            continue
        assert str(mine.dtype) == str(theirs.dtype).replace("torch.", ""), i
        assert_close(mine.numpy(), theirs.numpy(), rtol=1e-6, name=f"check {i}")


def test_einsum_forms_like_torch(torch):
    rng = np.random.default_rng(0)
    a, b, s = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal((3, 3))
    _both(torch, lambda lib, x, y: (lib.einsum("ij,jk", x, y), lib.einsum("ij,jk->", x, y),
                                    lib.einsum("ij,jk->kji", x, y),
                                    lib.einsum("i j , j k -> i k", x, y)), a, b)
    _both(torch, lambda lib, x: (lib.einsum("ii", x), lib.einsum("ii->i", x),
                                 lib.einsum("ij,ij->i", x, x), lib.einsum("ji", x),
                                 lib.einsum("...i->...", x), lib.einsum("Ab->bA", x)), s)
    _both(torch, lambda lib, x, y: lib.einsum("ij,jk->ik", [x, y]), a, b)


def test_scatter_reduce_modes_and_integer_inputs_like_torch(torch):
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    index = np.array([[0, 0, 1], [1, 1, 1]])
    src = np.array([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]])
    for reduce in ("sum", "prod", "mean", "amax", "amin"):
        for include_self in (True, False):
            _both(torch, lambda lib, t, i, s: t.scatter_reduce(
                1, i, s, reduce, include_self=include_self), x, index, src)
    _both(torch, lambda lib, t, i, s: (t.scatter(0, i, s, reduce="add"),
                                       t.scatter(1, i, 2.0, reduce="multiply")),
          x, index, src)
    ints = np.array([[1, 2, 3], [4, 5, 6]])
    _both(torch, lambda lib, t, i: t.scatter_reduce(1, i, t * 3, "mean"), ints, index)


def test_in_place_forms(torch):
    def run(lib):
        t = lib.zeros(2, 3)
        t.masked_fill_(t == 0, 2.0)
        t.scatter_(1, lib.tensor([[0], [2]]), 5.0)
        t.index_add_(0, lib.tensor([1]), lib.ones(1, 3))
        t.tril_()
        return t
    assert_close(run(minidl), run(torch).numpy())


def test_split_chunk_unbind_tensor_split_forms_like_torch(torch):
    x = np.arange(14.0).reshape(2, 7)
    _both(torch, lambda lib, t: t.split(3, dim=1) + t.chunk(3, 1) + lib.unbind(t, 1), x)
    _both(torch, lambda lib, t: t.tensor_split([1, 5], dim=1) + lib.hsplit(t, 7), x)
    _both(torch, lambda lib, t: (t.unfold(1, 3, 2), t.flip(0, 1), lib.fliplr(t),
                                 lib.roll(t, 2), t.roll((1, -2), (0, 1)),
                                 t.repeat(2, 1, 1), t.movedim(0, 1), t.moveaxis(1, 0),
                                 t.narrow(1, -3, 2), lib.atleast_3d(t).shape and
                                 lib.atleast_3d(t)), x)


def test_norms_like_torch(torch):
    x = np.array([[3.0, -4.0, 0.0], [1.0, 2.0, -2.0]])
    _both(torch, lambda lib, t: (t.norm(), lib.norm(t, 1), t.norm(p=float("inf"), dim=1),
                                 lib.norm(t, "fro", dim=(0, 1)), lib.linalg.norm(t),
                                 lib.linalg.norm(t, ord=1), lib.linalg.norm(t, float("inf")),
                                 lib.linalg.vector_norm(t, 0, dim=1),
                                 lib.linalg.matrix_norm(t, -1)), x)
    # The gradient of a norm at zero is zero, as in PyTorch.
    mine = minidl.zeros(3, dtype=minidl.float64, requires_grad=True)
    mine.norm().backward()
    assert mine.grad.tolist() == [0.0, 0.0, 0.0]


def test_functional_extras_like_torch(torch):
    x = np.array([[0, 2, 1], [3, 0, 0]])
    _both(torch, lambda lib, t: (lib.nn.functional.one_hot(t),
                                 lib.nn.functional.one_hot(t, num_classes=5)), x)
    p = np.array([[0.0, 0.3, 1.0]])
    t = np.array([[0.0, 1.0, 1.0]])
    _both(torch, lambda lib, a, b: lib.nn.functional.binary_cross_entropy(a, b), p, t)
    logits = np.array([[-50.0, 0.0, 80.0]])
    _both(torch, lambda lib, a, b: lib.nn.functional.binary_cross_entropy_with_logits(
        a, b, reduction="none"), logits, t)


def test_modules_run_like_torch(torch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    for name, args in [("ReflectionPad2d", (1,)), ("ReplicationPad2d", ((1, 0, 2, 1),)),
                       ("ZeroPad2d", (1,)), ("CircularPad2d", (1,)),
                       ("Upsample", ()), ("UpsamplingBilinear2d", ())]:
        kwargs = {"scale_factor": 2} if "Upsampl" in name else {}
        mine = getattr(minidl.nn, name)(*args, **kwargs)(minidl.tensor(x))
        theirs = getattr(torch.nn, name)(*args, **kwargs)(torch.tensor(x))
        assert_close(mine, theirs.numpy(), rtol=1e-6, name=name)
    conv = minidl.nn.Conv1d(2, 3, 3, padding=1)
    reference = torch.nn.Conv1d(2, 3, 3, padding=1)
    reference.load_state_dict({k: torch.tensor(v.numpy()) for k, v in conv.state_dict().items()})
    signal = rng.standard_normal((2, 2, 5)).astype(np.float32)
    assert_close(conv(minidl.tensor(signal)), reference(torch.tensor(signal)).detach().numpy(),
                 rtol=1e-5, atol=1e-6)
    pool, unpool = minidl.nn.MaxPool2d(2, return_indices=True), minidl.nn.MaxUnpool2d(2)
    y, indices = pool(minidl.tensor(x))
    reference_y, reference_indices = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    assert_close(unpool(y, indices), torch.nn.MaxUnpool2d(2)(reference_y, reference_indices).numpy())


@pytest.mark.parametrize("call, fragments", [
    (lambda: minidl.zeros(2, 3).repeat(2), ["repeat", "(2,)"]),
    (lambda: minidl.zeros(4).split([1, 2]), ["split", "add up to 3"]),
    (lambda: minidl.zeros(4).unfold(0, 5, 1), ["unfold", "size 4"]),
    (lambda: minidl.zeros(4).unflatten(0, (3, -1)), ["unflatten", "(3, -1)"]),
    (lambda: minidl.zeros(3).topk(4), ["topk", "k=4"]),
    (lambda: minidl.einsum("ij,jk->ik", minidl.zeros(2, 3)), ["einsum", "2 operands"]),
    (lambda: minidl.einsum("ij->ik", minidl.zeros(2, 3)), ["einsum", "'k'"]),
    (lambda: minidl.mm(minidl.zeros(2), minidl.zeros(2, 2)), ["mm", "2-d"]),
    (lambda: minidl.zeros(3).scatter_reduce(0, minidl.tensor([0]), minidl.ones(1), "max"),
     ["scatter_reduce", "'max'"]),
    (lambda: minidl.zeros(3).masked_fill(minidl.zeros(3), 1.0), ["masked_fill", "bool"]),
    (lambda: minidl.nn.functional.pad(minidl.zeros(1, 3), (3, 0), mode="reflect"),
     ["pad", "at most 2"]),
    (lambda: minidl.nn.functional.interpolate(minidl.zeros(1, 1, 3), mode="bilinear",
                                              size=4), ["bilinear", "4-D"]),
    (lambda: minidl.nn.functional.interpolate(minidl.zeros(1, 1, 3)), ["size", "scale_factor"]),
    (lambda: minidl.nn.functional.binary_cross_entropy(minidl.tensor([1.5]), minidl.tensor([1.0])),
     ["between 0 and 1"]),
    (lambda: minidl.nn.functional.one_hot(minidl.tensor([0, 3]), 3), ["one_hot", "[0, 3)"]),
    (lambda: minidl.diag(minidl.zeros(2, 2, 2)), ["diag", "(2, 2, 2)"]),
])
def test_refused_arguments_name_the_op(call, fragments):
    assert_value_error(call, *fragments)


@pytest.mark.parametrize("call, fragments", [
    (lambda: minidl.zeros(2, 3).flip(2), ["flip", "dim 2"]),
    (lambda: minidl.zeros(3).scatter(0, minidl.tensor([3]), 1.0), ["scatter", "[-3, 3)"]),
    (lambda: minidl.zeros(2, 3).cumsum(2), ["cumsum", "dim 2"]),
    (lambda: minidl.zeros(2, 3).narrow(1, 2, 2), ["narrow", "size 3"]),
])
def test_out_of_range_dims_and_indices_raise_index_error(call, fragments):
    with pytest.raises(IndexError) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value)
