"""The PyTorch -> minidl converter: formats it accepts, what it writes, and
a clear error (with no file written) for each kind of bad input."""
import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

import minidl
from minidl import convert, models
from conftest import to_numpy
from test_models import torch_cifar_resnet, torchvision_resnet


@pytest.fixture
def cifar_state(torch):
    torch.manual_seed(0)
    return torch_cifar_resnet(torch, 20).state_dict()


def assert_nothing_written(directory, destination):
    assert not os.path.exists(destination)
    leftovers = [name for name in os.listdir(directory) if name.endswith(".tmp")]
    assert leftovers == []


@pytest.mark.parametrize("layout", ["bare", "state_dict", "model_state_dict"])
def test_checkpoint_layouts(torch, tmp_path, cifar_state, layout):
    state = {"module." + k: v for k, v in cifar_state.items()}
    if layout != "bare":
        state = {layout: state, "epoch": 7}
    torch.save(state, tmp_path / "src.pt")
    metadata = convert.from_torch(tmp_path / "src.pt", tmp_path / "dst.npz")
    assert metadata["architecture"] == "resnet20"
    loaded = minidl.load(tmp_path / "dst.npz")
    assert list(loaded) == list(cifar_state)  # same keys, same order
    for key, value in cifar_state.items():
        np.testing.assert_array_equal(to_numpy(loaded[key]), value.numpy())
        assert loaded[key].dtype == value.numpy().dtype
    if layout != "bare":
        assert metadata["source_extra"] == {"epoch": 7}


