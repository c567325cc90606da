"""The fine-tuning command (minidl.finetune) and its parts (minidl.training).

The command runs in-process (``finetune.main(argv)``) on a tiny generated
ImageFolder: 3 classes x 12 PNG images of 16x16, each class a different
dominant colour. One BLAS thread keeps the runs fast and steady on a busy
machine (the fixture restores the previous count).
"""
import io
import json
import os
import urllib.error

import numpy as np
import pytest

import minidl
from minidl import finetune, models
from minidl.nn import functional as F
from minidl.training import pretrained
from minidl.data import DataLoader
from minidl.training.early_stopping import BestTracker
from minidl.training.freeze import apply_freeze, parse_freeze, stage_count
from minidl.training.loop import FGSM, EvalResult
from minidl.training.progress import ProgressBar
from minidl.training.schedule import build_optimizer, build_scheduler

CLASSES = ["blue", "green", "red"]


def write_image_folder(root, classes=CLASSES, per_class=12, size=16, seed=0):
    """Class folders of PNG files; class k is brightest in channel k % 3."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    for index, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 90, (size, size, 3))
            pixels[..., (2 - index) % 3] += 150
            Image.fromarray(pixels.astype(np.uint8)).save(
                folder / "{:02d}.png".format(i))
    return root


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp("data") / "images")


def write_random_resnet20(path):
    """A 10-class resnet20 weights file (seed 1) with minidl metadata."""
    minidl.manual_seed(1)
    minidl.save(models.resnet20().state_dict(), path, metadata={
        "architecture": "resnet20", "num_classes": 10,
        "input_mean": [0.5, 0.5, 0.5], "input_std": [0.25, 0.25, 0.25]})
    return path


def interrupt_the_second_epoch(monkeypatch):
    """Make finetune's second train_one_epoch call raise KeyboardInterrupt
    (Ctrl-C in epoch 2); undo with monkeypatch.undo() or at the test's end."""
    calls = []
    original = finetune.train_one_epoch

    def interrupted_in_epoch_two(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(finetune, "train_one_epoch", interrupted_in_epoch_two)
    return original


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    return write_random_resnet20(
        tmp_path_factory.mktemp("weights") / "resnet20-random.npz")


@pytest.fixture(autouse=True)
def _cache_and_threads(tmp_path_factory, monkeypatch):
    """ImageFolder's cache in a temporary folder; one thread for minidl."""
    monkeypatch.setenv("MINIDL_CACHE", str(tmp_path_factory.getbasetemp() /
                                           "cache"))
    before = minidl.get_num_threads()
    minidl.set_num_threads(1)
    yield
    minidl.set_num_threads(before)


def base_args(data, out, weights, *extra):
    return ["--arch", "resnet20", "--weights", str(weights), "--data", str(data),
            "--out", str(out), "--val-split", "0.25", "--batch-size", "8",
            "--eval-batch-size", "16", "--epochs", "2", "--lr", "0.05",
            "--num-workers", "1", "--device", "cpu", "--seed", "3"] + list(extra)


AUGMENTED = ["--optimizer", "sgd", "--nesterov", "--schedule", "onecycle",
             "--crop-padding", "2", "--crop-padding-mode", "reflect", "--hflip"]


@pytest.fixture(scope="module")
def full_run(tiny_data, weights_file, tmp_path_factory):
    """An uninterrupted two-epoch run: (out folder, its stdout)."""
    out = tmp_path_factory.mktemp("full")
    capture = io.StringIO()
    import contextlib
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("MINIDL_CACHE", str(tmp_path_factory.getbasetemp() /
                                           "cache"))
    before = minidl.get_num_threads()
    minidl.set_num_threads(1)
    try:
        with contextlib.redirect_stdout(capture):
            status = finetune.main(base_args(tiny_data, out, weights_file,
                                             *AUGMENTED))
    finally:
        monkeypatch.undo()
        minidl.set_num_threads(before)
    assert status == 0
    return out, capture.getvalue()


def read_log(path, steps=False):
    """The rows of a log.jsonl (the epoch rows only, unless `steps`)."""
    with open(path) as handle:
        rows = [json.loads(line) for line in handle]
    return rows if steps else [row for row in rows if "step" not in row]


# -- the command end to end ----------------------------------------------------------
def test_two_epochs_write_checkpoints_log_plot_report(full_run):
    out, stdout = full_run
    for name in ("best.npz", "last.npz", "model.npz", "log.jsonl",
                 "curves.png", "report.json", "report.txt"):
        assert (out / name).is_file(), name
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = read_log(out / "log.jsonl")
    assert [row["epoch"] for row in rows] == [0, 1, 2]
    assert rows[0]["train_loss"] is None  # epoch 0: before training
    for row in rows[1:]:
        for key in ("lr", "train_loss", "train_accuracy", "val_loss",
                    "val_accuracy", "epoch_seconds", "images_per_second"):
            assert isinstance(row[key], float), key
    assert "before training: validation accuracy" in stdout

    state, metadata = minidl.load(out / "last.npz", with_metadata=True)
    assert metadata["epoch"] == 2 and metadata["classes"] == CLASSES
    assert metadata["input_mean"] == [0.5, 0.5, 0.5]  # from the weights
    assert set(state) >= {"model", "optimizer", "scheduler", "train_loader",
                          "rng", "log", "tracker", "best_model", "position"}
    assert state["train_loader"]["epoch"] == 2
    assert state["scheduler"]["last_epoch"] == 2 * 4  # 27 images, batches of 8

    report = json.loads((out / "report.json").read_text())
    best = report["best_epoch"]
    assert report["validation"]["accuracy"] == rows[best]["val_accuracy"]
    assert report["validation"]["samples"] == 9
    assert np.array(report["validation"]["confusion_matrix"]).shape == (3, 3)
    assert set(report["validation"]["per_class_accuracy"]) == set(CLASSES)
    assert report["before_training"]["val_accuracy"] == rows[0]["val_accuracy"]
    assert "confusion matrix" in (out / "report.txt").read_text()


def test_new_head_when_class_count_differs(full_run, weights_file):
    out, stdout = full_run
    assert "new 3-class head (the weights have 10 classes)" in stdout
    model = models.load_pretrained(out / "model.npz")
    metadata = model.pretrained_metadata
    assert model.linear.weight.shape == (3, 64)
    assert metadata["classes"] == CLASSES


def test_resume_gives_the_same_final_weights(full_run, tiny_data, weights_file,
                                             tmp_path, monkeypatch):
    out_full, _ = full_run
    original = interrupt_the_second_epoch(monkeypatch)
    out = tmp_path / "run"
    status = finetune.main(base_args(tiny_data, out, weights_file, *AUGMENTED))
    assert status == 130
    assert minidl.load(out / "last.npz")["epoch"] == 1
    monkeypatch.setattr(finetune, "train_one_epoch", original)

    # Only --out and --resume: the other options come from the checkpoint.
    assert finetune.main(["--out", str(out), "--resume"]) == 0
    resumed = minidl.load(out / "last.npz")
    uninterrupted = minidl.load(out_full / "last.npz")
    assert resumed["epoch"] == uninterrupted["epoch"] == 2
    for key, value in uninterrupted["model"].items():
        np.testing.assert_array_equal(resumed["model"][key].numpy(),
                                      value.numpy(), err_msg=key)
    for index, entries in uninterrupted["optimizer"]["state"].items():
        np.testing.assert_array_equal(
            resumed["optimizer"]["state"][index]["momentum_buffer"],
            entries["momentum_buffer"])
    rows, rows_full = read_log(out / "log.jsonl"), read_log(out_full / "log.jsonl")
    assert [r["val_loss"] for r in rows] == [r["val_loss"] for r in rows_full]
    assert [r["lr"] for r in rows] == [r["lr"] for r in rows_full]


def test_resume_path_and_saved_options(full_run, capsys):
    out, _ = full_run
    parser = finetune.build_parser()
    args, (state, metadata) = finetune.parse_arguments(
        parser, ["--resume", str(out / "last.npz"), "--lr", "0.1"])
    assert args.out == str(out)  # the checkpoint's folder
    assert (args.batch_size, args.schedule, args.crop_padding_mode) == \
        (8, "onecycle", "reflect")
    assert args.lr == 0.1 and metadata["epoch"] == state["epoch"]
    assert "--lr 0.05 -> 0.1" in capsys.readouterr().err  # warned


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN arithmetic
def test_diverging_training_stops_with_a_clear_error(tiny_data, weights_file,
                                                     tmp_path, capsys):
    assert finetune.main(base_args(tiny_data, tmp_path / "out", weights_file,
                                   "--lr", "1e30", "--epochs", "1",
                                   "--limit-train-batches", "2")) == 1
    assert "error: training diverged: the training loss of epoch 1 is nan" in \
        capsys.readouterr().err


def weights_of(path):
    state = minidl.load(path)
    state = state.get("model", state)
    return {key: value.numpy() for key, value in state.items()}


@pytest.mark.parametrize("rule, unchanged, changed", [
    ("backbone", ["conv1", "bn1", "layer1", "layer2", "layer3"], ["linear"]),
    ("until:layer2", ["conv1", "bn1", "layer1", "layer2"], ["layer3", "linear"]),
])
def test_freeze_trains_only_the_rest(tiny_data, tmp_path, rule, unchanged,
                                     changed):
    start = tmp_path / "start.npz"
    minidl.manual_seed(2)
    minidl.save(models.resnet20(num_classes=3).state_dict(), start,
                metadata={"architecture": "resnet20", "num_classes": 3})
    out = tmp_path / "out"
    assert finetune.main(base_args(tiny_data, out, start, "--freeze", rule,
                                   "--epochs", "1")) == 0
    before, after = weights_of(start), weights_of(out / "last.npz")
    for key in before:
        prefix = key.split(".")[0]
        same = np.array_equal(before[key], after[key])
        if prefix in unchanged:  # running statistics too: BN stays in eval
            assert same, key
        elif key.endswith(("weight", "bias")) and prefix in changed:
            assert not same, key
    optimizer = minidl.load(out / "last.npz")["optimizer"]
    trained = sum(len(group["params"]) for group in optimizer["param_groups"])
    assert trained == sum(1 for key in before if key.split(".")[0] in changed
                          and key.endswith(("weight", "bias")))


def test_other_options_run_and_test_split_is_reported(tiny_data, weights_file,
                                                      tmp_path):
    out = tmp_path / "out"
    status = finetune.main(base_args(
        tiny_data, out, weights_file, "--optimizer", "adamw",
        "--label-smoothing", "0.1", "--grad-clip", "1.0", "--rotation", "10",
        "--color-jitter", "0.2", "0.2", "0.2", "--schedule", "cosine",
        "--warmup-epochs", "1", "--head-lr", "0.01", "--patience", "3",
        "--adv-eps", "0.03", "--limit-train-batches", "2",
        "--test-data", str(tiny_data)))
    assert status == 0
    report = json.loads((out / "report.json").read_text())
    assert report["test"]["samples"] == 36
    optimizer = minidl.load(out / "last.npz")["optimizer"]
    assert [g["name"] for g in optimizer["param_groups"]] == ["backbone", "head"]
    rows = read_log(out / "log.jsonl")
    assert rows[1]["images_per_second"] > 0
    assert minidl.load(out / "last.npz")["scheduler"]["last_epoch"] == 2 * 2


def write_cifar10_folder(root, per_batch=6):
    """CIFAR-10's python format: five training batches and a test batch of
    `per_batch` random 32x32 images each."""
    import pickle
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ["data_batch_{}".format(i) for i in range(1, 6)] + \
            ["test_batch"]:
        record = {b"data": rng.integers(0, 256, (per_batch, 3072), np.uint8),
                  b"labels": [int(v) for v in rng.integers(0, 10, per_batch)]}
        with open(folder / name, "wb") as handle:
            pickle.dump(record, handle)
    return root


def test_cifar10_folder_with_its_test_batch(tmp_path, capsys):
    data = write_cifar10_folder(tmp_path / "cifar")
    out = tmp_path / "out"
    assert finetune.main(["--arch", "resnet20", "--data", str(data),
                          "--test-data", str(data), "--out", str(out),
                          "--epochs", "1", "--batch-size", "8",
                          "--val-split", "0.2", "--device", "cpu"]) == 0
    assert "no --weights: resnet20 starts from a random initialisation" in \
        capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["validation"]["samples"] == 6  # 0.2 of 30
    assert report["test"]["samples"] == 6  # the test batch
    assert report["validation"]["classes"][0] == "airplane"


def _with(args, flag, value):
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    return args


@pytest.mark.parametrize("change, message", [
    (["--data", "/no/such/folder"], "--data: no such folder: /no/such/folder"),
    (["--freeze", "until:layer4"], "until:layer4: CifarResNet has only "
                                   "layer1..layer3"),
    (["--weights", "resnet20-unknown"], "one of the published names"),
    (["--resume", "/no/such/last.npz"], "no checkpoint at /no/such/last.npz"),
])
def test_bad_arguments_give_clear_errors(tiny_data, weights_file, tmp_path,
                                         capsys, change, message):
    args = _with(base_args(tiny_data, tmp_path / "out", weights_file), *change)
    assert finetune.main(args) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error, error


@pytest.mark.parametrize("change, message", [
    (["--arch", "resnet7"], "argument --arch: invalid choice: 'resnet7'"),
    (["--freeze", "layer2"], "--freeze 'layer2': expected 'none', 'backbone' "
                             "or 'until:layerN'"),
    (["--val-split", "1.5"], "argument --val-split: expected a number in "
                             "(0, 1), got '1.5'"),
    (["--lr", "inf"], "argument --lr: expected a finite number, got 'inf'"),
    (["--lr", "-1"], "argument --lr: expected a positive number"),
    (["--momentum", "nan"], "argument --momentum: expected a finite number"),
    (["--momentum", "5"], "argument --momentum: expected a momentum in [0, 1)"),
    (["--weight-decay", "nan"], "argument --weight-decay: expected a finite"),
    (["--rotation", "nan"], "argument --rotation: expected a finite number"),
    (["--rotation", "1e300"], "argument --rotation: expected an angle"),
    (["--epochs", "0"], "argument --epochs: expected a positive integer"),
    (["--color-jitter", "0.1", "-1", "0"], "argument --color-jitter: "
                                           "expected a number >= 0"),
])
def test_bad_option_values_are_refused_while_parsing(
        tiny_data, weights_file, tmp_path, capsys, change, message):
    args = base_args(tiny_data, tmp_path / "out", weights_file) + change
    with pytest.raises(SystemExit) as stop:
        finetune.main(args)
    assert stop.value.code == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert message in error, error
    assert not (tmp_path / "out").exists()  # refused before touching a file


def test_image_folder_without_images_is_an_error(tmp_path, weights_file, capsys):
    (tmp_path / "empty").mkdir()
    assert finetune.main(base_args(tmp_path / "empty", tmp_path / "out",
                                   weights_file)) == 1
    assert "no class sub-folders" in capsys.readouterr().err


# -- weights: published names, cache, offline --------------------------------------
def test_published_name_offline_says_which_file_to_put_where(tmp_path,
                                                              monkeypatch):
    def offline(url, path):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(pretrained, "_fetch", offline)
    with pytest.raises(pretrained.WeightsError) as info:
        pretrained.resolve_weights("resnet20-cifar10", tmp_path,
                                   cache_dir=str(tmp_path / "cache"))
    message = str(info.value)
    entry = pretrained.PUBLISHED["resnet20-cifar10"]
    assert entry["url"] in message
    assert str(tmp_path / "cache" / "weights" / "resnet20-12fca82f.th") in message
    assert entry["sha256"] in message
    assert not os.listdir(tmp_path / "cache" / "weights")  # no partial file


def test_published_name_cache_hit_needs_no_network(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "_fetch", lambda url, path: pytest.fail(
        "downloaded although the cache holds the file"))
    folder = tmp_path / "cache" / "weights"
    folder.mkdir(parents=True)
    cached = folder / "resnet20-cifar10.npz"
    minidl.save(models.resnet20().state_dict(), cached, metadata={
        "architecture": "resnet20", "num_classes": 10,
        "source_sha256": pretrained.PUBLISHED["resnet20-cifar10"]["sha256"]})
    found = pretrained.resolve_weights("resnet20-cifar10", tmp_path,
                                       cache_dir=str(tmp_path / "cache"))
    assert found == str(cached)


def test_published_download_checks_sha256_then_converts(torch, tmp_path,
                                                        monkeypatch):
    from test_models import torch_cifar_resnet
    source = tmp_path / "resnet20-fake.th"
    torch.save({"state_dict": torch_cifar_resnet(torch, 20).state_dict()},
               source)
    digest = pretrained.file_sha256(source)
    entry = {"url": "https://example.invalid/resnet20-fake.th",
             "file": "resnet20-fake.th", "architecture": "resnet20",
             "sha256": digest[:8]}  # a published prefix, as torchvision's
    monkeypatch.setitem(pretrained.PUBLISHED, "fake-cifar10", entry)
    fetched = []
    monkeypatch.setattr(pretrained, "_fetch", lambda url, path: (
        fetched.append(url), open(path, "wb").write(source.read_bytes())))
    cache = str(tmp_path / "cache")
    path = pretrained.resolve_weights("fake-cifar10", tmp_path, cache_dir=cache)
    assert fetched == [entry["url"]]
    assert minidl.serialization.load_metadata(path)["source_sha256"] == digest
    # Second time: the converted file is used, nothing is fetched.
    assert pretrained.resolve_weights("fake-cifar10", tmp_path,
                                      cache_dir=cache) == path
    assert len(fetched) == 1

    # A corrupt download is deleted, with both digests in the message.
    entry["sha256"] = "0" * 64
    (tmp_path / "cache" / "weights" / "fake-cifar10.npz").unlink()
    (tmp_path / "cache" / "weights" / "resnet20-fake.th").unlink()
    with pytest.raises(pretrained.WeightsError, match="expected 0000"):
        pretrained.resolve_weights("fake-cifar10", tmp_path, cache_dir=cache)
    assert os.listdir(tmp_path / "cache" / "weights") == []


def test_torch_checkpoint_path_is_converted_once(torch, tmp_path):
    from test_models import torch_cifar_resnet
    source = tmp_path / "mine.pth"
    torch.save(torch_cifar_resnet(torch, 20).state_dict(), source)
    converted = pretrained.resolve_weights(source, tmp_path / "converted")
    assert converted == str(tmp_path / "converted" / "mine.npz")
    stamp = os.stat(converted).st_mtime_ns
    assert pretrained.resolve_weights(source, tmp_path / "converted") == converted
    assert os.stat(converted).st_mtime_ns == stamp  # not converted again


def test_published_digest_of_the_shared_resnet20():
    # The full digest, hard-coded; its first 8 digits are in the file name.
    entry = pretrained.PUBLISHED["resnet20-cifar10"]
    assert len(entry["sha256"]) == 64 and entry["sha256"].startswith("12fca82f")
    assert pretrained.PUBLISHED["resnet18-imagenet"]["sha256"] == "f37072fd"


# -- the parts -------------------------------------------------------------------------
def test_parse_freeze():
    assert parse_freeze("none") is None
    assert parse_freeze("backbone") == "backbone"
    assert parse_freeze("until:layer3") == 3
    for bad in ("until:layer0", "until:3", "all", ""):
        with pytest.raises(ValueError, match="--freeze"):
            parse_freeze(bad)


def test_freeze_marks_parameters_and_batchnorms():
    model = models.resnet18(num_classes=5)
    assert stage_count(model) == 4
    frozen_norms = apply_freeze(model, 1)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert "conv1.weight" in frozen and "layer1.1.bn2.bias" in frozen
    assert not any(n.startswith(("layer2", "fc")) for n in frozen)
    assert len(frozen_norms) == 1 + 2 * 2  # bn1 and two per block of layer1


def test_warmup_then_cosine_per_batch():
    params = [minidl.zeros(2, requires_grad=True)]
    optimizer = build_optimizer("sgd", params, lr=1.0)
    scheduler = build_scheduler("cosine", optimizer, epochs=3,
                                steps_per_epoch=4, warmup_epochs=1)
    lrs = [optimizer.param_groups[0]["lr"]]
    for _ in range(12):
        optimizer.step()
        scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs[:5], [0.1, 0.325, 0.55, 0.775, 1.0])
    expected_cosine = [(1 + np.cos(np.pi * t / 8)) / 2 for t in range(9)]
    np.testing.assert_allclose(lrs[4:], expected_cosine, atol=1e-12)


