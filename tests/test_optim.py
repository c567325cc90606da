"""Optimizers: SGD, Adam, AdamW against torch.optim, state dicts, errors."""
import copy
import itertools

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minidl
from minidl import kernels, optim
from minidl.optim.adam import adam_update
from minidl.optim.sgd import sgd_update
from conftest import assert_close

SHAPES = [(3, 4), (5,)]
STEPS = 20


# -- a small problem, run the same way through minidl and torch ---------------
def make_problem(seed=0, steps=STEPS, dtype=np.float64):
    """Start values, a diagonal quadratic's curvature, and per-step noise.

    The gradient at step t is curvature * x + noise[t] (a noisy quadratic),
    computed with NumPy from each framework's own current parameters.
    """
    rng = np.random.default_rng(seed)
    starts = [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]
    curvature = [rng.uniform(0.5, 2.0, shape).astype(dtype) for shape in SHAPES]
    noise = [[(0.3 * rng.standard_normal(shape)).astype(dtype) for shape in SHAPES]
             for _ in range(steps)]
    return starts, curvature, noise


def gradients(values, curvature, noise):
    return [c * v + n for v, c, n in zip(values, curvature, noise)]


def run_minidl(build, problem, steps=STEPS, params=None, optimizer=None, start=0):
    """Step a minidl optimizer; returns (trajectory, params, optimizer)."""
    starts, curvature, noise = problem
    if params is None:
        params = [minidl.tensor(s, requires_grad=True) for s in starts]
    if optimizer is None:
        optimizer = build(optim, params)
    trajectory = []
    for t in range(start, start + steps):
        grads = gradients([p.numpy() for p in params], curvature, noise[t])
        for p, g in zip(params, grads):
            p.grad = minidl.tensor(g)
        optimizer.step()
        trajectory.append([p.numpy().copy() for p in params])
    return trajectory, params, optimizer


def run_torch(torch, build, problem, steps=STEPS):
    starts, curvature, noise = problem
    params = [torch.tensor(s, requires_grad=True) for s in starts]
    optimizer = build(torch.optim, params)
    trajectory = []
    for t in range(steps):
        grads = gradients([p.detach().numpy() for p in params], curvature, noise[t])
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        optimizer.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory, params, optimizer


def assert_same_trajectory(ours, theirs, rtol=1e-6, atol=1e-12):
    assert len(ours) == len(theirs)
    for step, (mine, reference) in enumerate(zip(ours, theirs)):
        for index, (a, b) in enumerate(zip(mine, reference)):
            assert_close(a, b, rtol=rtol, atol=atol,
                         name="step {} parameter {}".format(step + 1, index))


def builder(name, **kwargs):
    return lambda module, params: getattr(module, name)(params, **kwargs)


def check_against_torch(torch, build, seed=0):
    problem = make_problem(seed)
    ours, _, _ = run_minidl(build, problem)
    theirs, _, _ = run_torch(torch, build, problem)
    # The run must move the parameters, or matching would prove nothing.
    assert not np.allclose(ours[-1][0], problem[0][0])
    assert_same_trajectory(ours, theirs)


# -- SGD -------------------------------------------------------------------------
SGD_CASES = [dict(momentum=m, dampening=d, nesterov=n, weight_decay=w, maximize=x)
             for m, d, n, w, x in itertools.product(
                 (0.0, 0.9), (0.0, 0.3), (False, True), (0.0, 0.1), (False, True))
             if not (n and (m == 0 or d != 0))]


@pytest.mark.parametrize("case", SGD_CASES, ids=lambda c: "-".join(
    "{}={}".format(k, v) for k, v in c.items()))
def test_sgd_matches_torch(torch, case):
    check_against_torch(torch, builder("SGD", lr=0.05, **case))


@given(lr=st.floats(1e-3, 0.3), momentum=st.floats(0.0, 0.99),
       dampening=st.floats(0.0, 0.9), weight_decay=st.floats(0.0, 0.5),
       nesterov=st.booleans(), maximize=st.booleans(), seed=st.integers(0, 100))
def test_sgd_matches_torch_drawn_hyperparameters(torch, lr, momentum, dampening,
                                                 weight_decay, nesterov, maximize,
                                                 seed):
    if nesterov:
        momentum, dampening = max(momentum, 0.1), 0.0
    check_against_torch(torch, builder(
        "SGD", lr=lr, momentum=momentum, dampening=dampening,
        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize), seed)