def test_metadata(torch, tmp_path, cifar_state):
    source = tmp_path / "resnet20-cifar.th"
    torch.save({"state_dict": cifar_state}, source)
    convert.from_torch(source, tmp_path / "out.npz")
    metadata = minidl.serialization.load_metadata(tmp_path / "out.npz")
    assert metadata["architecture"] == "resnet20"
    assert metadata["num_classes"] == 10
    assert metadata["source_file"] == "resnet20-cifar.th"
    assert metadata["source_sha256"] == hashlib.sha256(
        source.read_bytes()).hexdigest()
    assert metadata["input_mean"] == [0.485, 0.456, 0.406]
    assert metadata["input_std"] == [0.229, 0.224, 0.225]
    # The file is plain NumPy: the keys are the state dict's plus one entry.
    with np.load(tmp_path / "out.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(list(cifar_state) + ["__minidl__"])


def test_old_checkpoints_without_num_batches_tracked(torch, tmp_path,
                                                     cifar_state):
    old = {k: v for k, v in cifar_state.items()
           if not k.endswith("num_batches_tracked")}
    torch.save({"state_dict": old}, tmp_path / "old.th",
               _use_new_zipfile_serialization=False)  # the pre-1.6 format
    metadata = convert.from_torch(tmp_path / "old.th", tmp_path / "old.npz")
    assert "bn1.num_batches_tracked" in metadata["filled_keys"]
    assert models.resnet20(weights=tmp_path / "old.npz").bn1 \
        .num_batches_tracked.item() == 0


@pytest.mark.parametrize("name,classes", [("resnet18", 1000), ("resnet50", 3)])
def test_guesses_torchvision_architectures(torch, tmp_path, name, classes):
    torch.save(torchvision_resnet(torch, name, classes).state_dict(),
               tmp_path / "tv.pth")
    metadata = convert.from_torch(tmp_path / "tv.pth", tmp_path / "tv.npz")
    assert metadata["architecture"] == name
    assert metadata["num_classes"] == classes
    assert metadata["input_size"] == 224


@pytest.mark.cpu_only  # a subprocess
def test_command_line(torch, tmp_path, cifar_state):
    torch.save(cifar_state, tmp_path / "src.pth")
    done = subprocess.run(
        [sys.executable, "-m", "minidl.convert", str(tmp_path / "src.pth"),
         str(tmp_path / "dst.npz"), "--arch", "resnet20"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and "resnet20" in done.stdout
    (tmp_path / "notes.txt").write_text("not a checkpoint\n")
    failed = subprocess.run(
        [sys.executable, "-m", "minidl.convert", str(tmp_path / "notes.txt"),
         str(tmp_path / "bad.npz")], capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1
    assert "notes.txt: a text file" in failed.stderr
    assert not (tmp_path / "bad.npz").exists()


@pytest.mark.cpu_only  # a subprocess
def test_loading_needs_no_torch(torch, tmp_path, cifar_state):
    torch.save(cifar_state, tmp_path / "src.pth")
    convert.from_torch(tmp_path / "src.pth", tmp_path / "dst.npz")
    code = ("import sys; sys.modules['torch'] = None\n"  # import torch now fails
            "import minidl\n"
            "model = minidl.models.resnet20(weights=sys.argv[1])\n"
            "print(model.pretrained_metadata['architecture'])\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "dst.npz")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "resnet20"


# -- bad input: a clear error, naming the file, and nothing written ---------------
def check_refused(tmp_path, source, pattern, **kwargs):
    destination = tmp_path / "out" / "dst.npz"
    destination.parent.mkdir(exist_ok=True)
    with pytest.raises(convert.ConversionError, match=pattern) as info:
        convert.from_torch(source, destination, **kwargs)
    assert str(source) in str(info.value)
    assert_nothing_written(destination.parent, destination)
    return str(info.value)


def test_text_file(tmp_path):
    source = tmp_path / "README.md"
    source.write_text("# weights\nsee the link\n")
    check_refused(tmp_path, source, "a text file, not a PyTorch checkpoint")


def test_empty_and_binary_junk(tmp_path):
    (tmp_path / "empty.pth").write_bytes(b"")
    check_refused(tmp_path, tmp_path / "empty.pth", "the file is empty")
    (tmp_path / "junk.pth").write_bytes(bytes(range(256)) * 4)
    check_refused(tmp_path, tmp_path / "junk.pth", "not a PyTorch checkpoint")
    check_refused(tmp_path, tmp_path / "absent.pth", "no such file")


@pytest.mark.parametrize("legacy", [False, True])
def test_truncated_checkpoint(torch, tmp_path, cifar_state, legacy):
    full = tmp_path / "full.pth"
    torch.save(cifar_state, full, _use_new_zipfile_serialization=not legacy)
    data = full.read_bytes()
    source = tmp_path / "cut.pth"
    source.write_bytes(data[:len(data) * 2 // 3])
    check_refused(tmp_path, source, "truncated or damaged checkpoint")


def test_wrong_architecture_lists_the_keys(torch, tmp_path, cifar_state):
    torch.save(cifar_state, tmp_path / "r20.pth")
    message = check_refused(tmp_path, tmp_path / "r20.pth",
                            "does not match architecture resnet32", arch="resnet32")
    assert "its keys look like a resnet20" in message
    assert "missing keys (60): layer1.3.conv1.weight" in message
    message = check_refused(tmp_path, tmp_path / "r20.pth", "no 'fc.weight'",
                            arch="resnet18")
    check_refused(tmp_path, tmp_path / "r20.pth", "unknown architecture 'vgg16'",
                  arch="vgg16")


def test_unrecognised_keys_ask_for_arch(torch, tmp_path):
    torch.save(torch.nn.Linear(2, 2).state_dict(), tmp_path / "linear.pth")
    check_refused(tmp_path, tmp_path / "linear.pth", "pass --arch")
    torch.save({"weights": [1, 2]}, tmp_path / "dict.pth")
    check_refused(tmp_path, tmp_path / "dict.pth", "no tensors found")


def test_mismatched_head(torch, tmp_path, cifar_state):
    state = dict(cifar_state)
    state["linear.weight"] = torch.zeros(10, 32)  # head expects 64 features
    torch.save(state, tmp_path / "head.pth")
    message = check_refused(tmp_path, tmp_path / "head.pth", "shape mismatch")
    assert "linear.weight: checkpoint (10, 32) vs resnet20 (10, 64)" in message
    torch.save(cifar_state, tmp_path / "ten.pth")
    check_refused(tmp_path, tmp_path / "ten.pth",
                  r"mismatched head: linear.weight has shape \(10, 64\) "
                  r"\(10 classes\) but 100 classes were asked for",
                  num_classes=100)


def test_existing_destination_survives_a_failed_conversion(tmp_path):
    destination = tmp_path / "dst.npz"
    destination.write_bytes(b"previous")
    (tmp_path / "bad.pth").write_text("hello")
    with pytest.raises(convert.ConversionError):
        convert.from_torch(tmp_path / "bad.pth", destination)
    assert destination.read_bytes() == b"previous"