def test_onecycle_warmup_epochs_set_the_rising_phase():
    params = [minidl.zeros(2, requires_grad=True)]
    optimizer = build_optimizer("sgd", params, lr=0.5, momentum=0.9)
    scheduler = build_scheduler("onecycle", optimizer, epochs=4,
                                steps_per_epoch=5, warmup_epochs=1)
    lrs = []
    for _ in range(20):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert int(np.argmax(lrs)) == 4 and lrs[4] == pytest.approx(0.5)
    assert build_scheduler("constant", optimizer, 4, 5) is None


def test_fgsm_step_and_mixed_gradient():
    minidl.manual_seed(0)
    model = minidl.nn.Sequential(minidl.nn.Flatten(), minidl.nn.Linear(12, 3))
    images = minidl.randn(4, 3, 2, 2)
    labels = minidl.tensor(np.array([0, 1, 2, 1]))
    mean, std = [0.4, 0.5, 0.6], [0.2, 0.25, 0.5]
    attack = FGSM(0.1, mean, std)
    loss_fn = F.cross_entropy
    x = images.numpy().copy()
    model.zero_grad()
    attack.forward_backward(model, images, labels, loss_fn)
    mixed = model[1].weight.grad.numpy()

    # By hand: the input gradient's sign, a step of eps / std, the clip.
    probe = minidl.tensor(x, requires_grad=True)
    input_grad, = minidl.grad(loss_fn(model(probe), labels), [probe])
    step = 0.1 / np.array(std, np.float32).reshape(1, 3, 1, 1)
    low = (0 - np.array(mean, np.float32).reshape(1, 3, 1, 1)) / \
        np.array(std, np.float32).reshape(1, 3, 1, 1)
    high = (1 - np.array(mean, np.float32).reshape(1, 3, 1, 1)) / \
        np.array(std, np.float32).reshape(1, 3, 1, 1)
    adversarial = np.clip(x + step * np.sign(input_grad.numpy()), low, high)
    model.zero_grad()
    (0.5 * loss_fn(model(minidl.tensor(x)), labels)
     + 0.5 * loss_fn(model(minidl.tensor(adversarial.astype(np.float32))),
                     labels)).backward()
    np.testing.assert_allclose(mixed, model[1].weight.grad.numpy(), rtol=1e-5,
                               atol=1e-7)


