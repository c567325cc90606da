"""ReLU, its backward, the residual add, masking and batch norm on minidl's
threads: the same bits on 1, 2 and 3 threads, and the same values as the
plain formula on the whole array (so a chunk dropped or written to the
wrong place, or a part of batch norm's sums dropped or added twice, is
seen)."""
import contextlib

import numpy as np
import pytest

import minidl
import minidl.nn.functional as F
from minidl import parallel
from minidl.ops import elementwise_chunks
from minidl.ops.elementwise import MaskGradient

THREAD_COUNTS = (1, 2, 3)

# 5 * 3 * 131 * 139 = 273,135 elements: enough to be split (2 ** 18), and
# odd, so no chunk count divides it.
SHAPE = (5, 3, 131, 139)
# Thread counts on which element-wise ops split their work (one thread
# runs the whole array in one call).
SPLITTING = len([count for count in THREAD_COUNTS if count > 1])


@contextlib.contextmanager
def _threads(count, min_chunk=None, max_chunk=None):
    """minidl on `count` threads, with other chunk limits if given;
    restored afterwards."""
    saved = (minidl.get_num_threads(), parallel.MIN_CHUNK_ELEMENTS,
             parallel.MAX_CHUNK_ELEMENTS)
    try:
        minidl.set_num_threads(count)
        if min_chunk is not None:
            parallel.MIN_CHUNK_ELEMENTS = min_chunk
        if max_chunk is not None:
            parallel.MAX_CHUNK_ELEMENTS = max_chunk
        yield
    finally:
        minidl.set_num_threads(saved[0])
        parallel.MIN_CHUNK_ELEMENTS, parallel.MAX_CHUNK_ELEMENTS = saved[1:]


# minidl's own limits (4 chunks of SHAPE, whose sizes differ by one), and
# small ones (28 chunks, more than the threads: each takes several).
LIMITS = {"minidl_chunks": (None, None), "many_chunks": (1000, 10000)}


@pytest.fixture
def chunk_calls(monkeypatch):
    """The (batch, elements) of every call to parallel.map_batch_chunks,
    to show that the op under test did split its work."""
    calls = []
    original = parallel.map_batch_chunks

    def recording(work, batch, elements, like):
        calls.append((batch, elements))
        return original(work, batch, elements, like)

    monkeypatch.setattr(parallel, "map_batch_chunks", recording)
    return calls


def _on_each_thread_count(run, limits):
    """{count: tuple of arrays from run()} for each of THREAD_COUNTS."""
    results = {}
    for count in THREAD_COUNTS:
        with _threads(count, *limits):
            results[count] = tuple(np.array(a) for a in run())
    return results


def _assert_same_bits(results, expected=None):
    """Every thread count gives the same bits, and those equal `expected`
    (the plain formula on the whole array) when it is given."""
    one = results[THREAD_COUNTS[0]]
    for count in THREAD_COUNTS[1:]:
        for index, (a, b) in enumerate(zip(one, results[count])):
            assert a.dtype == b.dtype and a.shape == b.shape
            assert np.array_equal(a, b), (index, count)
    for index, (a, want) in enumerate(zip(one, expected or ())):
        assert a.dtype == want.dtype and np.array_equal(a, want), index


def _chunk_count(elements, limits):
    with _threads(1, *limits):
        return len(parallel.batch_chunks(elements, elements))


def _arrays(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) for shape in shapes]


# -- element-wise ops ------------------------------------------------------------

@pytest.mark.parametrize("limits", LIMITS.values(), ids=LIMITS.keys())
def test_relu_forward_and_backward_on_threads_equal_the_formula(limits,
                                                                chunk_calls):
    x_array, g_array = _arrays(0, SHAPE, SHAPE)
    x_array[0, 0, 0, :5] = 0.0  # the gradient at 0 is 0, as PyTorch
    size = x_array.size
    assert _chunk_count(size, limits) >= 2

    def step():
        x = minidl.tensor(x_array, requires_grad=True)
        y = F.relu(x)
        y.backward(minidl.tensor(g_array))
        return y.data, x.grad.data

    results = _on_each_thread_count(step, limits)
    expected = (np.maximum(x_array, 0), g_array * (x_array > 0))
    _assert_same_bits(results, expected)
    # forward and backward each split, on every thread count
    assert chunk_calls.count((size, size)) == 2 * SPLITTING