# -- Adam and AdamW ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("maximize", [False, True])
def test_adam_matches_torch(torch, name, amsgrad, weight_decay, maximize):
    check_against_torch(torch, builder(name, lr=0.05, amsgrad=amsgrad,
                                       weight_decay=weight_decay,
                                       maximize=maximize))


@given(name=st.sampled_from(["Adam", "AdamW"]), lr=st.floats(1e-4, 0.2),
       beta1=st.floats(0.0, 0.99), beta2=st.floats(0.5, 0.9999),
       eps=st.sampled_from([1e-8, 1e-6, 1e-3]), weight_decay=st.floats(0.0, 0.5),
       amsgrad=st.booleans(), seed=st.integers(0, 100))
def test_adam_matches_torch_drawn_hyperparameters(torch, name, lr, beta1, beta2,
                                                  eps, weight_decay, amsgrad, seed):
    check_against_torch(torch, builder(name, lr=lr, betas=(beta1, beta2), eps=eps,
                                       weight_decay=weight_decay, amsgrad=amsgrad),
                        seed)


def test_adamw_decay_is_lr_times_weight_decay():
    """PyTorch's convention: with a zero gradient, p -> p * (1 - lr * wd)."""
    p = minidl.tensor(np.array([2.0, -4.0]), requires_grad=True)
    opt = optim.AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad = minidl.tensor(np.zeros(2))
    opt.step()
    assert_close(p, np.array([2.0, -4.0]) * (1 - 0.1 * 0.5))


# -- parameter groups ---------------------------------------------------------------
@pytest.mark.parametrize("name,extra", [
    ("SGD", dict(momentum=0.9, nesterov=True)),
    ("Adam", dict(amsgrad=True)),
    ("AdamW", dict()),
])
def test_parameter_groups_match_torch(torch, name, extra):
    def build(module, params):
        groups = [{"params": [params[0]], "lr": 0.1, "weight_decay": 0.0},
                  {"params": [params[1]], "weight_decay": 0.2}]
        return getattr(module, name)(groups, lr=0.01, **extra)

    check_against_torch(torch, build)
    _, _, optimizer = run_minidl(build, make_problem(), steps=1)
    first, second = optimizer.param_groups
    assert (first["lr"], first["weight_decay"]) == (0.1, 0.0)
    assert (second["lr"], second["weight_decay"]) == (0.01, 0.2)
    assert set(first) == set(second)  # the defaults were filled in


def test_add_param_group_fills_defaults():
    a = minidl.tensor(np.ones(2), requires_grad=True)
    b = minidl.tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([a], lr=0.1, momentum=0.5)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["params"] == [b]
    assert opt.param_groups[1]["lr"] == 0.01
    assert opt.param_groups[1]["momentum"] == 0.5


def test_named_parameters_are_accepted():
    a = minidl.tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([("layer.weight", a)], lr=0.1)
    assert opt.param_groups[0]["params"][0] is a
    assert opt.param_groups[0]["param_names"] == ["layer.weight"]


def test_parameters_without_grad_are_skipped(torch):
    values = [np.arange(4.0), np.ones(3)]
    ours = [minidl.tensor(v, requires_grad=True) for v in values]
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    opt = optim.Adam(ours, lr=0.1)
    reference = torch.optim.Adam(theirs, lr=0.1)
    for _ in range(3):
        ours[0].grad = minidl.tensor(np.array([1.0, -2.0, 3.0, 0.5]))
        theirs[0].grad = torch.tensor([1.0, -2.0, 3.0, 0.5], dtype=torch.float64)
        opt.step()
        reference.step()
    assert_close(ours[0], theirs[0], rtol=1e-12)
    assert_close(ours[1], values[1], rtol=0, atol=0)
    assert ours[1] not in opt.state
    assert sorted(opt.state_dict()["state"]) == sorted(reference.state_dict()["state"])


# -- dtypes, versions, gradients, closures -------------------------------------------
@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.1,
                 maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.05, amsgrad=True, maximize=True)),
])
def test_float32_stays_float32(torch, name, kwargs):
    build = builder(name, **kwargs)
    problem = make_problem(dtype=np.float32, steps=10)
    ours, params, optimizer = run_minidl(build, problem, steps=10)
    theirs, _, _ = run_torch(torch, build, problem, steps=10)
    for p in params:
        assert p.dtype == np.float32
    for entries in optimizer.state.values():
        for value in entries.values():
            if hasattr(value, "dtype"):
                assert value.dtype == np.float32
    assert_same_trajectory(ours, theirs, rtol=1e-5, atol=1e-6)


