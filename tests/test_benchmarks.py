"""The benchmark runner and the profiler, run small: they must keep working
(and keep writing where they say) as the code they measure changes."""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # benchmarks/ is a folder of the repository

from benchmarks import profile, run  # noqa: E402
from benchmarks.finetune_case import STEPS_PER_RUN  # noqa: E402


def test_runner_times_both_frameworks_and_writes_json_and_markdown(
        tmp_path, torch, capsys):
    stem = tmp_path / "smoke"
    run.main(["--cases", "cross_entropy,batch_norm", "--repeats", "2",
              "--threads", "1", "--no-memory", "--out", str(stem)])
    report = json.loads((tmp_path / "smoke.json").read_text())
    for name in ("cross_entropy", "batch_norm"):
        entry = report["cases"][name]
        # At least the 2 asked for (small layers run in blocks of 4).
        assert len(entry["minidl"]["wall_ms"]) >= 2
        assert len(entry["torch"]["wall_ms"]) >= 2
        assert entry["ratio"] > 0
    table = (tmp_path / "smoke.md").read_text()
    assert "| cross_entropy |" in table and "| batch_norm |" in table


class _IdleWorker:
    def __init__(self, framework, args):
        pass

    def ask(self, **request):
        return {}

    def close(self):
        pass


def test_a_bare_out_name_goes_to_the_results_folder(monkeypatch):
    written = []
    monkeypatch.setattr(run, "atomic_write",
                        lambda path, write: written.append(path))
    monkeypatch.setattr(run, "Worker", _IdleWorker)
    monkeypatch.setattr(run, "time_cases", lambda *args: {})
    run.main(["--cases", "cross_entropy", "--no-memory", "--out", "smoke"])
    assert written == [os.path.join(run.RESULTS, "smoke.json"),
                       os.path.join(run.RESULTS, "smoke.md")]


def test_profile_accounts_for_ops_and_matrix_products(tmp_path):
    import minidl
    out = tmp_path / "profile.md"
    threads = minidl.get_num_threads()
    try:
        profile.main(["--steps", "1", "--threads", "1", "--top", "5",
                      "--out", str(out)])
    finally:
        minidl.set_num_threads(threads)
    text = out.read_text()
    assert "| backward | Conv2dWeight.forward |" in text
    assert "Matrix products: " in text and "GFLOP/s" in text
    # ResNet-20 at batch 128: 31.0 by im2col alone; its ten 3x3 convolutions
    # of 32 and 64 channels by Winograd take about a third of their 1.8
    # GFLOP each (forward, dx and dW; the transforms counted).
    assert "19.4 GFLOP per step" in text


def test_finetune_cases_time_real_steps_on_an_image_folder(tmp_path, torch,
                                                           monkeypatch):
    from test_finetune import write_image_folder
    monkeypatch.setenv("MINIDL_CACHE", str(tmp_path / "cache"))
    data = write_image_folder(tmp_path / "images", per_class=8, size=32)
    stem = tmp_path / "finetune"
    run.main(["--cases", "finetune_steps", "--repeats",
              "1", "--threads", "1", "--no-memory", "--data", str(data),
              "--out", str(stem)])
    report = json.loads((tmp_path / "finetune.json").read_text())
    entry = report["cases"]["finetune_steps"]
    for framework in ("minidl", "torch"):
        assert "error" not in entry[framework], entry[framework]
        # One run of several steps; the times reported are per step.
        assert entry[framework]["steps_per_run"] == STEPS_PER_RUN > 1
        per_step, = entry[framework]["wall_ms"]
        assert abs(per_step - entry[framework]["median_ms"]) < 1e-2
    assert entry["ratio"] > 0


def test_finetune_cases_need_an_image_folder(capsys):
    import pytest
    with pytest.raises(SystemExit) as stopped:
        run.main(["--cases", "finetune_steps", "--no-memory"])
    assert stopped.value.code == 2
    assert "needs --data" in capsys.readouterr().err