@pytest.mark.parametrize("limits", LIMITS.values(), ids=LIMITS.keys())
def test_residual_add_on_threads_equals_the_formula(limits, chunk_calls):
    x_array, y_array, g_array = _arrays(1, SHAPE, SHAPE, SHAPE)

    def step():
        x = minidl.tensor(x_array, requires_grad=True)
        y = minidl.tensor(y_array, requires_grad=True)
        z = x + y
        z.backward(minidl.tensor(g_array))
        return z.data, x.grad.data, y.grad.data

    results = _on_each_thread_count(step, limits)
    _assert_same_bits(results, (x_array + y_array, g_array, g_array))
    assert chunk_calls.count((x_array.size, x_array.size)) == SPLITTING


@pytest.mark.parametrize("limits", LIMITS.values(), ids=LIMITS.keys())
def test_mask_gradient_on_threads_equals_the_formula(limits, chunk_calls):
    g_array, x_array = _arrays(2, SHAPE, SHAPE)
    mask = np.abs(x_array) < 1

    def step():
        return MaskGradient(mask)(minidl.tensor(g_array)).data,

    results = _on_each_thread_count(step, limits)
    _assert_same_bits(results, (g_array * mask,))
    assert chunk_calls.count((g_array.size, g_array.size)) == SPLITTING


def test_small_broadcast_or_strided_arrays_are_not_split(chunk_calls):
    """What is not split still gives the formula's result."""
    big, = _arrays(3, SHAPE)
    small, row = _arrays(4, (3, 50), (50,))
    strided = big.transpose(0, 1, 3, 2)  # not C-contiguous
    with _threads(2):
        assert np.array_equal((minidl.tensor(small) + minidl.tensor(row)).data,
                              small + row)
        assert np.array_equal(F.relu(minidl.tensor(strided)).data,
                              np.maximum(strided, 0))
        assert np.array_equal(F.relu(minidl.tensor(small)).data,
                              np.maximum(small, 0))
    assert chunk_calls == []
    assert not elementwise_chunks.worth_splitting(strided, strided)


def test_relu_keeps_integer_and_float64_dtypes():
    x = np.arange(-140001, 140000, dtype=np.int64)  # split, on 2 threads
    with _threads(2):
        assert np.array_equal(F.relu(minidl.tensor(x)).data, np.maximum(x, 0))
        y = F.relu(minidl.tensor(x.astype(np.float64)))
    assert y.dtype == minidl.float64


def test_relu_second_derivative_is_masked_and_zero_in_x():
    """ReLUBackward's own backward masks again, and gives y none."""
    x_array, w_array = _arrays(5, SHAPE, SHAPE)
    with _threads(2):
        x = minidl.tensor(x_array, requires_grad=True)
        w = minidl.tensor(w_array, requires_grad=True)
        (gx,) = minidl.autograd.grad((F.relu(x) * w).sum(), [x],
                                     create_graph=True)
        assert np.array_equal(gx.data, w_array * (x_array > 0))
        gx.sum().backward()
    assert np.array_equal(w.grad.data, (x_array > 0).astype(np.float32))
    assert x.grad is None or not np.any(x.grad.data)


def test_relu_backward_of_backward_sees_an_overwritten_output():
    """ReLUBackward keeps y with its version counter: overwriting y between
    the first and the second backward makes the second raise rather than
    mask with the new values."""
    x = minidl.tensor(np.array([-1.0, 2.0, 3.0], np.float32),
                      requires_grad=True)
    w = minidl.tensor(np.array([1.0, 1.0, 1.0], np.float32),
                      requires_grad=True)
    y = F.relu(x)
    (gx,) = minidl.autograd.grad((y * w).sum(), [x], create_graph=True)
    with minidl.no_grad():
        y.sub_(10)
    with pytest.raises(RuntimeError, match="ReLUBackward: a tensor of shape "
                                           r"\(3,\) saved for backward was "
                                           "modified"):
        gx.sum().backward()


