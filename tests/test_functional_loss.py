"""minidl.nn.functional losses: cross_entropy (class indices and class
probabilities, weight, ignore_index, label_smoothing, reductions), nll_loss
and mse_loss against PyTorch, first and second derivatives, stability,
float32 behaviour and bad inputs."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minidl
import minidl.nn.functional as F
from minidl import kernels
from minidl.autograd import gradcheck, gradgradcheck
from conftest import assert_close

REDUCTIONS = ["mean", "sum", "none"]


def _tensor(array, requires_grad=False):
    return minidl.tensor(array, requires_grad=requires_grad)


@st.composite
def class_problems(draw, max_batch=4, max_classes=5, max_extra=3):
    """Logits (N, C, *), integer targets (N, *) with some ignored, options."""
    batch = draw(st.integers(1, max_batch))
    classes = draw(st.integers(2, max_classes))
    extra = tuple(draw(st.lists(st.integers(1, max_extra), max_size=2)))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((batch, classes) + extra) * 2
    target = rng.integers(0, classes, (batch,) + extra)
    ignore_index = draw(st.sampled_from([-100, 1]))
    if draw(st.booleans()):  # ignore some elements
        target.reshape(-1)[rng.random(target.size) < 0.3] = ignore_index
    # Never all of them (a 'mean' of nothing is nan: tested on its own).
    target.reshape(-1)[0] = 0
    weight = rng.random(classes) + 0.2 if draw(st.booleans()) else None
    return dict(logits=logits, target=target, weight=weight,
                ignore_index=ignore_index,
                reduction=draw(st.sampled_from(REDUCTIONS)),
                label_smoothing=draw(st.sampled_from([0.0, 0.1, 0.5])))


def _minidl_cross_entropy(logits, problem):
    weight = problem["weight"]
    return F.cross_entropy(
        logits, _tensor(problem["target"]),
        weight=None if weight is None else _tensor(weight),
        ignore_index=problem["ignore_index"], reduction=problem["reduction"],
        label_smoothing=problem["label_smoothing"])


def _torch_cross_entropy(torch, logits, problem):
    weight = problem["weight"]
    return torch.nn.functional.cross_entropy(
        logits, torch.tensor(problem["target"]),
        weight=None if weight is None else torch.tensor(weight),
        ignore_index=problem["ignore_index"], reduction=problem["reduction"],
        label_smoothing=problem["label_smoothing"])


# -- cross_entropy with class indices ----------------------------------------------

@given(problem=class_problems(max_batch=5, max_classes=6, max_extra=4))
def test_cross_entropy_matches_torch(torch, problem):
    logits = problem["logits"]
    mx = _tensor(logits, True)
    loss = _minidl_cross_entropy(mx, problem)
    tx = torch.tensor(logits, requires_grad=True)
    tloss = _torch_cross_entropy(torch, tx, problem)
    grad = np.random.default_rng(0).standard_normal(tloss.shape)
    loss.backward(_tensor(grad))
    tloss.backward(torch.tensor(grad))
    assert_close(loss, tloss, rtol=1e-10, atol=1e-12, name="loss")
    assert_close(mx.grad, tx.grad, rtol=1e-9, atol=1e-12, name="grad")


@given(problem=class_problems(max_batch=3, max_classes=3, max_extra=2))
def test_cross_entropy_gradcheck_and_gradgradcheck(problem):
    inputs = [_tensor(problem["logits"], True)]

    def function(logits):
        return _minidl_cross_entropy(logits, problem)

    assert gradcheck(function, inputs)
    assert gradgradcheck(function, inputs)


@given(problem=class_problems(max_batch=3, max_classes=4, max_extra=3))
def test_second_derivatives_match_torch(torch, problem):
    """Hessian-vector products through the softmax, against torch."""
    logits = problem["logits"]
    rng = np.random.default_rng(1)
    mx = _tensor(logits, True)
    loss = _minidl_cross_entropy(mx, problem)
    seed = rng.standard_normal(loss.shape)
    direction = rng.standard_normal(logits.shape)
    gx, = minidl.grad([loss], [mx], [_tensor(seed)], create_graph=True)
    (gx * _tensor(direction)).sum().backward()

    tx = torch.tensor(logits, requires_grad=True)
    tloss = _torch_cross_entropy(torch, tx, problem)
    tgx, = torch.autograd.grad([tloss], [tx], [torch.tensor(seed)],
                               create_graph=True)
    (tgx * torch.tensor(direction)).sum().backward()
    assert_close(mx.grad, tx.grad, rtol=1e-8, atol=1e-12, name="H v")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_third_order_gradcheck(reduction):
    """SoftmaxCrossEntropyBackward's own backward (the second derivative)
    is differentiable again, in the logits and in the output gradient."""
    rng = np.random.default_rng(2)
    problem = dict(logits=rng.standard_normal((3, 4, 2)),
                   target=rng.integers(0, 4, (3, 2)), weight=rng.random(4),
                   ignore_index=2, reduction=reduction, label_smoothing=0.2)
    problem["target"][0, 0] = 0
    shape = (3, 2) if reduction == "none" else ()
    inputs = [_tensor(problem["logits"], True),
              _tensor(rng.standard_normal(shape), True)]

    def second(logits, seed):
        loss = _minidl_cross_entropy(logits, problem)
        gx, = minidl.grad([loss], [logits], [seed], create_graph=True)
        ggx, ggs = minidl.grad([(gx * gx).sum()], [logits, seed],
                               create_graph=True)
        return (ggx * ggx).sum() + (ggs * ggs).sum()

    assert gradcheck(second, inputs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cross_entropy_is_stable_for_huge_logits(torch, dtype):
    rng = np.random.default_rng(3)
    logits = (rng.standard_normal((8, 5)) * 1e4).astype(dtype)
    target = rng.integers(0, 5, 8)
    for smoothing in (0.0, 0.1):
        mx = _tensor(logits, True)
        loss = F.cross_entropy(mx, _tensor(target), label_smoothing=smoothing)
        loss.backward()
        tx = torch.tensor(logits, requires_grad=True)
        tloss = torch.nn.functional.cross_entropy(tx, torch.tensor(target),
                                                  label_smoothing=smoothing)
        tloss.backward()
        assert np.isfinite(loss.item()) and np.all(np.isfinite(mx.grad.numpy()))
        rtol = 1e-6 if dtype == "float32" else 1e-12
        assert_close(loss, tloss, rtol=rtol, atol=0, name="loss")
        assert_close(mx.grad, tx.grad, rtol=rtol, atol=1e-7, name="grad")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_float32_logits_with_int64_targets_give_float32(torch, reduction):
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((16, 10)).astype(np.float32)
    target = rng.integers(0, 10, 16)
    weight = rng.random(10).astype(np.float32)
    mx = _tensor(logits, True)
    loss = F.cross_entropy(mx, _tensor(target), weight=_tensor(weight),
                           reduction=reduction, label_smoothing=0.1)
    loss.sum().backward()
    assert loss.dtype == np.float32 and mx.grad.dtype == np.float32
    tx = torch.tensor(logits, requires_grad=True)
    tloss = torch.nn.functional.cross_entropy(
        tx, torch.tensor(target), weight=torch.tensor(weight),
        reduction=reduction, label_smoothing=0.1)
    tloss.sum().backward()
    assert_close(loss, tloss, rtol=1e-5, atol=1e-6, name="loss")
    assert_close(mx.grad, tx.grad, rtol=1e-5, atol=1e-6, name="grad")


def test_unbatched_input_and_all_ignored_targets(torch):
    rng = np.random.default_rng(5)
    logits = rng.standard_normal(4)
    loss = F.cross_entropy(_tensor(logits), _tensor(np.array(2)))
    tloss = torch.nn.functional.cross_entropy(torch.tensor(logits),
                                              torch.tensor(2))
    assert_close(loss, tloss, rtol=1e-12)
    none = F.cross_entropy(_tensor(logits), _tensor(np.array(2)),
                           reduction="none")
    assert none.shape == ()
    # Every target ignored: mean is 0 / 0 = nan with gradient 0, sum is 0,
    # as in PyTorch.
    logits = rng.standard_normal((3, 4))
    target = _tensor(np.full(3, -100))
    for loss_function in (lambda x: F.cross_entropy(x, target),
                          lambda x: F.cross_entropy(x, target,
                                                    label_smoothing=0.2),
                          lambda x: F.nll_loss(x, target)):
        mx = _tensor(logits, True)
        loss = loss_function(mx)
        loss.backward()
        assert np.isnan(loss.item())
        assert np.array_equal(mx.grad.numpy(), np.zeros((3, 4)))
    assert F.cross_entropy(_tensor(logits), target, reduction="sum").item() == 0


def test_softmax_cross_entropy_kernel_is_registered():
    rng = np.random.default_rng(6)
    logits = rng.standard_normal((3, 4, 2))
    target = np.array([[0, 3], [1, -100], [2, 2]])
    kernel = kernels.get("softmax_cross_entropy", np)
    loss, target_weight, probabilities = kernel(logits, target, None, -100, 0.0)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    expected = np.array([[-log_p[0, 0, 0], -log_p[0, 3, 1]],
                         [-log_p[1, 1, 0], 0.0],
                         [-log_p[2, 2, 0], -log_p[2, 2, 1]]])
    assert_close(loss, expected, rtol=1e-12, atol=1e-15)
    assert_close(target_weight, [[1, 1], [1, 0], [1, 1]])
    assert_close(probabilities, np.exp(log_p), rtol=1e-12)


# -- cross_entropy with class probabilities -------------------------------------------

@given(shape=st.tuples(st.integers(1, 3), st.integers(2, 4),
                       st.integers(1, 2)).map(lambda t: t if t[2] > 1
                                              else t[:2]),
       weighted=st.booleans(), reduction=st.sampled_from(REDUCTIONS),
       label_smoothing=st.sampled_from([0.0, 0.3]), seed=st.integers(0, 2**16))
def test_cross_entropy_with_probability_targets(torch, shape, weighted,
                                                reduction, label_smoothing,
                                                seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal(shape)
    raw = rng.random(shape)
    target = raw / raw.sum(axis=1, keepdims=True)
    weight = rng.random(shape[1]) + 0.2 if weighted else None

    def function(logits, target):
        return F.cross_entropy(logits, target,
                               weight=None if weight is None else _tensor(weight),
                               reduction=reduction,
                               label_smoothing=label_smoothing)

    inputs = [_tensor(logits, True), _tensor(target, True)]
    loss = function(*inputs)
    tinputs = [torch.tensor(a, requires_grad=True) for a in (logits, target)]
    tloss = torch.nn.functional.cross_entropy(
        *tinputs, weight=None if weight is None else torch.tensor(weight),
        reduction=reduction, label_smoothing=label_smoothing)
    grad = rng.standard_normal(tloss.shape)
    loss.backward(_tensor(grad))
    tloss.backward(torch.tensor(grad))
    assert_close(loss, tloss, rtol=1e-10, atol=1e-12, name="loss")
    for name, mine, theirs in zip(("logits", "target"), inputs, tinputs):
        assert_close(mine.grad, theirs.grad, rtol=1e-9, atol=1e-12, name=name)
    assert gradcheck(function, inputs)
    assert gradgradcheck(function, inputs)


# -- nll_loss ------------------------------------------------------------------

@given(problem=class_problems(max_batch=3, max_classes=4, max_extra=2))
def test_nll_loss_matches_torch_with_gradcheck(torch, problem):
    log_p = problem["logits"]
    weight = problem["weight"]

    def function(input):
        return F.nll_loss(input, _tensor(problem["target"]),
                          weight=None if weight is None else _tensor(weight),
                          ignore_index=problem["ignore_index"],
                          reduction=problem["reduction"])

    mx = _tensor(log_p, True)
    loss = function(mx)
    tx = torch.tensor(log_p, requires_grad=True)
    tloss = torch.nn.functional.nll_loss(
        tx, torch.tensor(problem["target"]),
        weight=None if weight is None else torch.tensor(weight),
        ignore_index=problem["ignore_index"], reduction=problem["reduction"])
    grad = np.random.default_rng(0).standard_normal(tloss.shape)
    loss.backward(_tensor(grad))
    tloss.backward(torch.tensor(grad))
    assert_close(loss, tloss, rtol=1e-12, atol=1e-14, name="loss")
    assert_close(mx.grad, tx.grad, rtol=1e-12, atol=1e-14, name="grad")
    assert gradcheck(function, [_tensor(log_p, True)])
    assert gradgradcheck(function, [_tensor(log_p, True)])


def test_nll_loss_float32(torch):
    log_p = np.log(np.full((4, 3), 1 / 3, dtype=np.float32))
    loss = F.nll_loss(_tensor(log_p), _tensor(np.array([0, 1, 2, 1])))
    assert loss.dtype == np.float32
    assert_close(loss, np.float32(np.log(3)), rtol=1e-6)


# -- mse_loss ------------------------------------------------------------------

@given(shape=st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple),
       reduction=st.sampled_from(REDUCTIONS), seed=st.integers(0, 2**16))
def test_mse_loss_matches_torch_with_gradcheck(torch, shape, reduction, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)

    def function(input, target):
        return F.mse_loss(input, target, reduction=reduction)

    inputs = [_tensor(a, True), _tensor(b, True)]
    loss = function(*inputs)
    tinputs = [torch.tensor(v, requires_grad=True) for v in (a, b)]
    tloss = torch.nn.functional.mse_loss(*tinputs, reduction=reduction)
    grad = rng.standard_normal(tloss.shape)
    loss.backward(_tensor(grad))
    tloss.backward(torch.tensor(grad))
    assert_close(loss, tloss, rtol=1e-12, atol=1e-14, name="loss")
    for mine, theirs in zip(inputs, tinputs):
        assert_close(mine.grad, theirs.grad, rtol=1e-12, atol=1e-14)
    assert gradcheck(function, inputs)
    assert gradgradcheck(function, inputs)


def test_mse_loss_float32():
    loss = F.mse_loss(minidl.randn(5, 3), minidl.randn(5, 3))
    assert loss.dtype == np.float32


# -- bad inputs ----------------------------------------------------------------------

def test_target_shape_mismatch_names_the_shapes():
    with pytest.raises(ValueError) as info:
        F.cross_entropy(minidl.randn(4, 3), minidl.tensor([[0], [1], [2], [0]]))
    message = str(info.value)
    assert message.startswith("cross_entropy")
    assert "(4, 1)" in message and "(4, 3)" in message and "(4,)" in message
    with pytest.raises(ValueError, match=r"nll_loss: target of shape \(3,\) "
                                         r"does not fit input of shape \(4, 3\)"):
        F.nll_loss(minidl.randn(4, 3), minidl.tensor([0, 1, 2]))


def test_target_dtype_mismatch_is_explained():
    with pytest.raises(ValueError, match=r"cross_entropy: a float target .* "
                                         r"\(4, 3\).*\(4,\)"):
        F.cross_entropy(minidl.randn(4, 3), minidl.randn(4))
    with pytest.raises(ValueError, match=r"nll_loss: class-index target must "
                                         r"have an integer dtype, got float32"):
        F.nll_loss(minidl.randn(4, 3), minidl.randn(4))


def test_target_out_of_range_names_the_value():
    with pytest.raises(ValueError, match=r"cross_entropy: target value 7 is out "
                                         r"of range: classes are 0\.\.2.*"
                                         r"\(3, 3\)"):
        F.cross_entropy(minidl.randn(3, 3), minidl.tensor([0, 7, 1]))
    with pytest.raises(ValueError, match=r"nll_loss: target value -1"):
        F.nll_loss(minidl.randn(3, 3), minidl.tensor([0, -1, 1]))


def test_bad_reduction_weight_and_options():
    for loss in (lambda r: F.cross_entropy(minidl.randn(2, 3),
                                           minidl.tensor([0, 1]), reduction=r),
                 lambda r: F.nll_loss(minidl.randn(2, 3), minidl.tensor([0, 1]),
                                      reduction=r),
                 lambda r: F.mse_loss(minidl.randn(2), minidl.randn(2),
                                      reduction=r)):
        with pytest.raises(ValueError, match=r"reduction must be 'none', 'mean' "
                                             r"or 'sum', got 'avg'"):
            loss("avg")
    with pytest.raises(ValueError, match=r"cross_entropy: weight of shape \(2,\) "
                                         r"does not match the 3 classes"):
        F.cross_entropy(minidl.randn(2, 3), minidl.tensor([0, 1]),
                        weight=minidl.ones(2))
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
        F.cross_entropy(minidl.randn(2, 3), minidl.tensor([0, 1]),
                        label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"ignore_index .* not supported"):
        F.cross_entropy(minidl.randn(2, 3), minidl.randn(2, 3), ignore_index=0)
