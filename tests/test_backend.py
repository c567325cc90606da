"""Devices, the default device and MINIDL_DEVICE, the array module, the
kernel registry."""
import os
import subprocess
import sys

import numpy as np
import pytest

import minidl
from minidl import backend, kernels

needs_no_cupy = pytest.mark.skipif(backend._cupy is not None,
                                   reason="CuPy is installed here")


def test_unknown_device_errors():
    for spec in ("tpu", "cuda:x", "cpu:0", "", 3):
        with pytest.raises(ValueError, match=r"unknown device .*expected 'cpu', "
                                             r"'cuda' or 'cuda:N'"):
            minidl.device(spec)
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        minidl.tensor([1.0], device="tpu")


@needs_no_cupy
def test_cuda_without_cupy_says_why_and_how_to_fix():
    assert not minidl.cuda.is_available()
    for make in (lambda: minidl.tensor([1.0], device="cuda"),
                 lambda: minidl.zeros(2, device="cuda:0"),
                 lambda: minidl.tensor([1.0]).to("cuda")):
        with pytest.raises(RuntimeError, match=r"device 'cuda(:0)?' is not "
                                               r"available: CuPy is not installed"
                                               r".*pip install minidl\[cuda12\]"):
            make()


def test_device_objects():
    assert minidl.device("cpu") == minidl.device("cpu") == "cpu"
    assert repr(minidl.device("cpu")) == "device(type='cpu')"
    assert minidl.device(minidl.device("cpu")).type == "cpu"
    assert len({minidl.device("cpu"), minidl.device("cpu")}) == 1
    assert minidl.device("cpu").xp is np


def test_get_array_module():
    assert minidl.get_array_module(np.zeros(2)) is np
    assert minidl.get_array_module(1.0, [1, 2]) is np
    assert minidl.get_array_module(minidl.tensor([1.0])) is \
        minidl.tensor([1.0]).device.xp


def _import_minidl_with(environment_value):
    env = dict(os.environ, MINIDL_DEVICE=environment_value)
    code = "import minidl; print(minidl.backend.default_device())"
    return subprocess.run([sys.executable, "-c", code], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.cpu_only  # a subprocess
def test_minidl_device_environment_variable_chooses_the_default():
    result = _import_minidl_with("cpu")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "cpu"
    result = _import_minidl_with("tpu")
    assert result.returncode != 0
    assert "MINIDL_DEVICE=tpu: unknown device 'tpu'" in result.stderr


@needs_no_cupy
def test_minidl_device_cuda_without_cupy_fails_at_import_saying_why():
    result = _import_minidl_with("cuda")
    assert result.returncode != 0
    assert "MINIDL_DEVICE=cuda: device 'cuda' is not available: CuPy is not " \
           "installed" in result.stderr


def test_kernel_registry():
    scatter_add = kernels.get("scatter_add", np)
    target = np.zeros(3)
    scatter_add(target, (np.array([0, 0, 2]),), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(target, [3.0, 0.0, 3.0])
    with pytest.raises(KeyError, match="no kernel named 'nope' for numpy"):
        kernels.get("nope", np)
    with pytest.raises(ValueError, match="backend must be"):
        kernels.register("x", backend="tpu")