# -- batch norm ------------------------------------------------------------------

def _batch_norm_formula(x, g, w, b, mean, var, training, eps=1e-5):
    """(y, dx, dw, db) of batch norm in float64 on the whole array, and for
    each the sum of the magnitudes of its terms (the error's scale)."""
    x, g = x.astype(np.float64), g.astype(np.float64)
    dims = (0, 2, 3)
    if training:
        mean = x.mean(axis=dims)
        var = x.var(axis=dims)

    def channel(v):
        return np.asarray(v, np.float64).reshape(1, -1, 1, 1)

    invstd = 1 / np.sqrt(var.astype(np.float64) + eps)
    xhat = (x - channel(mean)) * channel(invstd)
    # the size of xhat's terms, (|x| + |mean|) * invstd
    xhat_size = (np.abs(x) + np.abs(channel(mean))) * channel(invstd)
    y = xhat * channel(w) + channel(b)
    db, dw = g.sum(axis=dims), (g * xhat).sum(axis=dims)
    db_size = np.abs(g).sum(axis=dims)
    dw_size = (np.abs(g) * xhat_size).sum(axis=dims)
    count = x.size // x.shape[1]
    if training:
        dx = channel(w * invstd) * (g - channel(db) / count
                                    - xhat * channel(dw) / count)
        dx_size = np.abs(channel(w * invstd)) * (
            np.abs(g) + channel(db_size) / count
            + xhat_size * channel(dw_size) / count)
    else:
        dx = channel(w * invstd) * g
        dx_size = np.abs(channel(w * invstd) * g)
    y_size = xhat_size * np.abs(channel(w)) + np.abs(channel(b))
    return (y, dx, dw, db), (y_size, dx_size, dw_size, db_size)


@pytest.mark.parametrize("limits", LIMITS.values(), ids=LIMITS.keys())
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm_on_threads_equals_the_formula(training, limits,
                                                  chunk_calls):
    """Batch norm's sums add their chunks' parts in chunk order: the same
    bits on every thread count; and a chunk dropped or added twice would
    move the statistics and the sums far from the formula."""
    x_array, g_array, w_array, b_array = _arrays(6, SHAPE, SHAPE, (3,), (3,))
    x_array = x_array * 3 + 1
    mean_array = np.array([0.5, 1.0, 1.5], np.float32)
    var_array = np.array([2.0, 8.0, 9.0], np.float32)

    def step():
        x = minidl.tensor(x_array, requires_grad=True)
        w = minidl.tensor(w_array, requires_grad=True)
        b = minidl.tensor(b_array, requires_grad=True)
        y = F.batch_norm(x, minidl.tensor(mean_array.copy()),
                         minidl.tensor(var_array.copy()), w, b,
                         training=training)
        y.backward(minidl.tensor(g_array))
        return y.data, x.grad.data, w.grad.data, b.grad.data

    results = _on_each_thread_count(step, limits)
    _assert_same_bits(results)
    expected, sizes = _batch_norm_formula(x_array, g_array, w_array, b_array,
                                          mean_array, var_array, training)
    # float32 against float64: an error of a few float32 roundings of the
    # terms summed (sums of ~24,000 terms per channel).
    for index, (a, want, size) in enumerate(zip(results[1], expected, sizes)):
        assert a.dtype == np.float32
        assert np.all(np.abs(a - want) <= 1e-5 * size), index
    batch, size = SHAPE[0], x_array.size
    with _threads(1, *limits):
        assert len(parallel.batch_chunks(batch, size)) >= 2
    assert chunk_calls.count((batch, size)) >= 2 * len(THREAD_COUNTS)