def test_step_bumps_version_and_leaves_grad_alone():
    p = minidl.tensor(np.ones(3), requires_grad=True)
    grad = np.array([1.0, 2.0, 3.0])
    p.grad = minidl.tensor(grad)
    before = p._version
    optim.SGD([p], lr=0.1, weight_decay=0.1, maximize=True, momentum=0.9).step()
    assert p._version == before + 1
    assert_close(p.grad, grad, rtol=0, atol=0)


def test_stale_saved_parameter_is_detected_in_backward():
    """A function that saved a parameter sees the optimizer's update."""
    p = minidl.tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (p * p).sum()
    p.grad = minidl.tensor(np.ones(2))
    optim.SGD([p], lr=0.1).step()
    with pytest.raises(RuntimeError):
        loss.backward()


def test_zero_grad():
    p = minidl.tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = minidl.tensor(np.ones(3))
    array = p.grad.data
    opt.zero_grad(set_to_none=False)
    assert p.grad.data is array and not array.any()
    opt.zero_grad()
    assert p.grad is None


def test_step_with_closure():
    p = minidl.tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == pytest.approx(5.0)
    assert_close(p, np.array([0.5, -1.0]))  # p - 0.25 * 2p


def test_update_kernels_are_in_the_registry():
    assert kernels.get("sgd_update", np) is sgd_update
    assert kernels.get("adam_update", np) is adam_update


# -- state dicts -------------------------------------------------------------------
ROUND_TRIP_CASES = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.05)),
]


def save_and_load(state, tmp_path):
    """Through minidl.save/minidl.load when they exist, else a deep copy."""
    if hasattr(minidl, "save") and hasattr(minidl, "load"):
        path = str(tmp_path / "optimizer.npz")
        minidl.save(state, path)
        return minidl.load(path)
    return copy.deepcopy(state)


def assert_plain(value, where="state_dict"):
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, (int, str)), where
            assert_plain(item, "{}[{!r}]".format(where, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            assert_plain(item, "{}[{}]".format(where, index))
    else:
        assert isinstance(value, (bool, int, float, str, np.ndarray)), \
            "{} is a {}".format(where, type(value).__name__)
        assert not isinstance(value, np.generic), where


@pytest.mark.parametrize("name,kwargs", ROUND_TRIP_CASES)
def test_state_dict_round_trip_resumes_exactly(name, kwargs, tmp_path):
    build = builder(name, **kwargs)
    problem = make_problem()
    straight, _, _ = run_minidl(build, problem, steps=20)

    first, params, optimizer = run_minidl(build, problem, steps=10)
    state = optimizer.state_dict()
    assert_plain(state)
    state = save_and_load(state, tmp_path)
    fresh_params = [minidl.tensor(p.numpy(), requires_grad=True) for p in params]
    fresh = build(optim, fresh_params)
    fresh.load_state_dict(state)
    second, _, _ = run_minidl(build, problem, steps=10, params=fresh_params,
                              optimizer=fresh, start=10)
    for a, b in zip(first + second, straight):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
])
def test_state_dict_layout_matches_torch(torch, name, kwargs):
    build = builder(name, **kwargs)
    problem = make_problem(steps=3)
    _, _, ours = run_minidl(build, problem, steps=3)
    _, _, theirs = run_torch(torch, build, problem, steps=3)
    mine, reference = ours.state_dict(), theirs.state_dict()
    assert sorted(mine["state"]) == sorted(reference["state"])
    assert [g["params"] for g in mine["param_groups"]] == \
        [g["params"] for g in reference["param_groups"]]
    for index, entries in reference["state"].items():
        assert set(mine["state"][index]) == set(entries)
        for key, value in entries.items():
            if key == "step":
                assert mine["state"][index][key] == int(value.item())
            else:
                assert_close(mine["state"][index][key], value, rtol=1e-6, atol=1e-12,
                             name=key)
    for group, torch_group in zip(mine["param_groups"], reference["param_groups"]):
        for key, value in group.items():
            expected = torch_group[key]
            assert value == (list(expected) if isinstance(expected, tuple)
                             else expected), key


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
])
def test_loads_a_torch_optimizer_state(torch, name, kwargs):
    """A torch optimizer's state dict, its tensors made NumPy arrays, loads
    into the minidl optimizer, which then continues as torch does."""
    build = builder(name, **kwargs)
    problem = make_problem(steps=10)
    starts, curvature, noise = problem
    theirs = [torch.tensor(s, requires_grad=True) for s in starts]
    reference = build(torch.optim, theirs)
    trajectory = []
    for t in range(10):
        grads = gradients([p.detach().numpy() for p in theirs], curvature, noise[t])
        for p, g in zip(theirs, grads):
            p.grad = torch.tensor(g)
        reference.step()
        if t == 4:
            saved = reference.state_dict()
            state = {"state": {i: {k: v.detach().numpy().copy()
                                   for k, v in entries.items()}
                               for i, entries in saved["state"].items()},
                     "param_groups": copy.deepcopy(saved["param_groups"])}
            values = [p.detach().numpy().copy() for p in theirs]
        if t >= 5:
            trajectory.append([p.detach().numpy().copy() for p in theirs])
    ours = [minidl.tensor(v, requires_grad=True) for v in values]
    optimizer = build(optim, ours)
    optimizer.load_state_dict(state)
    mine, _, _ = run_minidl(build, problem, steps=5, params=ours,
                            optimizer=optimizer, start=5)
    assert_same_trajectory(mine, trajectory)


