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

    results = parallel.map_batch_chunks(work, 10, 10, np.zeros(1))
    assert [len(r) for r in results] == [3, 3, 4]
    assert sum(results, []) == list(range(10))
    assert len(set(seen)) == 3  # the caller and two pool threads


@pytest.mark.parametrize("batch, elements, expected", [
    (10, 10, 3),   # as many chunks as threads
    (2, 10, 2),    # no more chunks than images
    (10, 2, 2),    # no more than elements // MIN_CHUNK_ELEMENTS
    (1, 10, 1),
])
def test_number_of_chunks(threads, batch, elements, expected):
    threads(3)
    results = parallel.map_batch_chunks(lambda a, b: (a, b), batch, elements,
                                        np.zeros(1))
    assert len(results) == expected
    assert results[0][0] == 0 and results[-1][1] == batch


def test_large_work_gets_cache_sized_chunks_a_multiple_of_the_threads(
        threads, monkeypatch):
    threads(2)
    monkeypatch.setattr(parallel, "MAX_CHUNK_ELEMENTS", 10)
    # 45 elements in pieces of at most 10: 5 chunks, rounded up to 6.
    chunks = parallel.map_batch_chunks(lambda a, b: (a, b), 100, 45,
                                       np.zeros(1))
    assert len(chunks) == 6
    assert chunks[0] == (0, 16) and chunks[-1] == (83, 100)
    threads(1)  # one thread: the chunks run in turn
    assert len(parallel.map_batch_chunks(lambda a, b: (a, b), 100, 45,
                                         np.zeros(1))) == 5


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

    results = parallel.map_batch_chunks(outer, 4, 4, np.zeros(1))
    assert results == [[(0, 6)], [(0, 6)]]


def test_an_exception_in_a_chunk_reaches_the_caller(threads):
    threads(2)

    def work(start, stop):
        if start > 0:
            raise RuntimeError("chunk {}:{} failed".format(start, stop))
        return start

    with pytest.raises(RuntimeError, match="chunk 2:4 failed"):
        parallel.map_batch_chunks(work, 4, 4, np.zeros(1))


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
