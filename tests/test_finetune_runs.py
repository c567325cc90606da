"""The fine-tuning command under faults (issue 11): divergence, kills
between two saves, two runs at once, an old run in --out, Ctrl-C and
SIGTERM between two steps, extending a finished run, bad --out folders,
messages, file modes, the log's step rows and TensorBoard.

The runs are tiny (3 classes x 12 images of 16x16, a ResNet-20, 4 steps
per epoch) and most run in-process; the kills (SIGKILL) run the command in
a subprocess, with the test hook of ``minidl.training.run_files``.
"""
import contextlib
import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

import minidl
from minidl import finetune, models
from minidl.data import ImageFolder
from minidl.serialization import load_metadata
from minidl.training import run_files
from minidl.training.run_files import RunFolder

from test_finetune import (AUGMENTED, base_args, write_image_folder,
                           write_random_resnet20)

FULL = AUGMENTED + ["--batch-size", "4", "--log-every", "2"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp("runs-data") / "images")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_random_resnet20(
        tmp_path_factory.mktemp("runs-weights") / "resnet20-random.npz")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("runs-cache"))


@pytest.fixture(autouse=True)
def _one_thread_and_cache(cache, monkeypatch):
    monkeypatch.setenv("MINIDL_CACHE", cache)
    before = minidl.get_num_threads()
    minidl.set_num_threads(1)
    yield
    minidl.set_num_threads(before)


def quiet_main(argv):
    """finetune.main with its stdout kept: (status, stdout)."""
    capture = io.StringIO()
    with contextlib.redirect_stdout(capture):
        status = finetune.main([str(a) for a in argv])
    return status, capture.getvalue()


@pytest.fixture(scope="module")
def full(data, weights, cache, tmp_path_factory):
    """An uninterrupted two-epoch run, 7 steps per epoch, with step rows
    every 2 steps; epoch 2 is better than epoch 0 (and epoch 1 ties)."""
    out = tmp_path_factory.mktemp("runs-full")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINIDL_CACHE", cache)
        minidl.set_num_threads(1)
        status, _ = quiet_main(base_args(data, out, weights, *FULL))
    assert status == 0
    return out


def rows_of(path):
    """The log's rows; strict JSON (a bare NaN or Infinity fails)."""
    def refuse(name):
        raise AssertionError(f"log.jsonl holds a bare {name}")
    with open(path) as handle:
        return [json.loads(line, parse_constant=refuse) for line in handle]


def arrays(path):
    state = minidl.load(path)
    state = state.get("model", state)
    return {key: value.numpy() for key, value in state.items()}


def assert_same_weights(path, reference):
    found, expected = arrays(path), arrays(reference)
    assert found.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(found[key], expected[key], err_msg=key)


def assert_same_run(out, reference):
    """model.npz, last.npz and the report of `out` are those of `reference`,
    and the derived files agree with last.npz."""
    assert_same_weights(out / "model.npz", reference / "model.npz")
    assert_same_weights(out / "last.npz", reference / "last.npz")
    report = json.loads((out / "report.json").read_text())
    expected = json.loads((reference / "report.json").read_text())
    assert report["best_epoch"] == expected["best_epoch"]
    assert report["validation"] == expected["validation"]
    assert_consistent(out)


def assert_same_log(out, reference):
    """The same rows, apart from the timings."""
    rows, expected = rows_of(out / "log.jsonl"), rows_of(reference / "log.jsonl")
    assert len(rows) == len(expected)
    for key in ("step", "epoch", "batch", "loss", "lr", "train_loss",
                "train_accuracy", "val_loss", "val_accuracy"):
        assert [r.get(key) for r in rows] == [r.get(key) for r in expected], key


def assert_consistent(out):
    """best.npz, model.npz and report.json name the best epoch of last.npz."""
    state, last = minidl.load(out / "last.npz", with_metadata=True)
    best_epoch = state["tracker"]["best_epoch"]
    best = load_metadata(out / "best.npz")
    assert best["best_epoch"] == best_epoch
    best_weights = {k: v.numpy() for k, v in state["best_model"].items()}
    for key, value in arrays(out / "best.npz").items():
        np.testing.assert_array_equal(value, best_weights[key], err_msg=key)
    if (out / "model.npz").exists():
        assert load_metadata(out / "model.npz")["best_epoch"] == best_epoch
        assert_same_weights(out / "model.npz", out / "best.npz")
    if (out / "report.json").exists():
        assert json.loads((out / "report.json").read_text())["best_epoch"] == \
            best_epoch


