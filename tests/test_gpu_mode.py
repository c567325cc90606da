"""The GPU test mode, and moving data to the GPU.

* ``MINIDL_TEST_DEVICE`` sets the default device of a test run; tests
  marked ``cpu_only`` run on the CPU whatever it is; tests marked ``gpu``
  skip without a GPU; asking for the GPU mode without a GPU is a usage error
  that says why.
* ``Tensor.to``, ``Module.to`` and the DataLoader's hand-off of batches to
  the GPU (``minidl/kernels/cuda_transfer.py``): its bookkeeping is checked
  here on the CPU with a stand-in CuPy, the real thing under ``gpu``.
"""
import os
import subprocess
import sys
import types

import numpy as np
import pytest

import minidl
from minidl import backend
from minidl.data import DataLoader, TensorDataset

TEST_DEVICE = os.environ.get("MINIDL_TEST_DEVICE", "cpu")
TESTS = os.path.dirname(os.path.abspath(__file__))


# -- the test mode -------------------------------------------------------------------

def test_the_markers_are_declared(pytestconfig):
    declared = " ".join(pytestconfig.getini("markers"))
    for marker in ("gpu:", "cpu_only:"):
        assert marker in declared


def test_new_tensors_go_to_the_test_device():
    expected = backend.Device(TEST_DEVICE)
    assert backend.default_device() == expected
    assert minidl.tensor([1.0, 2.0]).device == expected
    assert minidl.zeros(3).device == expected


@pytest.mark.cpu_only
def test_cpu_only_tests_run_on_the_cpu():
    assert str(backend.default_device()) == "cpu"
    x = minidl.tensor([1.0, 2.0])
    assert isinstance(x.data, np.ndarray)


@pytest.mark.gpu
def test_needs_a_gpu():
    """Skipped without a GPU (the next test checks that it is)."""
    assert minidl.cuda.is_available()
    assert minidl.tensor([1.0], device="cuda").device.type == "cuda"


def _pytest(args, test_device):
    env = dict(os.environ, MINIDL_TEST_DEVICE=test_device)
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs",
                           "-p", "no:cacheprovider"] + args,
                          cwd=os.path.dirname(TESTS), env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(backend.cuda_is_available(), reason="a GPU is present")
def test_gpu_tests_skip_cleanly_without_a_gpu():
    result = _pytest([os.path.join(TESTS, "test_gpu_mode.py") +
                      "::test_needs_a_gpu"], "cpu")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert "needs a CUDA GPU" in result.stdout


@pytest.mark.skipif(backend.cuda_is_available(), reason="a GPU is present")
def test_the_gpu_mode_without_a_gpu_is_a_usage_error_saying_why():
    result = _pytest([os.path.join(TESTS, "test_gpu_mode.py") +
                      "::test_the_markers_are_declared"], "cuda")
    assert result.returncode == 4, result.stdout + result.stderr  # usage error
    output = result.stdout + result.stderr
    assert "MINIDL_TEST_DEVICE=cuda" in output
    assert "is not available" in output


# -- the DataLoader's hand-off, on the CPU with a stand-in CuPy ----------------------

class _Recorder:
    """What the stand-in CuPy saw, in order."""

    def __init__(self):
        self.log = []
        self.events = []


def _fake_cupy(recorder):
    """Just enough of cupy and cupyx for BatchTransfer: arrays are NumPy
    arrays of a subclass, streams and events log what is asked of them."""
    cupy = types.ModuleType("cupy")
    cupyx = types.ModuleType("cupyx")
    state = {"stream": "compute"}

    class DeviceArray(np.ndarray):
        def set(self, host, stream=None):
            recorder.log.append(("copy to device", stream.name,
                                 type(host).__name__))
            self[...] = host

        def copy(self):
            recorder.log.append(("device copy", state["stream"]))
            return np.array(self).view(DeviceArray)

    class Event:
        def __init__(self, stream):
            self.stream, self.done, self.synchronized = stream, False, False
            recorder.events.append(self)

        def synchronize(self):
            self.synchronized = self.done = True

    class Stream:
        def __init__(self, non_blocking=False, name="copy"):
            assert non_blocking or name == "compute"
            self.name = name

        def __enter__(self):
            self.previous, state["stream"] = state["stream"], self.name
            return self

        def __exit__(self, *exc):
            state["stream"] = self.previous

        def record(self):
            recorder.log.append(("record", self.name))
            return Event(self.name)

        def wait_event(self, event):
            recorder.log.append(("wait", self.name, event.stream))

    class Device:
        def __init__(self, index):
            self.index = index

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    compute = Stream(name="compute")

    def empty(shape, dtype):
        recorder.log.append(("allocate", state["stream"]))
        return np.empty(shape, dtype).view(DeviceArray)

    def empty_pinned(shape, dtype):
        recorder.log.append(("pinned",))
        return np.empty(shape, dtype)

    cupy.cuda = types.SimpleNamespace(Stream=Stream, Device=Device,
                                      get_current_stream=lambda: compute)
    cupy.empty = empty
    cupyx.empty_pinned = empty_pinned
    return cupy, cupyx