def test_state_dict_is_a_snapshot():
    build = builder("SGD", lr=0.05, momentum=0.9)
    problem = make_problem(steps=4)
    _, params, optimizer = run_minidl(build, problem, steps=2)
    state = optimizer.state_dict()
    saved = state["state"][0]["momentum_buffer"].copy()
    run_minidl(build, problem, steps=2, params=params, optimizer=optimizer, start=2)
    np.testing.assert_array_equal(state["state"][0]["momentum_buffer"], saved)


def test_load_state_dict_accepts_npz_style_values():
    """After an .npz round trip numbers may come back as 0-d arrays and
    indices as strings; loading still works and restores Python types."""
    build = builder("Adam", lr=0.05, betas=(0.8, 0.9))
    problem = make_problem(steps=2)
    _, params, optimizer = run_minidl(build, problem, steps=2)
    state = optimizer.state_dict()
    squashed = {
        "state": {str(i): {k: np.asarray(v) for k, v in entries.items()}
                  for i, entries in state["state"].items()},
        "param_groups": [{k: np.asarray(v) for k, v in g.items()}
                         for g in state["param_groups"]],
    }
    fresh = build(optim, [minidl.tensor(p.numpy(), requires_grad=True)
                          for p in params])
    fresh.load_state_dict(squashed)
    group = fresh.param_groups[0]
    assert group["betas"] == (0.8, 0.9) and isinstance(group["lr"], float)
    assert fresh.state[fresh.param_groups[0]["params"][0]]["step"] == 2
    assert isinstance(fresh.state[fresh.param_groups[0]["params"][0]]["step"], int)


def test_load_state_dict_takes_saved_hyperparameters():
    a = minidl.tensor(np.ones(2), requires_grad=True)
    saved = optim.SGD([a], lr=0.5, momentum=0.3).state_dict()
    b = minidl.tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([b], lr=0.1)
    opt.load_state_dict(saved)
    assert opt.param_groups[0]["lr"] == 0.5
    assert opt.param_groups[0]["momentum"] == 0.3
    assert opt.param_groups[0]["params"][0] is b


def test_load_state_dict_mismatch_errors():
    a = minidl.tensor(np.ones(2), requires_grad=True)
    b = minidl.tensor(np.ones(3), requires_grad=True)
    two_groups = optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="2 parameter groups.*has 1"):
        optim.SGD([a, b], lr=0.1).load_state_dict(two_groups)
    one_group = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="group 0 has 2 parameters.*1 in"):
        optim.SGD([a], lr=0.1).load_state_dict(one_group)
    with pytest.raises(KeyError, match="param_groups"):
        optim.SGD([a], lr=0.1).load_state_dict({"state": {}})
    wrong_shape = {"state": {0: {"momentum_buffer": np.zeros(5)}},
                   "param_groups": optim.SGD([a], lr=0.1).state_dict()["param_groups"]}
    with pytest.raises(ValueError, match=r"momentum_buffer.*\(5,\).*\(2,\)"):
        optim.SGD([a], lr=0.1, momentum=0.9).load_state_dict(wrong_shape)


