"""Test set-up shared by every test file.

* ``MINIDL_TEST_DEVICE=cuda`` runs the whole suite on the GPU: tensors made
  with ``minidl.tensor(...)`` (and every creation function) land there.
  Tests marked ``cpu_only`` still run on the CPU; tests marked ``gpu`` skip
  without a GPU.
* Torch is a test-only reference. Tests take it from the ``torch`` fixture,
  which skips when it is missing, unless ``MINIDL_REQUIRE_TORCH=1`` (set by
  ``.ci/run``), where a missing torch is an error.
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import minidl
from minidl import backend

TEST_DEVICE = os.environ.get("MINIDL_TEST_DEVICE", "cpu")

# Hypothesis: no per-example deadline (gradient checks vary in cost), a
# modest number of examples so the suite stays within CI's time, and
# MINIDL_HYPOTHESIS_PROFILE=thorough for a longer hunt.
settings.register_profile("default", max_examples=15, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.function_scoped_fixture])
# "quick": the GPU check script's run of the whole suite on a GPU, where
# each small op costs a kernel launch (benchmarks/gpu_check.sh).
settings.register_profile("quick", max_examples=5, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.function_scoped_fixture])
settings.register_profile("thorough", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("MINIDL_HYPOTHESIS_PROFILE", "default"))


def pytest_configure(config):
    try:
        backend.set_default_device(TEST_DEVICE)
    except (ValueError, RuntimeError) as error:  # e.g. cuda without a GPU
        raise pytest.UsageError("MINIDL_TEST_DEVICE={}: {}".format(
            TEST_DEVICE, error)) from None


@pytest.fixture(autouse=True)
def _device_for_test(request):
    """Run cpu_only tests on the CPU, skip gpu tests without a GPU, seed."""
    if request.node.get_closest_marker("gpu") and not backend.cuda_is_available():
        pytest.skip("needs a CUDA GPU")
    minidl.manual_seed(0)
    if request.node.get_closest_marker("cpu_only"):
        backend.set_default_device("cpu")
        yield
        backend.set_default_device(TEST_DEVICE)
    else:
        yield


@pytest.fixture
def device():
    """The device this test run uses ('cpu' or 'cuda')."""
    return str(backend.default_device())


def load_torch():
    """The torch module, or skip (fail under MINIDL_REQUIRE_TORCH=1)."""
    try:
        import torch
    except ImportError:
        if os.environ.get("MINIDL_REQUIRE_TORCH") == "1":
            pytest.fail("torch is required (MINIDL_REQUIRE_TORCH=1) but is not "
                        "installed")
        pytest.skip("torch is not installed")
    torch.set_num_threads(max(1, os.cpu_count() // 2))
    return torch


@pytest.fixture
def torch():
    return load_torch()


def to_numpy(value):
    """NumPy values of a minidl Tensor, a torch tensor or an array."""
    if isinstance(value, minidl.Tensor):
        return value.numpy()
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return backend.to_numpy(value)


def assert_close(actual, expected, rtol=1e-7, atol=1e-9, name=""):
    """Compare values of Tensors/arrays, with a message naming `name`."""
    actual, expected = to_numpy(actual), to_numpy(expected)
    assert actual.shape == expected.shape, "{}: shape {} != {}".format(
        name, actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol,
                               err_msg=name)


def assert_matches_torch(torch, function, torch_function, arrays, rtol, atol,
                         seed=0):
    """function(*arrays) in minidl against torch_function(*arrays) in torch
    (float64 arrays): the outputs, then every input's gradient for the same
    random output gradient (drawn from `seed`)."""
    inputs = [minidl.tensor(a, requires_grad=True) for a in arrays]
    torch_inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, torch_out = function(*inputs), torch_function(*torch_inputs)
    assert_close(out, torch_out, rtol=rtol, atol=atol, name="output")
    grad = np.random.default_rng(seed).standard_normal(tuple(torch_out.shape))
    out.backward(minidl.tensor(grad))
    torch_out.backward(torch.tensor(grad))
    for i, (mine, theirs) in enumerate(zip(inputs, torch_inputs)):
        assert_close(mine.grad, theirs.grad, rtol=rtol, atol=atol,
                     name=f"grad of input {i}")


def assert_value_error(fn, *fragments):
    """fn() raises ValueError, and its message contains every fragment."""
    with pytest.raises(ValueError) as info:
        fn()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, "{!r} not in {!r}".format(fragment, message)