@pytest.fixture
def fake_gpu(monkeypatch):
    recorder = _Recorder()
    cupy, cupyx = _fake_cupy(recorder)
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cupyx", cupyx)
    return recorder


@pytest.mark.cpu_only
@pytest.mark.parametrize("pin_memory", [False, True])
def test_batch_transfer_copies_on_its_own_stream_then_hands_over(fake_gpu,
                                                                 pin_memory):
    from minidl.kernels.cuda_transfer import BatchTransfer
    transfer = BatchTransfer(types.SimpleNamespace(index=0), pin_memory)
    images = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    labels = np.array([3, 1])
    staged = transfer.start((images, labels))
    copies = [entry for entry in fake_gpu.log if entry[0] == "copy to device"]
    assert [c[1] for c in copies] == ["copy", "copy"]  # on the copy stream
    assert ("allocate", "copy") in fake_gpu.log  # staging memory: copy stream
    assert [c[2] for c in copies] == ["ndarray", "ndarray"]
    assert fake_gpu.log.count(("pinned",)) == (2 if pin_memory else 0)
    assert fake_gpu.log[-1] == ("record", "copy")  # the end of the copies

    fake_gpu.log.clear()
    batch = transfer.finish(staged)
    # The compute stream waits for the copies (on the GPU), then copies the
    # staging arrays into arrays of its own, then marks that it read them.
    assert fake_gpu.log == [("wait", "compute", "copy"),
                            ("device copy", "compute"),
                            ("device copy", "compute"),
                            ("record", "compute")]
    assert isinstance(batch, tuple) and len(batch) == 2
    assert all(isinstance(t, minidl.Tensor) for t in batch)
    np.testing.assert_array_equal(batch[0].numpy(), images)
    np.testing.assert_array_equal(batch[1].numpy(), labels)
    assert batch[0].data is not staged.arrays[0]

    # Staging arrays are kept until the compute stream has read them.
    read = fake_gpu.events[-1]
    assert len(transfer._in_use) == 1
    read.done = True
    transfer.finish(transfer.start((images, labels)))
    assert len(transfer._in_use) == 1  # the first pair is let go
    transfer.close()
    assert not transfer._in_use
    assert fake_gpu.events[-1].synchronized


@pytest.mark.cpu_only
def test_batch_transfer_passes_gpu_arrays_and_nesting_through(fake_gpu):
    from minidl.kernels.cuda_transfer import BatchTransfer
    transfer = BatchTransfer(types.SimpleNamespace(index=0), False)
    on_gpu = object()  # stands for a CuPy array: not a NumPy one
    staged = transfer.start(((np.ones(2), on_gpu), minidl.tensor([1, 2])))
    assert len([e for e in fake_gpu.log if e[0] == "copy to device"]) == 2
    assert staged.arrays[0][1] is on_gpu  # not copied
    staged = transfer.start(((np.ones(2), np.zeros(1)), minidl.tensor([1, 2])))
    batch = transfer.finish(staged)
    assert isinstance(batch[0], tuple) and len(batch[0]) == 2
    np.testing.assert_array_equal(batch[0][1].numpy(), [0.0])
    np.testing.assert_array_equal(batch[1].numpy(), [1, 2])


def _loader_on_fake_gpu(dataset, **options):
    """A DataLoader that takes the GPU path (with the stand-in CuPy)."""
    loader = DataLoader(dataset, device="cpu", seed=0, **options)
    loader.device = types.SimpleNamespace(type="cuda", index=0)
    return loader