# -- bad input ---------------------------------------------------------------------
def _leaf(n=2):
    return minidl.tensor(np.ones(n), requires_grad=True)


@pytest.mark.parametrize("make,error,message", [
    (lambda: optim.SGD([_leaf()], lr=-0.1), ValueError, "SGD: invalid lr -0.1"),
    (lambda: optim.SGD([_leaf()], lr=0.1, momentum=-1), ValueError, "momentum"),
    (lambda: optim.SGD([_leaf()], lr=0.1, weight_decay=-1), ValueError,
     "weight_decay"),
    (lambda: optim.SGD([_leaf()], lr=0.1, nesterov=True), ValueError,
     "Nesterov momentum requires momentum > 0"),
    (lambda: optim.SGD([_leaf()], lr=0.1, momentum=0.9, dampening=0.1,
                       nesterov=True), ValueError, "dampening = 0"),
    (lambda: optim.SGD([{"params": [_leaf()], "lr": -1.0}], lr=0.1), ValueError,
     "invalid lr -1.0"),
    (lambda: optim.Adam([_leaf()], lr=-1e-3), ValueError, "Adam: invalid lr"),
    (lambda: optim.Adam([_leaf()], betas=(1.0, 0.999)), ValueError,
     "beta parameter at index 0: 1.0"),
    (lambda: optim.AdamW([_leaf()], betas=(0.9, -0.1)), ValueError,
     "AdamW: invalid beta parameter at index 1"),
    (lambda: optim.Adam([_leaf()], betas=(0.9,)), ValueError, "pair"),
    (lambda: optim.Adam([_leaf()], eps=-1e-8), ValueError, "eps"),
    (lambda: optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
    (lambda: optim.SGD(_leaf(), lr=0.1), TypeError, "single Tensor of shape"),
    (lambda: optim.SGD({_leaf()}, lr=0.1), TypeError, "not a set"),
    (lambda: optim.SGD([np.ones(2)], lr=0.1), TypeError, "ndarray"),
    (lambda: optim.SGD([_leaf()], lr=0.1, momentun=0.9), TypeError, "momentun"),
])
def test_bad_input_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_non_leaf_tensor_is_rejected():
    leaf = _leaf(3)
    derived = leaf * 2
    with pytest.raises(ValueError, match=r"SGD: can't optimize a non-leaf Tensor.*\(3,\)"):
        optim.SGD([derived], lr=0.1)


def test_parameter_given_twice_is_rejected():
    p, q = _leaf(3), _leaf(2)
    with pytest.raises(ValueError, match=r"shape \(3,\) appears twice"):
        optim.SGD([p, q, p], lr=0.1)
    with pytest.raises(ValueError, match=r"more than one parameter group"):
        optim.Adam([{"params": [p]}, {"params": [q, p]}])
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match=r"already in group 0"):
        opt.add_param_group({"params": [p]})
    assert len(opt.param_groups) == 1


def test_gradient_of_wrong_shape_is_reported():
    p = _leaf(3)
    p.grad = minidl.tensor(np.ones(4))
    with pytest.raises(RuntimeError, match=r"SGD.step.*shape \(3,\).*\(4,\)"):
        optim.SGD([p], lr=0.1).step()


def test_plain_data_helpers_survive_an_npz_round_trip(tmp_path):
    """serialization.to_plain / from_plain: what optimizer and scheduler state
    dicts are made of. Tuples become lists (copies); NumPy scalars and arrays
    that a file gives back become Python numbers and lists again."""
    from minidl.serialization import from_plain, to_plain
    group = {"betas": (0.9, 0.999), "nested": [(1, 2)], "name": "adam",
             "lr": 0.1, "none": None}
    plain = to_plain(group)
    assert plain == {"betas": [0.9, 0.999], "nested": [[1, 2]], "name": "adam",
                     "lr": 0.1, "none": None}
    plain["nested"][0].append(3)
    assert group["nested"] == [(1, 2)]  # a copy
    path = str(tmp_path / "plain.npz")
    minidl.save({"state": plain, "array": np.arange(3), "scalar": np.float64(2.5)},
                path)
    back = from_plain(minidl.load(path))
    assert back["state"] == plain and type(back["state"]["lr"]) is float
    assert back["array"] == [0, 1, 2] and back["scalar"] == 2.5
    assert type(back["scalar"]) is float