def run_killed(argv, kill_after, cwd=ROOT):
    """Run the command in a subprocess that SIGKILLs itself right after
    `kill_after` (e.g. 'last.npz@2') is renamed into place."""
    env = dict(os.environ, MINIDL_NUM_THREADS="1",
               **{run_files.KILL_HOOK: kill_after})
    process = subprocess.run(
        # --threads 1 as in this process (it also puts BLAS on one thread).
        [sys.executable, "-m", "minidl.finetune", "--threads", "1"] +
        [str(a) for a in argv],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert process.returncode == -signal.SIGKILL, process.stderr
    return process


# -- 1. divergence -------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN arithmetic
def test_diverged_run_exits_1_naming_a_checkpoint_that_exists(data, weights,
                                                              tmp_path, capsys):
    out = tmp_path / "out"
    status, _ = quiet_main(base_args(data, out, weights, "--lr", "1e6",
                                     "--epochs", "1", "--schedule", "constant",
                                     "--limit-train-batches", "1"))
    assert status == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: training diverged: ") and \
        "lower --lr" in error, error
    named = error.split("the last good checkpoint is ")[1].split(" (")[0]
    assert named == str(out / "last.npz") and (out / "last.npz").is_file()
    assert "(epoch 0)" in error
    # Nothing diverged on disk: last.npz and best.npz hold the start.
    for name in ("last.npz", "best.npz"):
        for key, value in arrays(out / name).items():
            assert np.isfinite(value).all(), (name, key)
    assert not (out / "model.npz").exists()
    rows_of(out / "log.jsonl")  # strict JSON


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_non_finite_step_loss_stops_at_the_step_row(data, weights, tmp_path,
                                                    capsys):
    status, _ = quiet_main(base_args(data, tmp_path / "out", weights,
                                     "--lr", "1e30", "--epochs", "1",
                                     "--schedule", "constant",
                                     "--log-every", "2"))
    assert status == 1
    error = capsys.readouterr().err
    assert "the training loss is nan at step 2 (epoch 1)" in error, error
    rows = rows_of(tmp_path / "out" / "log.jsonl")
    assert [row.get("step") for row in rows] == [None]  # epoch 0 only


def test_starting_weights_compete_for_best(data, full, tmp_path):
    # A frozen backbone (its BatchNorm statistics too) and a learning rate
    # too small to change the head: epoch 1 ties epoch 0, and the earlier
    # (the weights the user started from) is kept.
    out = tmp_path / "out"
    status, _ = quiet_main(base_args(data, out, full / "model.npz", "--lr",
                                     "1e-30", "--epochs", "1", "--schedule",
                                     "constant", "--weight-decay", "0",
                                     "--freeze", "backbone"))
    assert status == 0
    report = json.loads((out / "report.json").read_text())
    assert report["best_epoch"] == 0
    assert report["validation"]["accuracy"] == \
        report["before_training"]["val_accuracy"]
    assert_same_weights(out / "model.npz", full / "model.npz")


# -- 2. a kill between two saves; 8. orphaned temporary files -------------------
def test_sigkill_between_two_saves_then_resume_is_consistent(data, weights,
                                                             full, tmp_path):
    expected_best = json.loads((full / "report.json").read_text())["best_epoch"]
    assert expected_best == 2  # so epoch 2's save changes best.npz
    out = tmp_path / "out"
    # The 3rd last.npz is epoch 2's; the kill falls before its best.npz.
    run_killed(base_args(data, out, weights, *FULL), "last.npz@3")
    state, metadata = minidl.load(out / "last.npz", with_metadata=True)
    assert metadata["epoch"] == 2 and state["tracker"]["best_epoch"] == 2
    assert load_metadata(out / "best.npz")["best_epoch"] == 0
    (out / ".last.npz.orphan.tmp").write_bytes(b"x" * 1000)  # a killed save
    (out / "curves.png.tmp.png").write_bytes(b"x")
    # Resumed, and killed again between model.npz and the report.
    run_killed(["--resume", out / "last.npz"], "model.npz")
    assert not (out / "report.json").exists()
    assert_consistent(out)
    assert [name for name in os.listdir(out) if run_files.is_temporary(name)] \
        == []
    status, _ = quiet_main(["--out", out, "--resume"])
    assert status == 0
    assert_same_run(out, full)
    assert_same_log(out, full)


# -- 3. the lock; 4. an earlier run in --out --------------------------------------
def test_a_second_run_into_a_locked_folder_is_refused(data, weights, tmp_path,
                                                      capsys):
    out = tmp_path / "out"
    with RunFolder(out):
        status, _ = quiet_main(base_args(data, out, weights))
    assert status == 1
    error = capsys.readouterr().err
    assert f"is in use by process {os.getpid()}" in error, error
    assert os.listdir(out) == [".lock"]


def test_a_stale_lock_file_does_not_block(data, weights, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".lock").write_text("999999\n")  # a killed run's: no flock held
    status, _ = quiet_main(base_args(data, out, weights, "--epochs", "1",
                                     "--limit-train-batches", "1"))
    assert status == 0


def test_a_fresh_run_into_an_earlier_run_is_refused(data, weights, full,
                                                    tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(full, out)
    before = {name: (out / name).read_bytes() for name in os.listdir(out)
              if name != ".lock"}
    status, _ = quiet_main(base_args(data, out, weights, "--epochs", "1"))
    assert status == 1
    error = capsys.readouterr().err
    assert "already holds a run" in error and "--resume" in error and \
        "--overwrite" in error, error
    for name, content in before.items():
        assert (out / name).read_bytes() == content, name
    status, _ = quiet_main(base_args(data, out, weights, "--epochs", "1",
                                     "--limit-train-batches", "1",
                                     "--overwrite"))
    assert status == 0
    assert load_metadata(out / "last.npz")["epoch"] == 1
    assert [row["epoch"] for row in rows_of(out / "log.jsonl")] == [0, 1]


# -- 5. Ctrl-C and SIGTERM between two steps -------------------------------------
def signal_at_step(monkeypatch, number, at_step):
    """Send signal `number` to this process after global step `at_step`."""
    original = finetune.StepLogger.__call__

    def after_step(self, progress, loss, lr, images):
        if finetune.global_step(self.run) == at_step:
            os.kill(os.getpid(), number)
        return original(self, progress, loss, lr, images)

    monkeypatch.setattr(finetune.StepLogger, "__call__", after_step)


@pytest.mark.parametrize("number, at_step, status", [
    (signal.SIGTERM, 9, 143), (signal.SIGINT, 2, 130)])
def test_signal_between_steps_saves_and_resumes_bit_for_bit(
        data, weights, full, tmp_path, monkeypatch, capsys, number, at_step,
        status):
    # Relative paths, resumed from another folder: the checkpoint keeps
    # absolute ones.
    work = tmp_path / "work"
    shutil.copytree(data, work / "images")
    shutil.copy(weights, work / "weights.npz")
    monkeypatch.chdir(work)
    signal_at_step(monkeypatch, number, at_step)
    argv = base_args("images", "out", "weights.npz", *FULL)
    assert quiet_main(argv)[0] == status
    error = capsys.readouterr().err.strip().splitlines()[-1]
    name = "SIGTERM" if number == signal.SIGTERM else "SIGINT (Ctrl-C)"
    epoch, batch = (at_step - 1) // 7 + 1, (at_step - 1) % 7 + 1
    assert error == ("stopped by {}; {} (epoch {}, {} of its 7 steps) holds the "
                     "run. Continue with: --resume {}".format(
                         name, work / "out" / "last.npz", epoch, batch,
                         work / "out" / "last.npz")), error
    position = load_metadata(work / "out" / "last.npz")["position"]
    assert (position["epoch"], position["batch"]) == (epoch, batch)
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    assert quiet_main(["--resume", work / "out" / "last.npz"])[0] == 0
    assert_same_run(work / "out", full)
    assert_same_log(work / "out", full)


def test_ctrl_c_during_the_first_evaluation_prints_one_line(
        data, weights, tmp_path, monkeypatch, capsys):
    def interrupted_evaluation(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        raise AssertionError("the handler should have raised")

    monkeypatch.setattr(finetune, "evaluate", interrupted_evaluation)
    status, _ = quiet_main(base_args(data, tmp_path / "out", weights))
    assert status == 130
    error = capsys.readouterr().err.strip()
    assert error == "interrupted before training started; nothing was saved " \
        "(run the command again)", error
    monkeypatch.undo()
    status, _ = quiet_main(base_args(data, tmp_path / "out", weights,
                                     "--epochs", "1",
                                     "--limit-train-batches", "1"))
    assert status == 0  # nothing of a run was left: a fresh run may start


def test_ctrl_c_during_an_epochs_validation_keeps_its_training(
        data, weights, full, tmp_path, monkeypatch, capsys):
    calls = []
    original = finetune.evaluate

    def interrupted_second_evaluation(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # epoch 1's validation
            os.kill(os.getpid(), signal.SIGINT)
        return original(*args, **kwargs)

    monkeypatch.setattr(finetune, "evaluate", interrupted_second_evaluation)
    out = tmp_path / "out"
    assert quiet_main(base_args(data, out, weights, *FULL))[0] == 130
    assert "(epoch 1, 7 of its 7 steps) holds the run" in capsys.readouterr().err
    monkeypatch.undo()
    assert quiet_main(["--resume", out / "last.npz"])[0] == 0
    assert_same_run(out, full)
    assert_same_log(out, full)


def test_checkpoint_every_n_steps(data, weights, tmp_path, monkeypatch):
    saves = []
    original = finetune.save

    def recording_save(run, position=None):
        original(run, position)
        saves.append(load_metadata(run.path("last.npz"))["position"])

    monkeypatch.setattr(finetune, "save", recording_save)
    status, _ = quiet_main(base_args(data, tmp_path / "out", weights,
                                     "--checkpoint-every", "3"))
    assert status == 0
    positions = [None if p is None else (p["epoch"], p["batch"]) for p in saves]
    # epoch 0, step 3 (epoch 1 batch 3), epoch 1, step 6 (epoch 2 batch 2),
    # epoch 2; no mid-epoch save at an epoch's last step.
    assert positions == [None, (1, 3), None, (2, 2), None]


# -- 7. extending a finished run ---------------------------------------------------
def test_extending_a_onecycle_run_is_refused_before_touching_files(
        full, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(full, out)
    before = {name: (out / name).stat().st_mtime_ns for name in os.listdir(out)}
    status, _ = quiet_main(["--resume", out / "last.npz", "--epochs", "3"])
    assert status == 1
    error = capsys.readouterr().err
    assert "onecycle schedule was planned for 2 epochs and cannot be " \
        "stretched or extended" in error, error
    assert {name: (out / name).stat().st_mtime_ns
            for name in os.listdir(out)} == before


def test_extending_a_constant_schedule_goes_on(data, weights, tmp_path):
    short, longer = tmp_path / "short", tmp_path / "long"
    options = ["--schedule", "constant", "--limit-train-batches", "2"]
    assert quiet_main(base_args(data, short, weights, "--epochs", "1",
                                *options))[0] == 0
    assert quiet_main(["--resume", short / "last.npz", "--epochs", "2"])[0] == 0
    assert quiet_main(base_args(data, longer, weights, "--epochs", "2",
                                *options))[0] == 0
    assert_same_weights(short / "last.npz", longer / "last.npz")
    help_text = " ".join(finetune.build_parser().format_help().split())
    assert "--resume with a larger --epochs: a constant or step schedule goes " \
        "on" in help_text and "cannot be extended" in help_text


# -- 9. --out that cannot be used ---------------------------------------------------
@pytest.mark.parametrize("where", ["file", "under-file"])
def test_out_that_is_a_file_is_one_line(data, weights, tmp_path, capsys, where):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" if where == "file" else tmp_path / "file" / "out"
    status, _ = quiet_main(base_args(data, out, weights))
    assert status == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: --out {out}: ") and \
        "\n" not in error, error


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_out_not_writable_is_one_line(data, weights, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    status, _ = quiet_main(base_args(data, locked / "out", weights))
    assert status == 1
    assert "Permission denied" in capsys.readouterr().err


def test_full_disk_is_one_line(data, weights, tmp_path, monkeypatch, capsys):
    def full_disk(file, arrays):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(minidl.serialization, "_write_archive", full_disk)
    status, _ = quiet_main(base_args(data, tmp_path / "out", weights))
    assert status == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == "error: cannot write into --out {}: {}".format(
        tmp_path / "out", os.strerror(errno.ENOSPC)), error


# -- 11. messages ---------------------------------------------------------------------
def test_wrong_arch_for_the_weights_says_which_to_use(data, weights, tmp_path,
                                                      capsys):
    bare = tmp_path / "bare.npz"  # no metadata: the keys tell
    minidl.save(models.resnet20().state_dict(), bare)
    for given in (weights, bare):
        args = base_args(data, tmp_path / "out", given)
        args[args.index("--arch") + 1] = "resnet56"
        assert quiet_main(args)[0] == 1
        error = capsys.readouterr().err.strip()
        assert "holds a resnet20" in error and \
            "use --arch resnet20, or leave --arch out" in error, error
        assert "180 missing keys (layer1.3.conv1.weight, " in error, error
        assert len(error) < 400


def test_wrong_arch_for_a_torch_checkpoint(data, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    source = tmp_path / "r20.th"
    torch.save({key: torch.from_numpy(value.numpy().copy()) for key, value in
                models.resnet20().state_dict().items()}, source)
    args = base_args(data, tmp_path / "out", source)
    args[args.index("--arch") + 1] = "resnet56"
    assert quiet_main(args)[0] == 1
    error = capsys.readouterr().err.strip()
    assert "use --arch resnet20, or leave --arch out" in error and \
        len(error) < 400, error


def test_no_torch_message_is_complete(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from minidl.convert import ConversionError, read_torch_checkpoint
    source = tmp_path / "r.th"
    torch.save({"w": torch.zeros(1)}, source)
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ConversionError, match="needs torch .pip install "
                       "torch.; the converted .npz file it writes is then "
                       "read without torch"):
        read_torch_checkpoint(source)


def test_a_one_class_folder_is_refused(weights, tmp_path, capsys):
    one = write_image_folder(tmp_path / "one", classes=["cat"])
    assert quiet_main(base_args(one, tmp_path / "out", weights))[0] == 1
    assert "has a single class (cat)" in capsys.readouterr().err


# -- 12. file modes, the cache by content ------------------------------------------------
def test_files_honour_the_umask_and_the_cache_is_keyed_by_content(
        data, weights, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("MINIDL_CACHE", str(cache))
    previous = os.umask(0o027)
    try:
        status, _ = quiet_main(base_args(data, tmp_path / "out", weights,
                                         "--epochs", "1",
                                         "--limit-train-batches", "1"))
        copy = shutil.copytree(data, tmp_path / "elsewhere" / "images")
        again = ImageFolder(copy)
    finally:
        os.umask(previous)
    assert status == 0
    for name in ("last.npz", "best.npz", "model.npz", "log.jsonl",
                 "report.json", "report.txt", "curves.png"):
        assert (tmp_path / "out" / name).stat().st_mode & 0o777 == 0o640, name
    cached = os.listdir(cache / "imagefolder")
    assert len(cached) == 1 and again.loaded_from_cache  # one decoded copy
    assert (cache / "imagefolder" / cached[0]).stat().st_mode & 0o777 == 0o640


# -- 13. step rows, curves, TensorBoard --------------------------------------------------
def test_step_rows_in_the_log(full):
    rows = rows_of(full / "log.jsonl")
    steps = [row for row in rows if "step" in row]
    assert [row["step"] for row in steps] == [2, 4, 6, 8, 10, 12, 14]
    for row in steps:
        assert set(row) == {"step", "epoch", "batch", "loss", "lr",
                            "images_per_second"}
        assert np.isfinite(row["loss"]) and row["lr"] > 0
    assert [row["epoch"] for row in rows if "step" not in row] == [0, 1, 2]
    assert (full / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_tensorboard_missing_says_how_to_install(data, weights, tmp_path,
                                                 monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    status, _ = quiet_main(base_args(data, tmp_path / "out", weights,
                                     "--tensorboard", tmp_path / "tb"))
    assert status == 1
    assert "pip install minidl[tensorboard]" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_tensorboard_event_files(data, weights, tmp_path):
    pytest.importorskip("tensorboardX")
    status, _ = quiet_main(base_args(data, tmp_path / "out", weights,
                                     "--epochs", "1", "--log-every", "2",
                                     "--tensorboard", tmp_path / "tb"))
    assert status == 0
    events = [name for name in os.listdir(tmp_path / "tb")
              if name.startswith("events.out.tfevents")]
    assert events and os.path.getsize(tmp_path / "tb" / events[0]) > 100
