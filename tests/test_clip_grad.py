"""clip_grad_norm_ and clip_grad_value_ against torch.nn.utils."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minidl
from minidl.nn.utils import (clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_,
                             get_total_norm)
from conftest import assert_close

NORM_TYPES = [2.0, 1.0, math.inf, -math.inf, 3.5, 0.5, 0.0]


def make_pair(torch, grads, dtype=np.float64, with_none=True):
    """minidl and torch parameters holding the same gradients; one extra
    parameter without a gradient when `with_none`."""
    ours, theirs = [], []
    for grad in grads:
        grad = grad.astype(dtype)
        p = minidl.tensor(np.zeros(grad.shape, dtype), requires_grad=True)
        p.grad = minidl.tensor(grad)
        q = torch.zeros(grad.shape, dtype=getattr(torch, np.dtype(dtype).name),
                        requires_grad=True)
        q.grad = torch.tensor(grad)
        ours.append(p)
        theirs.append(q)
    if with_none:
        ours.append(minidl.tensor(np.zeros(2, dtype), requires_grad=True))
        theirs.append(torch.zeros(2, dtype=getattr(torch, np.dtype(dtype).name),
                                  requires_grad=True))
    return ours, theirs


def random_grads(seed, shapes=((3, 4), (5,), (2, 1, 3))):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


def check_clip_norm(torch, grads, max_norm, norm_type, dtype=np.float64, rtol=1e-12):
    ours, theirs = make_pair(torch, grads, dtype)
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, minidl.Tensor) and total.shape == ()
    assert total.dtype == dtype
    assert_close(total, expected, rtol=rtol, atol=0, name="total norm")
    for index, (p, q) in enumerate(zip(ours, theirs)):
        if q.grad is None:
            assert p.grad is None
            continue
        assert p.grad.dtype == dtype
        assert_close(p.grad, q.grad, rtol=rtol, atol=1e-15,
                     name="grad {}".format(index))
    return total


@pytest.mark.parametrize("norm_type", NORM_TYPES)
@pytest.mark.parametrize("clip", [True, False])
def test_clip_grad_norm_matches_torch(torch, norm_type, clip):
    grads = random_grads(0)
    norm = torch.nn.utils.get_total_norm([torch.tensor(g) for g in grads],
                                         norm_type).item()
    max_norm = norm * (0.5 if clip else 2.0)
    check_clip_norm(torch, grads, max_norm, norm_type)


@given(seed=st.integers(0, 1000), max_norm=st.floats(0.01, 10.0),
       norm_type=st.sampled_from(NORM_TYPES + [1.5, 4.0]),
       sizes=st.lists(st.integers(1, 6), min_size=1, max_size=4))
def test_clip_grad_norm_drawn(torch, seed, max_norm, norm_type, sizes):
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal(size) * rng.uniform(0.1, 3) for size in sizes]
    check_clip_norm(torch, grads, max_norm, norm_type)


@pytest.mark.parametrize("norm_type", [2.0, math.inf, 1.0])
def test_float32_stays_float32(torch, norm_type):
    check_clip_norm(torch, random_grads(1), 0.3, norm_type, dtype=np.float32,
                    rtol=1e-5)


def test_clips_to_max_norm():
    p = minidl.tensor(np.zeros(3), requires_grad=True)
    p.grad = minidl.tensor(np.array([3.0, 4.0, 0.0]))
    total = clip_grad_norm_(p, 1.0)  # a single Tensor is accepted
    assert total.item() == pytest.approx(5.0)
    assert np.linalg.norm(p.grad.numpy()) == pytest.approx(1.0, rel=1e-6)


def test_no_gradients_gives_zero():
    p = minidl.tensor(np.zeros(3), requires_grad=True)
    total = clip_grad_norm_([p], 1.0)
    assert total.item() == 0.0 and p.grad is None


@pytest.mark.filterwarnings("ignore:invalid value encountered")
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_norm(torch, bad):
    grads = [np.array([1.0, bad, 2.0]), np.ones(2)]
    ours, theirs = make_pair(torch, grads)
    with pytest.raises(RuntimeError, match="total norm of order 2.0 of the gradients "
                                           "is non-finite"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    # Nothing was scaled before the error.
    assert_close(ours[1].grad, np.ones(2), rtol=0, atol=0)
    # Without the flag, the same result as torch (nan spreads into the grads).
    total = clip_grad_norm_(ours, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    np.testing.assert_equal(total.numpy(), expected.numpy())
    for p, q in zip(ours[:2], theirs[:2]):
        np.testing.assert_equal(p.grad.numpy(), q.grad.numpy())


def test_get_total_norm_and_clip_grads_with_norm(torch):
    grads = random_grads(2)
    ours, theirs = make_pair(torch, grads, with_none=False)
    total = get_total_norm([p.grad for p in ours], norm_type=3.0)
    expected = torch.nn.utils.get_total_norm([q.grad for q in theirs], norm_type=3.0)
    assert_close(total, expected, rtol=1e-12)
    clip_grads_with_norm_(ours, 0.7, total)
    torch.nn.utils.clip_grads_with_norm_(theirs, 0.7, expected)
    for p, q in zip(ours, theirs):
        assert_close(p.grad, q.grad, rtol=1e-12)


def test_clip_grad_norm_rejects_a_non_number():
    p = minidl.tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(TypeError, match="clip_grad_norm_: max_norm must be a number"):
        clip_grad_norm_([p], "1.0")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_grad_value_matches_torch(torch, dtype):
    grads = random_grads(3)
    ours, theirs = make_pair(torch, grads, dtype)
    versions = [p.grad._version for p in ours[:3]]
    clip_grad_value_(ours, 0.5)
    torch.nn.utils.clip_grad_value_(theirs, 0.5)
    for p, q, version in zip(ours, theirs, versions):
        assert p.grad.dtype == dtype
        assert p.grad._version == version + 1
        assert_close(p.grad, q.grad, rtol=0, atol=0)
    assert ours[3].grad is None
    assert np.abs(ours[0].grad.numpy()).max() == pytest.approx(0.5)
