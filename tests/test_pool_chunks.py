"""Max pooling's NumPy kernels split the batch into chunks on minidl's
threads: every split gives the values, taps and gradients of the whole
batch at once."""
import numpy as np
import pytest

import minidl
from minidl import parallel
from minidl.nn.functional import _pool_kernels


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_chunked_max_pool_equals_the_whole_batch_at_once(monkeypatch,
                                                         threads):
    monkeypatch.setattr(parallel, "MIN_CHUNK_ELEMENTS", 1)
    before = minidl.get_num_threads()
    rng = np.random.default_rng(threads)
    # Small integers make ties (the first tap must win), and a few NaNs.
    x = rng.integers(-3, 3, size=(9, 5, 16, 16)).astype(np.float32)
    x[rng.random(x.shape) < 0.01] = np.nan
    geometry = ((3, 3), (2, 2), (1, 1), (1, 1))
    assert len(parallel.batch_chunks(9, x.size)) > 1
    try:
        minidl.set_num_threads(threads)
        values, taps = _pool_kernels.max_pool2d_forward(x, *geometry, (8, 8))
        gy = rng.standard_normal(values.shape).astype(np.float32)
        dx = _pool_kernels.max_pool2d_backward(gy, taps, (16, 16), *geometry)
    finally:
        minidl.set_num_threads(before)
    whole_values, whole_taps = _pool_kernels._max_pool_chunk(x, *geometry,
                                                             (8, 8))
    whole_dx = _pool_kernels._max_pool_backward_chunk(gy, whole_taps,
                                                      (16, 16), *geometry)
    np.testing.assert_array_equal(values, whole_values)  # NaN == NaN here
    assert np.array_equal(taps, whole_taps)
    assert np.array_equal(dx, whole_dx)