@pytest.mark.cpu_only
@pytest.mark.parametrize("num_workers", [0, 2])
def test_dataloader_hands_batches_over_through_the_transfer(fake_gpu,
                                                            num_workers):
    dataset = TensorDataset(np.arange(10.0), np.arange(10) * 2)
    loader = _loader_on_fake_gpu(dataset, batch_size=3,
                                 num_workers=num_workers)
    batches = [tuple(t.numpy().tolist() for t in batch) for batch in loader]
    assert batches == [([0, 1, 2], [0, 2, 4]), ([3, 4, 5], [6, 8, 10]),
                       ([6, 7, 8], [12, 14, 16]), ([9], [18])]
    copies = [entry for entry in fake_gpu.log if entry[0] == "copy to device"]
    assert len(copies) == 8
    waits = [entry for entry in fake_gpu.log if entry[0] == "wait"]
    assert len(waits) == 4
    if num_workers == 0:
        # The second batch's copy starts before the first is handed over.
        first_wait = fake_gpu.log.index(waits[0])
        assert len([e for e in fake_gpu.log[:first_wait]
                    if e[0] == "copy to device"]) == 4


class _FailsAtFour(TensorDataset):
    def get_batch(self, indices, rng=None):
        if 4 in list(indices):
            raise ValueError("cannot read sample 4")
        return super().get_batch(indices, rng)


@pytest.mark.cpu_only
def test_an_error_making_the_next_batch_waits_for_its_turn(fake_gpu):
    loader = _loader_on_fake_gpu(_FailsAtFour(np.arange(10.0)), batch_size=3)
    iterator = iter(loader)
    assert next(iterator)[0].numpy().tolist() == [0, 1, 2]  # made fine
    with pytest.raises(ValueError, match="cannot read sample 4"):
        next(iterator)


# -- on the GPU ----------------------------------------------------------------------

@pytest.mark.gpu
def test_tensor_to_the_gpu_and_back_carries_values_and_gradients():
    x = minidl.tensor(np.arange(6.0).reshape(2, 3), device="cpu",
                      requires_grad=True)
    y = x.to("cuda")
    assert y.device.type == "cuda" and y.dtype == x.dtype
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    (y * y).sum().backward()
    assert x.grad.device.type == "cpu"
    np.testing.assert_array_equal(x.grad.numpy(), 2 * x.numpy())
    z = y.to("cpu", dtype=minidl.float32)
    assert z.device.type == "cpu" and z.dtype == np.float32


@pytest.mark.gpu
def test_module_to_the_gpu_moves_parameters_buffers_and_gradients():
    model = minidl.nn.Sequential(minidl.nn.Linear(3, 2),
                                 minidl.nn.BatchNorm1d(2))
    model.to("cpu")
    before = {k: v.numpy() for k, v in model.state_dict().items()}
    assert model.to("cuda") is model
    for name, value in model.state_dict().items():
        assert value.device.type == "cuda", name
        np.testing.assert_array_equal(value.numpy(), before[name])
    out = model(minidl.randn(4, 3, device="cuda"))
    out.sum().backward()
    assert all(p.grad.device.type == "cuda" for p in model.parameters())
    model.to("cpu")
    assert all(p.device.type == "cpu" for p in model.parameters())


def _batches(loader):
    return [tuple(t.numpy() for t in batch) for batch in loader]


@pytest.mark.gpu
@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("pin_memory", [False, True])
def test_dataloader_batches_on_the_gpu_equal_those_on_the_cpu(num_workers,
                                                              pin_memory):
    rng = np.random.default_rng(0)
    dataset = TensorDataset(rng.standard_normal((37, 3, 4, 4)).astype(
        np.float32), rng.integers(0, 10, 37))
    options = dict(batch_size=8, shuffle=True, seed=5, num_workers=num_workers)
    expected = _batches(DataLoader(dataset, device="cpu", **options))
    loader = DataLoader(dataset, device="cuda", pin_memory=pin_memory,
                        **options)
    for batch in loader:
        assert all(t.device.type == "cuda" for t in batch)
        break  # leaving early must be clean too
    loader.set_epoch(0)
    actual = _batches(loader)
    assert len(actual) == len(expected) == 5
    for got, want in zip(actual, expected):
        for a, e in zip(got, want):
            np.testing.assert_array_equal(a, e)


@pytest.mark.gpu
def test_a_batch_stays_valid_while_the_next_ones_are_copied():
    """Batches kept by the caller are not overwritten by later copies."""
    dataset = TensorDataset(np.arange(64, dtype=np.float32).reshape(16, 4))
    loader = DataLoader(dataset, batch_size=2, device="cuda", pin_memory=True,
                        num_workers=2, seed=0)
    kept = [batch[0] for batch in loader]
    for index, tensor in enumerate(kept):
        np.testing.assert_array_equal(
            tensor.numpy(), np.arange(8 * index, 8 * index + 8,
                                      dtype=np.float32).reshape(2, 4))
