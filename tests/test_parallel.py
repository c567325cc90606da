"""minidl.parallel: chunks of a batch on threads, and convolution on them."""
import contextlib
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
from minidl import parallel
from minidl.nn.functional import _conv_arithmetic as conv


@pytest.fixture
def threads(monkeypatch):
    """Set minidl's thread count for a test (every chunk size allowed);
    restored afterwards."""
    before = minidl.get_num_threads()
    monkeypatch.setattr(parallel, "MIN_CHUNK_ELEMENTS", 1)
    yield minidl.set_num_threads
    minidl.set_num_threads(before)


@contextlib.contextmanager
def _split(count, chunk_limit):
    """minidl on `count` threads, chunks of at most `chunk_limit` elements
    (and as small as one image); restored afterwards. (Hypothesis tests
    cannot use the function-scoped fixtures.)"""
    saved = (minidl.get_num_threads(), parallel.MIN_CHUNK_ELEMENTS,
             parallel.MAX_CHUNK_ELEMENTS)
    try:
        minidl.set_num_threads(count)
        parallel.MIN_CHUNK_ELEMENTS, parallel.MAX_CHUNK_ELEMENTS = 1, chunk_limit
        yield
    finally:
        minidl.set_num_threads(saved[0])
        parallel.MIN_CHUNK_ELEMENTS, parallel.MAX_CHUNK_ELEMENTS = saved[1:]


def test_chunks_cover_the_batch_in_order_on_several_threads(threads):
    threads(3)
    seen = []
    all_running = threading.Barrier(3, timeout=10)  # breaks unless 3 at once

    def work(start, stop):
        seen.append(threading.get_ident())
        all_running.wait()
        return list(range(start, stop))

    # 3 elements, MIN_CHUNK_ELEMENTS 1: three chunks.
    results = parallel.map_batch_chunks(work, 10, 3, np.zeros(1))
    assert [len(r) for r in results] == [3, 3, 4]
    assert sum(results, []) == list(range(10))
    assert len(set(seen)) == 3  # the caller and two pool threads


@pytest.mark.parametrize("batch, elements, expected", [
    (10, 10, 4),   # CHUNK_MULTIPLE chunks, whatever the threads
    (2, 10, 2),    # no more chunks than images
    (10, 2, 2),    # no more than elements // MIN_CHUNK_ELEMENTS
    (1, 10, 1),
])
def test_number_of_chunks(threads, batch, elements, expected):
    for count in (1, 3):
        threads(count)
        results = parallel.map_batch_chunks(lambda a, b: (a, b), batch,
                                            elements, np.zeros(1))
        assert len(results) == expected
        assert results[0][0] == 0 and results[-1][1] == batch


def test_large_work_gets_cache_sized_chunks_whatever_the_threads(
        threads, monkeypatch):
    monkeypatch.setattr(parallel, "MAX_CHUNK_ELEMENTS", 10)
    # 45 elements in pieces of at most 10: 5 chunks, rounded up to a
    # multiple of CHUNK_MULTIPLE (4): 8, on any number of threads.
    for count in (1, 2, 3, 5):
        threads(count)
        chunks = parallel.map_batch_chunks(lambda a, b: (a, b), 100, 45,
                                           np.zeros(1))
        assert chunks == parallel.batch_chunks(100, 45)
        assert len(chunks) == 8
        assert chunks[0] == (0, 12) and chunks[-1] == (87, 100)


def test_small_work_gets_fewer_chunks_and_non_numpy_arrays_one(threads,
                                                               monkeypatch):
    threads(4)
    monkeypatch.setattr(parallel, "MIN_CHUNK_ELEMENTS", 100)
    chunks = parallel.map_batch_chunks(lambda a, b: (a, b), 8, 399,
                                       np.zeros(1))
    assert chunks == [(0, 2), (2, 5), (5, 8)]  # 399 // 100 = 3 chunks
    assert parallel.map_batch_chunks(lambda a, b: (a, b), 8, 10 ** 6,
                                     [0.0]) == [(0, 8)]


def test_chunks_inside_a_chunk_do_not_split_again(threads):
    threads(2)

    def outer(start, stop):
        return parallel.map_batch_chunks(lambda a, b: (a, b), 6, 6,
                                         np.zeros(1))

    results = parallel.map_batch_chunks(outer, 4, 2, np.zeros(1))
    assert results == [[(0, 6)], [(0, 6)]]


def test_an_exception_in_a_chunk_reaches_the_caller(threads):
    threads(2)

    def work(start, stop):
        if start > 0:
            raise RuntimeError("chunk {}:{} failed".format(start, stop))
        return start

    with pytest.raises(RuntimeError, match="chunk 2:4 failed"):
        parallel.map_batch_chunks(work, 4, 2, np.zeros(1))  # two chunks


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_set_num_threads_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="set_num_threads: count must be a "
                                         "positive int"):
        minidl.set_num_threads(bad)


