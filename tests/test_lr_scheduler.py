"""Learning-rate schedulers: sequences equal to torch's, state dicts, errors."""
import copy
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minidl
from minidl import optim
from minidl.optim import lr_scheduler
from conftest import load_torch

GROUP_LRS = [0.1, 0.02]


def make_optimizer(module, name="SGD"):
    """Two parameter groups with their own lr, from minidl.optim or torch.optim."""
    if module is optim:
        params = [minidl.tensor(np.ones(2), requires_grad=True) for _ in GROUP_LRS]
    else:
        torch = load_torch()
        params = [torch.ones(2, dtype=torch.float64, requires_grad=True)
                  for _ in GROUP_LRS]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, GROUP_LRS)]
    if name == "SGD":
        return module.SGD(groups, lr=0.5, momentum=0.9)
    return getattr(module, name)(groups, lr=0.5)


def momentum_of(group):
    if "betas" in group:
        return group["betas"][0]
    return group.get("momentum")


def record(optimizer, scheduler):
    """What to compare after each step: last lrs, group lrs, momenta."""
    return (list(scheduler.get_last_lr()),
            [group["lr"] for group in optimizer.param_groups],
            [momentum_of(group) for group in optimizer.param_groups])


def run(module, build, steps, metrics=None, optimizer_name="SGD",
        optimizer=None, scheduler=None):
    """Build (unless given) and step a scheduler; the records of each step."""
    if optimizer is None:
        optimizer = make_optimizer(module, optimizer_name)
        scheduler = build(module.lr_scheduler, optimizer)
    records = [record(optimizer, scheduler)]
    for t in range(steps):
        optimizer.step()  # no gradients: nothing moves, but torch wants it
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[t])
        records.append(record(optimizer, scheduler))
    return records, optimizer, scheduler


def assert_same_records(ours, theirs):
    assert len(ours) == len(theirs)
    for step, (mine, reference) in enumerate(zip(ours, theirs)):
        for what, a, b in zip(("get_last_lr", "group lr", "momentum"),
                              mine, reference):
            a = [float(v) if v is not None else np.nan for v in a]
            b = [float(v) if v is not None else np.nan for v in b]
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15,
                                       equal_nan=True,
                                       err_msg="{} after step {}".format(what, step))


