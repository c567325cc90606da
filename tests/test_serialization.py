"""minidl.save / minidl.load: round trips, the file format, atomic writes
and clear errors."""
import os
import zipfile

import numpy as np
import pytest

import minidl
from minidl import nn, serialization
from conftest import to_numpy


def no_temporary_files(directory):
    return [name for name in os.listdir(directory) if name.endswith(".tmp")] == []


def test_state_dict_round_trip(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(),
                          nn.Linear(4, 2))
    model[1].num_batches_tracked.data[...] = 5
    path = tmp_path / "model.npz"
    minidl.save(model.state_dict(), path)
    loaded = minidl.load(path)
    assert list(loaded) == list(model.state_dict())
    for key, value in model.state_dict().items():
        assert isinstance(loaded[key], minidl.Tensor)
        assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape
        np.testing.assert_array_equal(to_numpy(loaded[key]), to_numpy(value))
    other = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(),
                          nn.Linear(4, 2))
    other.load_state_dict(loaded)
    assert other[1].num_batches_tracked.item() == 5
    # Plain NumPy reads it, without pickle, under the state dict's names.
    with np.load(path, allow_pickle=False) as archive:
        assert set(archive.files) == set(model.state_dict()) | {"__minidl__"}
        np.testing.assert_array_equal(archive["3.weight"],
                                      to_numpy(model[3].weight))


def test_nested_checkpoint_round_trip(tmp_path):
    minidl.manual_seed(5)
    checkpoint = {
        "model": {"fc.weight": minidl.randn(2, 3),
                  "fc.bias": minidl.zeros(2, dtype=minidl.float64)},
        "optimizer": {"state": {0: {"step": 4, "exp_avg": minidl.ones(2, 3)},
                                1: {"step": 4, "exp_avg": minidl.ones(2)}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999),
                                        "params": [0, 1], "nesterov": False,
                                        "name": None}]},
        "scheduler": {"last_epoch": 3, "base_lrs": [0.1]},
        "rng": minidl.random.get_rng_state(),  # 128-bit integers inside
        "epoch": 3, "best": float("inf"), "note": "ok",
        "array": np.arange(3, dtype=np.int32), "scalar": np.float32(1.5),
        "empty": {}, "keys": {"0": "string key", 0: "int key"},
    }
    path = tmp_path / "checkpoint.npz"
    minidl.save(checkpoint, path, metadata={"command": "finetune"})
    loaded, metadata = minidl.load(path, with_metadata=True)
    assert metadata == {"command": "finetune"}
    assert list(loaded) == list(checkpoint)
    assert loaded["optimizer"]["param_groups"] == \
        checkpoint["optimizer"]["param_groups"]  # tuple stays a tuple
    assert loaded["rng"] == checkpoint["rng"]
    assert loaded["scheduler"] == checkpoint["scheduler"]
    assert loaded["keys"] == {"0": "string key", 0: "int key"}
    assert (loaded["epoch"], loaded["best"], loaded["note"], loaded["empty"]) \
        == (3, float("inf"), "ok", {})
    assert list(loaded["optimizer"]["state"]) == [0, 1]  # int keys stay ints
    exp_avg = loaded["optimizer"]["state"][0]["exp_avg"]
    assert isinstance(exp_avg, minidl.Tensor) and exp_avg.shape == (2, 3)
    assert loaded["model"]["fc.bias"].dtype == np.float64
    np.testing.assert_array_equal(to_numpy(loaded["model"]["fc.weight"]),
                                  to_numpy(checkpoint["model"]["fc.weight"]))
    assert isinstance(loaded["array"], np.ndarray)
    assert loaded["array"].dtype == np.int32
    assert isinstance(loaded["scalar"], np.float32) and loaded["scalar"] == 1.5
    minidl.random.set_rng_state(loaded["rng"])  # usable as it is


def test_plain_npz_loads_as_tensors(tmp_path):
    np.savez(tmp_path / "plain.npz", weight=np.ones((2, 2), np.float32))
    loaded, metadata = minidl.load(tmp_path / "plain.npz", with_metadata=True)
    assert metadata is None and list(loaded) == ["weight"]
    assert isinstance(loaded["weight"], minidl.Tensor)


def test_map_location(tmp_path, device):
    minidl.save({"w": minidl.ones(2)}, tmp_path / "w.npz")
    loaded = minidl.load(tmp_path / "w.npz", map_location=device)
    assert loaded["w"].device == minidl.device(device)
    assert minidl.load(tmp_path / "w.npz")["w"].device == minidl.device("cpu")


def test_unsupported_values_are_refused_and_nothing_is_written(tmp_path):
    path = tmp_path / "bad.npz"
    with pytest.raises(TypeError, match=r"cannot store a set at key path "
                                        r"'optimizer/extra'"):
        minidl.save({"optimizer": {"extra": {1, 2}}}, path)
    with pytest.raises(TypeError, match="dict key"):
        minidl.save({(1, 2): 3}, path)
    with pytest.raises(TypeError, match="array of Python objects"):
        minidl.save({"objects": np.array([None, 1], dtype=object)}, path)
    with pytest.raises(TypeError, match="JSON-serialisable"):
        minidl.save({}, path, metadata={"bad": object()})
    assert not path.exists() and no_temporary_files(tmp_path)


def test_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    minidl.save({"w": minidl.ones(3)}, path)
    before = path.read_bytes()

    def crash_half_way(file, arrays):
        file.write(b"PK partial data")
        raise OSError("disk full")

    monkeypatch.setattr(serialization, "_write_archive", crash_half_way)
    with pytest.raises(OSError, match="disk full"):
        minidl.save({"w": minidl.zeros(3)}, path)
    assert path.read_bytes() == before
    assert no_temporary_files(tmp_path)


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        minidl.save({}, tmp_path / "no" / "such" / "x.npz")


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file: .*absent.npz"):
        minidl.load(tmp_path / "absent.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="text.npz"):
        minidl.load(tmp_path / "text.npz")
    minidl.save({"w": minidl.ones(1000)}, tmp_path / "full.npz")
    data = (tmp_path / "full.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="cut.npz is truncated or damaged"):
        minidl.load(tmp_path / "cut.npz")
    with zipfile.ZipFile(tmp_path / "pickled.npz", "w") as archive:
        with archive.open("x.npy", "w") as entry:
            np.lib.format.write_array(entry, np.array([None], dtype=object),
                                      allow_pickle=True)
    with pytest.raises(ValueError, match="pickled.npz"):
        minidl.load(tmp_path / "pickled.npz")