def test_set_num_threads_puts_blas_on_one_thread(threads):
    threads(2)
    assert minidl.get_num_threads() == 2
    if parallel.get_blas_threads() is None:
        pytest.skip("NumPy does not use OpenBLAS here")
    assert parallel.get_blas_threads() == 1


def test_default_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MINIDL_NUM_THREADS", "3")
    assert parallel._default_threads() == 3
    monkeypatch.setenv("MINIDL_NUM_THREADS", "zero")
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert parallel._default_threads() == 5


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 7), channels=st.sampled_from([(2, 4, 1), (4, 6, 2),
                                                         (3, 3, 3)]),
       size=st.integers(3, 9), stride=st.integers(1, 2),
       padding=st.integers(0, 2), dilation=st.integers(1, 2),
       threads_count=st.integers(2, 4),
       chunk_limit=st.sampled_from([1, 50, 2 ** 20]),
       seed=st.integers(0, 2 ** 16))
def test_convolution_on_threads_equals_one_thread(batch, channels, size, stride,
                                                  padding, dilation,
                                                  threads_count, chunk_limit,
                                                  seed):
    """Forward, dx (both of its routes) and dW agree whatever the split:
    one chunk per thread or many, down to one image per chunk."""
    c_in, c_out, groups = channels
    extent = dilation * 2 + 1
    if size + 2 * padding < extent:
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, c_in, size, size))
    w = rng.standard_normal((c_out, c_in // groups, 3, 3))
    out = (size + 2 * padding - extent) // stride + 1
    gy = rng.standard_normal((batch, c_out, out, out))
    geometry = ((stride, stride), (padding, padding), (dilation, dilation),
                groups)
    results = {}
    for count, limit in ((1, 2 ** 20), (threads_count, chunk_limit)):
        with _split(count, limit):
            results[count] = (
                conv.conv2d_array(x, w, None, *geometry, (out, out)),
                conv.conv_transpose2d_array(gy, w, None, *geometry,
                                            (size, size)),
                conv.conv2d_weight_array(x, gy, (3, 3), *geometry))
    for one, many in zip(results[1], results[threads_count]):
        assert one.shape == many.shape
        np.testing.assert_allclose(many, one, rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 9), channels=st.integers(1, 5),
       spatial=st.sampled_from([(), (3,), (4, 5)]), training=st.booleans(),
       threads_count=st.integers(2, 4),
       chunk_limit=st.sampled_from([1, 20, 2 ** 20]),
       seed=st.integers(0, 2 ** 16))
def test_batch_norm_on_threads_equals_one_thread(batch, channels, spatial,
                                                 training, threads_count,
                                                 chunk_limit, seed):
    """The fused batch-norm kernels give the same y, statistics and
    gradients whatever the split of the batch."""
    from minidl.nn.functional.normalization import (batch_norm_backward,
                                                     batch_norm_forward)
    if training and batch * int(np.prod(spatial)) < 2:
        return
    rng = np.random.default_rng(seed)
    shape = (batch, channels) + spatial
    x, gy = rng.standard_normal(shape), rng.standard_normal(shape)
    weight, bias = rng.standard_normal(channels), rng.standard_normal(channels)
    stats = (None, None) if training else (rng.standard_normal(channels),
                                           rng.random(channels) + 0.5)
    results = {}
    for count, limit in ((1, 2 ** 20), (threads_count, chunk_limit)):
        with _split(count, limit):
            y, mean, var, invstd = batch_norm_forward(x, weight, bias, *stats,
                                                      1e-5)
            grads = batch_norm_backward(gy, x, weight, mean, invstd, training)
            results[count] = (y, mean, var, invstd) + grads
    for one, many in zip(results[1], results[threads_count]):
        np.testing.assert_allclose(many, one, rtol=1e-10, atol=1e-12)


# -- results do not depend on the number of threads ------------------------------

THREAD_COUNTS = (1, 2, 3, 5)


def _assert_same_bits(results, what):
    """results: {thread count: tuple of arrays}; every count gives the same
    bits as one thread."""
    one = results[THREAD_COUNTS[0]]
    for count in THREAD_COUNTS[1:]:
        for index, (a, b) in enumerate(zip(one, results[count])):
            assert a.dtype == b.dtype and a.shape == b.shape
            assert np.array_equal(a, b), (
                "{} (array {}): {} threads differ from 1 by up to {}".format(
                    what, index, count, np.abs(a - b).max()))


def _on_each_thread_count(run, chunk_limit):
    """{count: run()} for each of THREAD_COUNTS, with chunks of at most
    chunk_limit elements (None: minidl's own limits)."""
    results = {}
    for count in THREAD_COUNTS:
        if chunk_limit is None:
            before = minidl.get_num_threads()
            minidl.set_num_threads(count)
            try:
                results[count] = run()
            finally:
                minidl.set_num_threads(before)
        else:
            with _split(count, chunk_limit):
                results[count] = run()
    return results


def _conv_step(transposed, stride, size, groups, seed=0):
    """float32 forward and backward of conv2d (or conv_transpose2d):
    (y, dx, dW, db) as arrays."""
    import minidl.nn.functional as F
    rng = np.random.default_rng(seed)
    batch, c_in, c_out = 12, 4, 6
    x = minidl.tensor(rng.standard_normal((batch, c_in, size, size))
                      .astype(np.float32), requires_grad=True)
    shape = (c_in, c_out // groups, 3, 3) if transposed \
        else (c_out, c_in // groups, 3, 3)
    w = minidl.tensor(rng.standard_normal(shape).astype(np.float32),
                      requires_grad=True)
    b = minidl.tensor(rng.standard_normal(c_out).astype(np.float32),
                      requires_grad=True)
    function = F.conv_transpose2d if transposed else F.conv2d
    y = function(x, w, b, stride=stride, padding=1, groups=groups)
    gy = minidl.tensor(rng.standard_normal(y.shape).astype(np.float32))
    y.backward(gy)
    return tuple(np.array(t) for t in (y.data, x.grad.data, w.grad.data,
                                       b.grad.data))


@pytest.mark.parametrize("transposed, stride, size, groups, chunk_limit", [
    (False, 1, 6, 1, "few"),   # dx and dW from one im2col; few positions
    (False, 1, 20, 2, "few"),  # the same, one product per image, groups
    (False, 1, 20, 2, None),   # ... in minidl's own chunks (3 of them)
    (False, 2, 20, 1, "few"),  # dx by col2im, dW by Conv2dWeight
    (False, 2, 20, 1, None),
    (True, 1, 9, 2, "few"),    # transposed, stride 1: an ordinary convolution
    (True, 2, 9, 1, "few"),    # transposed, stride 2: product then col2im
])
def test_convolution_results_do_not_depend_on_the_thread_count(
        transposed, stride, size, groups, chunk_limit):
    """float32 y, dx, dW and db of every route are the same bits on 1, 2,
    3 and 5 threads: the chunks, and the order their dW parts are added
    in, do not depend on the threads."""
    elements = 12 * 4 * 9 * size * size  # about the columns' size
    if chunk_limit is None:  # else there would be nothing to split
        assert len(parallel.batch_chunks(12, elements)) > 1
    else:  # a few chunks: how many would have depended on the threads
        chunk_limit = elements // 3 + 1
    results = _on_each_thread_count(
        lambda: _conv_step(transposed, stride, size, groups), chunk_limit)
    _assert_same_bits(results, "conv")


@pytest.mark.parametrize("chunk_limit", [100000, None],
                         ids=["few_chunks", "minidl_chunks"])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_results_do_not_depend_on_the_thread_count(training,
                                                             chunk_limit):
    import minidl.nn.functional as F
    rng = np.random.default_rng(1)
    shape = (16, 3, 80, 80)  # 307,200 elements: 4 chunks of minidl's own
    assert len(parallel.batch_chunks(shape[0], int(np.prod(shape)))) > 1
    arrays = [rng.standard_normal(shape).astype(np.float32) * 3 + 1,
              rng.standard_normal(shape).astype(np.float32),
              rng.standard_normal(3).astype(np.float32),
              rng.standard_normal(3).astype(np.float32)]

    def step():
        x, gy, w, b = (minidl.tensor(a, requires_grad=True) for a in arrays)
        mean = minidl.tensor(np.full(3, 0.5, np.float32))
        var = minidl.tensor(np.full(3, 2.0, np.float32))
        y = F.batch_norm(x, mean, var, w, b, training=training)
        y.backward(gy.detach())
        return tuple(np.array(t.data) for t in (y, x.grad, w.grad, b.grad,
                                               mean, var))

    _assert_same_bits(_on_each_thread_count(step, chunk_limit), "batch_norm")


def test_a_resnet_training_step_does_not_depend_on_the_thread_count():
    """Two SGD steps of a ResNet-20 (float32): the loss and every parameter
    and buffer are the same bits on 1, 2, 3 and 5 threads."""
    import minidl.nn.functional as F
    from minidl import models, optim
    rng = np.random.default_rng(2)
    images = rng.standard_normal((8, 3, 16, 16)).astype(np.float32)
    labels = rng.integers(0, 10, 8)

    def train():
        minidl.manual_seed(0)
        model = models.resnet20(num_classes=10)
        model.train()
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        losses = []
        for _ in range(2):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(minidl.tensor(images)),
                                   minidl.tensor(labels))
            loss.backward()
            optimizer.step()
            losses.append(np.array(loss.data))
        state = model.state_dict()
        return tuple(losses) + tuple(np.array(state[k].data)
                                     for k in sorted(state))

    # Chunks of at most 100,000 elements: a few per layer, fewer than images.
    _assert_same_bits(_on_each_thread_count(train, 100000), "resnet20 step")