def check_against_torch(torch, build, steps, metrics=None, optimizer_name="SGD"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, _, _ = run(torch.optim, build, steps, metrics, optimizer_name)
    ours, _, _ = run(optim, build, steps, metrics, optimizer_name)
    assert_same_records(ours, theirs)
    # The schedule must change the lr, or matching would prove nothing.
    assert len({tuple(r[0]) for r in ours}) > 1
    return ours


CASES = {
    "step": (lambda s, o: s.StepLR(o, step_size=3, gamma=0.5), 20, "SGD"),
    "multistep": (lambda s, o: s.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
                  15, "SGD"),
    "linear-warmup": (lambda s, o: s.LinearLR(o, start_factor=0.1, total_iters=4),
                      10, "SGD"),
    "linear-decay": (lambda s, o: s.LinearLR(o, start_factor=1.0, end_factor=0.2,
                                             total_iters=6), 10, "Adam"),
    "cosine": (lambda s, o: s.CosineAnnealingLR(o, T_max=7, eta_min=1e-3), 30, "SGD"),
    "cosine-to-zero": (lambda s, o: s.CosineAnnealingLR(o, T_max=10), 10, "AdamW"),
    "onecycle-sgd": (lambda s, o: s.OneCycleLR(o, max_lr=[0.5, 0.1], total_steps=25),
                     24, "SGD"),
    "onecycle-linear-three-phase": (
        lambda s, o: s.OneCycleLR(o, max_lr=0.3, epochs=3, steps_per_epoch=7,
                                  anneal_strategy="linear", three_phase=True),
        20, "SGD"),
    "onecycle-adam-beta1": (
        lambda s, o: s.OneCycleLR(o, max_lr=0.01, total_steps=30, pct_start=0.25,
                                  base_momentum=0.8, max_momentum=0.9,
                                  div_factor=10.0, final_div_factor=100.0),
        29, "Adam"),
    "onecycle-no-momentum": (
        lambda s, o: s.OneCycleLR(o, max_lr=0.01, total_steps=12,
                                  cycle_momentum=False), 11, "AdamW"),
    "sequential-warmup-cosine": (
        lambda s, o: s.SequentialLR(o, [s.LinearLR(o, start_factor=0.1, total_iters=3),
                                        s.CosineAnnealingLR(o, T_max=12, eta_min=1e-4)],
                                    milestones=[3]), 20, "SGD"),
    "exponential": (lambda s, o: s.ExponentialLR(o, gamma=0.8), 12, "SGD"),
    "lambda": (lambda s, o: s.LambdaLR(o, lambda t: 1 / (1 + t)), 10, "Adam"),
    "lambda-per-group": (
        lambda s, o: s.LambdaLR(o, [lambda t: 0.9 ** t, lambda t: min(1, (t + 1) / 4)]),
        10, "SGD"),
    "sequential-warmup-exponential": (
        lambda s, o: s.SequentialLR(o, [s.LambdaLR(o, lambda t: (t + 1) / 3),
                                        s.ExponentialLR(o, gamma=0.7)],
                                    milestones=[2]), 10, "SGD"),
    "sequential-three": (
        lambda s, o: s.SequentialLR(o, [s.LinearLR(o, start_factor=0.5, total_iters=2),
                                        s.StepLR(o, step_size=2, gamma=0.5),
                                        s.CosineAnnealingLR(o, T_max=5)],
                                    milestones=[3, 8]), 16, "SGD"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_schedule_matches_torch(torch, case):
    build, steps, optimizer_name = CASES[case]
    check_against_torch(torch, build, steps, optimizer_name=optimizer_name)


@given(step_size=st.integers(1, 6), gamma=st.floats(0.1, 0.99))
def test_step_lr_drawn(torch, step_size, gamma):
    check_against_torch(
        torch, lambda s, o: s.StepLR(o, step_size=step_size, gamma=gamma), 15)


@given(T_max=st.integers(1, 12), eta_min=st.sampled_from([0.0, 1e-4, 0.01]),
       steps=st.integers(2, 40))
def test_cosine_drawn(torch, T_max, eta_min, steps):
    check_against_torch(
        torch, lambda s, o: s.CosineAnnealingLR(o, T_max=T_max, eta_min=eta_min),
        steps)


@given(total_steps=st.integers(10, 60), pct_start=st.floats(0.15, 0.45),
       anneal_strategy=st.sampled_from(["cos", "linear"]),
       three_phase=st.booleans(), optimizer_name=st.sampled_from(["SGD", "Adam"]))
def test_onecycle_drawn(torch, total_steps, pct_start, anneal_strategy,
                        three_phase, optimizer_name):
    def build(s, o):
        return s.OneCycleLR(o, max_lr=[0.2, 0.05], total_steps=total_steps,
                            pct_start=pct_start, anneal_strategy=anneal_strategy,
                            three_phase=three_phase)
    check_against_torch(torch, build, total_steps - 1, optimizer_name=optimizer_name)


@given(warmup=st.integers(1, 5), T_max=st.integers(1, 15),
       start_factor=st.floats(0.01, 1.0))
def test_sequential_warmup_cosine_drawn(torch, warmup, T_max, start_factor):
    def build(s, o):
        return s.SequentialLR(
            o, [s.LinearLR(o, start_factor=start_factor, total_iters=warmup),
                s.CosineAnnealingLR(o, T_max=T_max)], milestones=[warmup])
    records = check_against_torch(torch, build, warmup + T_max)
    assert records[warmup][0] == GROUP_LRS  # the hand-over restarts at base lr


METRICS = [1.0, 0.9, 0.9, 0.91, 0.9, 0.95, 0.8, 0.8, 0.81, 0.85, 0.9, 0.7, 0.7,
           0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(patience=1),
    dict(mode="min", patience=2, cooldown=1, factor=0.5),
    dict(mode="max", threshold_mode="abs", threshold=0.05, patience=0,
         min_lr=[0.05, 0.001]),
    dict(patience=0, factor=0.1, min_lr=0.01),
    dict(patience=0, factor=0.9, eps=0.005),
], ids=str)
def test_reduce_on_plateau_matches_torch(torch, kwargs):
    build = lambda s, o: s.ReduceLROnPlateau(o, **kwargs)  # noqa: E731
    metrics = METRICS if kwargs else METRICS * 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, _, torch_scheduler = run(torch.optim, build, len(metrics), metrics)
    ours, _, scheduler = run(optim, build, len(metrics), metrics)
    assert_same_records(ours, theirs)
    assert len({tuple(r[0]) for r in ours}) > 1
    assert scheduler.num_bad_epochs == torch_scheduler.num_bad_epochs
    assert scheduler.best == torch_scheduler.best


@given(metrics=st.lists(st.floats(0.0, 1.0), min_size=5, max_size=30),
       patience=st.integers(0, 3), cooldown=st.integers(0, 2),
       mode=st.sampled_from(["min", "max"]),
       threshold_mode=st.sampled_from(["rel", "abs"]))
def test_reduce_on_plateau_drawn(torch, metrics, patience, cooldown, mode,
                                 threshold_mode):
    build = lambda s, o: s.ReduceLROnPlateau(  # noqa: E731
        o, mode=mode, patience=patience, cooldown=cooldown,
        threshold_mode=threshold_mode, factor=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, _, _ = run(torch.optim, build, len(metrics), metrics)
    ours, _, _ = run(optim, build, len(metrics), metrics)
    assert_same_records(ours, theirs)


def test_reduce_on_plateau_takes_a_tensor_metric():
    optimizer = make_optimizer(optim)
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, patience=0)
    scheduler.step(minidl.tensor(1.0))
    scheduler.step(minidl.tensor(2.0))
    assert scheduler.get_last_lr() == pytest.approx([0.01, 0.002])


def test_initial_lr_and_base_lrs_as_torch(torch):
    build = CASES["cosine"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, torch_optimizer, torch_scheduler = run(torch.optim, build, 3)
    _, optimizer, scheduler = run(optim, build, 3)
    assert scheduler.base_lrs == torch_scheduler.base_lrs == GROUP_LRS
    assert scheduler.last_epoch == torch_scheduler.last_epoch == 3
    for group, torch_group in zip(optimizer.param_groups, torch_optimizer.param_groups):
        assert group["initial_lr"] == torch_group["initial_lr"]


# -- state dicts -------------------------------------------------------------------
def save_and_load(state, tmp_path, name):
    """Through minidl.save/minidl.load when they exist, else a deep copy."""
    if hasattr(minidl, "save") and hasattr(minidl, "load"):
        path = str(tmp_path / (name + ".npz"))
        minidl.save(state, path)
        return minidl.load(path)
    return copy.deepcopy(state)


ROUND_TRIP_CASES = sorted(CASES) + ["plateau"]


@pytest.mark.parametrize("case", ROUND_TRIP_CASES)
def test_state_dict_round_trip_resumes_exactly(case, tmp_path):
    if case == "plateau":
        build = lambda s, o: s.ReduceLROnPlateau(o, patience=1, cooldown=1)  # noqa
        steps, optimizer_name, metrics = len(METRICS), "SGD", METRICS
    else:
        (build, steps, optimizer_name), metrics = CASES[case], None
    straight, _, _ = run(optim, build, steps, metrics, optimizer_name)

    half = steps // 2
    first, optimizer, scheduler = run(optim, build, half, metrics, optimizer_name)
    optimizer_state = save_and_load(optimizer.state_dict(), tmp_path, "optimizer")
    scheduler_state = save_and_load(scheduler.state_dict(), tmp_path, "scheduler")

    fresh_optimizer = make_optimizer(optim, optimizer_name)
    fresh_scheduler = build(lr_scheduler, fresh_optimizer)
    fresh_optimizer.load_state_dict(optimizer_state)
    fresh_scheduler.load_state_dict(scheduler_state)
    second, _, _ = run(optim, build, steps - half,
                       None if metrics is None else metrics[half:],
                       optimizer=fresh_optimizer, scheduler=fresh_scheduler)
    assert first + second[1:] == straight


def test_scheduler_state_dict_is_plain_and_has_no_optimizer():
    optimizer = make_optimizer(optim)
    scheduler = CASES["sequential-warmup-cosine"][0](lr_scheduler, optimizer)
    state = scheduler.state_dict()
    assert "optimizer" not in state
    assert all("optimizer" not in inner for inner in state["_schedulers"])

    def check(value):
        if isinstance(value, dict):
            for item in value.values():
                check(item)
        elif isinstance(value, list):
            for item in value:
                check(item)
        else:
            assert value is None or isinstance(value, (bool, int, float, str)), \
                type(value)
    check(state)
    check(lr_scheduler.ReduceLROnPlateau(make_optimizer(optim),
                                         min_lr=[0.0, 0.1]).state_dict())
    check(lr_scheduler.MultiStepLR(make_optimizer(optim), [1, 1, 3]).state_dict())


# -- bad input ---------------------------------------------------------------------
class _NoMomentum(optim.Optimizer):
    def __init__(self, params, lr=0.1):
        super().__init__(params, dict(lr=lr))


def _sgd():
    return make_optimizer(optim)


@pytest.mark.parametrize("make,error,message", [
    (lambda: lr_scheduler.StepLR(_sgd(), step_size=3, gama=0.5), TypeError,
     "StepLR.*gama"),
    (lambda: lr_scheduler.CosineAnnealingLR(_sgd(), T_max=5, eta_max=0.1), TypeError,
     "CosineAnnealingLR.*eta_max"),
    (lambda: lr_scheduler.StepLR("not an optimizer", step_size=3), TypeError,
     "StepLR: expected an Optimizer, got str"),
    (lambda: lr_scheduler.StepLR(_sgd(), step_size=0), ValueError,
     "step_size must be a positive int"),
    (lambda: lr_scheduler.MultiStepLR(_sgd(), milestones=[5, 2]), ValueError,
     "increasing"),
    (lambda: lr_scheduler.LinearLR(_sgd(), start_factor=0.0), ValueError,
     r"start_factor must be in \(0, 1\]"),
    (lambda: lr_scheduler.LinearLR(_sgd(), end_factor=1.5), ValueError,
     "end_factor"),
    (lambda: lr_scheduler.CosineAnnealingLR(_sgd(), T_max=0), ValueError, "T_max"),
    (lambda: lr_scheduler.OneCycleLR(_sgd(), max_lr=0.1), ValueError,
     "give total_steps, or both epochs and steps_per_epoch"),
    (lambda: lr_scheduler.OneCycleLR(_sgd(), max_lr=0.1, total_steps=10,
                                     anneal_strategy="cosine"), ValueError,
     "anneal_strategy must be 'cos' or 'linear', got 'cosine'"),
    (lambda: lr_scheduler.OneCycleLR(_sgd(), max_lr=[0.1], total_steps=10),
     ValueError, "max_lr has 1 values, but the optimizer has 2 parameter groups"),
    (lambda: lr_scheduler.OneCycleLR(_sgd(), max_lr=0.1, total_steps=10,
                                     pct_start=1.5), ValueError, "pct_start"),
    (lambda: lr_scheduler.OneCycleLR(
        _NoMomentum([minidl.tensor(np.ones(2), requires_grad=True)]),
        max_lr=0.1, total_steps=10), ValueError, "cycle_momentum=False"),
    (lambda: lr_scheduler.ReduceLROnPlateau(_sgd(), mode="median"), ValueError,
     "mode must be 'min' or 'max', got 'median'"),
    (lambda: lr_scheduler.ReduceLROnPlateau(_sgd(), threshold_mode="relative"),
     ValueError, "threshold_mode"),
    (lambda: lr_scheduler.ReduceLROnPlateau(_sgd(), factor=1.0), ValueError,
     "factor must be < 1.0"),
    (lambda: lr_scheduler.ReduceLROnPlateau(_sgd(), min_lr=[0.1]), ValueError,
     "min_lr has 1 values"),
    (lambda: lr_scheduler.StepLR(_sgd(), step_size=2, last_epoch=3), KeyError,
     "initial_lr"),
])
def test_bad_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_sequential_lr_bad_arguments():
    optimizer, other = _sgd(), _sgd()
    warmup = lr_scheduler.LinearLR(optimizer)
    cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=3)
    with pytest.raises(ValueError, match="one milestone fewer than schedulers, got 2 "
                                         "schedulers and 2 milestones"):
        lr_scheduler.SequentialLR(optimizer, [warmup, cosine], milestones=[2, 4])
    with pytest.raises(ValueError, match="scheduler 1 .*another optimizer"):
        lr_scheduler.SequentialLR(
            optimizer, [warmup, lr_scheduler.StepLR(other, 2)], milestones=[2])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        lr_scheduler.SequentialLR(
            optimizer, [warmup, lr_scheduler.ReduceLROnPlateau(optimizer)],
            milestones=[2])


def test_onecycle_stepping_past_the_end():
    scheduler = lr_scheduler.OneCycleLR(_sgd(), max_lr=0.1, total_steps=4)
    for _ in range(4):
        scheduler.step()
    with pytest.raises(ValueError, match="tried to step 5 times, but total_steps is 4"):
        scheduler.step()


@pytest.mark.parametrize("name,kwargs", [
    ("CosineAnnealingLR", dict(T_max=10, eta_min=1e-3)),
    ("LinearLR", dict(start_factor=0.2, total_iters=8)),
    ("StepLR", dict(step_size=3)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=20)),
])
def test_resuming_with_last_epoch_matches_torch(torch, name, kwargs):
    """A scheduler built with last_epoch=4 over an optimizer that holds
    initial_lr (the old way to resume) goes on at steps 5, 6, ... with the
    lrs of an uninterrupted torch run. Torch's own StepLR and OneCycleLR
    resume so too. Its chainable LinearLR and CosineAnnealingLR do not: they
    keep step 4's lr for step 5 and scale it from there, off the schedule
    for good (LinearLR never reaches end_factor), so there the reference is
    torch's uninterrupted run only."""
    def resumed(module):
        optimizer = make_optimizer(module)
        schedulers = module.lr_scheduler
        first = getattr(schedulers, name)(optimizer, **kwargs)
        for _ in range(4):
            optimizer.step()
            first.step()
        resumed = getattr(schedulers, name)(optimizer, last_epoch=4, **kwargs)
        records, _, _ = run(module, None, 8, optimizer=optimizer, scheduler=resumed)
        return records

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        straight, _, _ = run(torch.optim,
                             lambda s, o: getattr(s, name)(o, **kwargs), 13)
        theirs = resumed(torch.optim)
    ours = resumed(optim)
    assert_same_records(ours, straight[5:])
    if name in ("StepLR", "OneCycleLR"):
        assert_same_records(ours, theirs)


# -- what the closed forms add --------------------------------------------------
def test_nested_sequential_is_the_flat_one(torch, tmp_path):
    """Torch cannot hand over to a SequentialLR inside a SequentialLR
    (NotImplementedError); here it is the same as the flat sequence, which
    matches torch's, and it saves and resumes like the others."""
    def nested(s, o):
        inner = s.SequentialLR(o, [s.StepLR(o, step_size=2, gamma=0.5),
                                   s.CosineAnnealingLR(o, T_max=6, eta_min=1e-3)],
                               milestones=[4])
        return s.SequentialLR(o, [s.LinearLR(o, start_factor=0.25, total_iters=3),
                                  inner], milestones=[3])

    def flat(s, o):
        return s.SequentialLR(o, [s.LinearLR(o, start_factor=0.25, total_iters=3),
                                  s.StepLR(o, step_size=2, gamma=0.5),
                                  s.CosineAnnealingLR(o, T_max=6, eta_min=1e-3)],
                              milestones=[3, 7])
    expected = check_against_torch(torch, flat, 20)
    straight, _, _ = run(optim, nested, 20)
    assert_same_records(straight, expected)
    first, optimizer, scheduler = run(optim, nested, 9)
    state = save_and_load(scheduler.state_dict(), tmp_path, "nested")
    fresh_optimizer = make_optimizer(optim)
    fresh = nested(lr_scheduler, fresh_optimizer)
    fresh_optimizer.load_state_dict(optimizer.state_dict())
    fresh.load_state_dict(state)
    second, _, _ = run(optim, None, 11, optimizer=fresh_optimizer, scheduler=fresh)
    assert first + second[1:] == straight


@pytest.mark.parametrize("start_factor", [0.5, 1.0])
def test_linear_with_no_iterations_matches_torch(torch, start_factor):
    build = lambda s, o: s.LinearLR(o, start_factor=start_factor,  # noqa: E731
                                    total_iters=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, _, _ = run(torch.optim, build, 5)
    ours, _, _ = run(optim, build, 5)
    assert_same_records(ours, theirs)


@pytest.mark.parametrize("case", [case for case in sorted(CASES)
                                  if not case.startswith(("sequential", "lambda"))])
def test_every_step_is_base_lr_times_the_factor(case):
    """The closed form: get_last_lr after step t is base_lr * factor(t)
    (cosine: eta_min + (base_lr - eta_min) * factor(t))."""
    build, steps, optimizer_name = CASES[case]
    optimizer = make_optimizer(optim, optimizer_name)
    scheduler = build(lr_scheduler, optimizer)
    floor = getattr(scheduler, "eta_min", 0.0)
    for t in range(steps):
        expected = [floor + (base - floor) * scheduler.factor(t)
                    for base in scheduler.base_lrs]
        np.testing.assert_allclose(scheduler.get_last_lr(), expected, rtol=1e-15)
        optimizer.step()
        scheduler.step()


def test_a_second_scheduler_on_the_same_optimizer_is_refused():
    """Torch would chain the two; here the second step would silently undo
    the first scheduler's lr, so it raises instead."""
    optimizer = make_optimizer(optim)
    step = lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    step.step()
    cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)
    with pytest.raises(RuntimeError, match=r"StepLR.step: .*Something else "
                                           r"changed them.*SequentialLR"):
        step.step()
    cosine.step()  # the latest one built owns the lr
    optimizer.param_groups[0]["lr"] = 1.0
    with pytest.raises(RuntimeError, match="CosineAnnealingLR.step: the "
                                           "optimizer's learning rates are"):
        cosine.step()


# What the minidl before the closed forms saved, after 5 steps of a warm-up
# and cosine built as `minidl finetune` builds them (training/schedule.py).
OLD_SEQUENTIAL_STATE = {
    "_milestones": [3], "last_epoch": 5,
    "_last_lr": [0.08830222215594889, 0.01766044443118978],
    "_schedulers": [
        {"start_factor": 0.1, "end_factor": 1.0, "total_iters": 3,
         "base_lrs": [0.1, 0.02], "last_epoch": 2, "_is_initial": False,
         "_step_count": 3, "_last_lr": [0.07, 0.013999999999999997]},
        {"T_max": 9, "eta_min": 0.0, "base_lrs": [0.1, 0.02], "last_epoch": 2,
         "_is_initial": False, "_step_count": 3,
         "_last_lr": [0.08830222215594889, 0.01766044443118978]}]}


def test_a_scheduler_state_saved_by_the_older_minidl_resumes(tmp_path):
    from minidl.training.schedule import build_scheduler

    def build(s, o):
        return build_scheduler("cosine", o, epochs=4, steps_per_epoch=3,
                               warmup_epochs=1)
    straight, _, _ = run(optim, build, 12)
    assert straight[5][0] == pytest.approx(OLD_SEQUENTIAL_STATE["_last_lr"],
                                           rel=1e-15)
    optimizer = make_optimizer(optim)
    scheduler = build(lr_scheduler, optimizer)
    for group, lr in zip(optimizer.param_groups, OLD_SEQUENTIAL_STATE["_last_lr"]):
        group["lr"] = lr  # as the optimizer's saved state holds it
    scheduler.load_state_dict(save_and_load(OLD_SEQUENTIAL_STATE, tmp_path, "old"))
    resumed, _, _ = run(optim, None, 7, optimizer=optimizer, scheduler=scheduler)
    assert_same_records(resumed, straight[5:])
    assert "_is_initial" not in scheduler.state_dict()["_schedulers"][0]