def test_best_tracker_and_patience():
    tracker = BestTracker(patience=2)
    confusion = np.eye(2, dtype=np.int64)
    for epoch, accuracy in enumerate([0.5, 0.7, 0.7, 0.6], start=1):
        tracker.update(epoch, EvalResult(1.0, accuracy, confusion, 0.0))
    assert tracker.best_epoch == 2 and tracker.should_stop
    restored = BestTracker(patience=2)
    restored.load_state_dict(tracker.state_dict())
    assert restored.best_epoch == 2 and restored.should_stop


def test_progress_bar_into_a_file_writes_lines():
    stream = io.StringIO()  # not a terminal: no carriage returns
    bar = ProgressBar(total=3, prefix="epoch 1", stream=stream)
    for loss in (1.0, 2.0, 3.0):
        bar.update(images=10, loss=np.float32(loss))
    bar.close()
    text = stream.getvalue()
    assert "\r" not in text and text.count("\n") == 1
    assert "3/3 loss 2.0000" in text and " img/s in 0:00" in text


@pytest.mark.parametrize("given, expected", [([], 0), (["--num-workers", "3"], 3)])
def test_loader_threads_default_to_none_on_the_cpu(tiny_data, weights_file,
                                                   tmp_path, monkeypatch,
                                                   given, expected):
    """On the CPU, loader threads could save at most the ~1% of a step that
    making a batch costs (training/data.py: default_num_workers), so there
    are none by default; --num-workers overrides."""
    made = []

    def recording_loader(*args, **kwargs):
        made.append(kwargs["num_workers"])
        return DataLoader(*args, **kwargs)
    monkeypatch.setattr(finetune, "DataLoader", recording_loader)
    args = base_args(tiny_data, tmp_path / "out", weights_file, "--epochs",
                     "1", "--limit-train-batches", "1")
    at = args.index("--num-workers")
    del args[at:at + 2]  # base_args gives one; this test chooses
    assert finetune.main(args + given) == 0
    assert made == [expected]
