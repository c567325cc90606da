"""The numbered examples run, on small sizes, and say what they should.

Each example runs in a subprocess from a temporary folder (its outputs go
to ``runs/examples/`` there), as a user would run it; the test checks the
exit status, the last line it printed and the files it wrote. Examples
that need real data run with ``--synthetic``; the parts that read an image
folder are checked on a tiny folder written here.
"""
import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")


def run_example(name, *arguments, cwd, timeout=120, prelude=None):
    """Run examples/`name` with `arguments` in `cwd`. Returns (exit status,
    lines printed). With `prelude` (Python code), run it first in the same
    interpreter, then the example as __main__."""
    script = os.path.join(EXAMPLES, name)
    if prelude is None:
        command = [sys.executable, script] + list(arguments)
    else:
        code = ("import runpy, sys\n{}\nsys.argv = {!r}\n"
                "runpy.run_path({!r}, run_name='__main__')\n").format(
                    prelude, [script] + list(arguments), script)
        command = [sys.executable, "-c", code]
    env = dict(os.environ)
    # One BLAS thread: these small products only lose time to more on a
    # busy machine.
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("MPLBACKEND", "Agg")
    result = subprocess.run(command, cwd=str(cwd), env=env, capture_output=True,
                            text=True, timeout=timeout)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return result.returncode, lines, result.stderr


def assert_succeeded(name, status, lines, stderr, pattern):
    """Exit status 0 and a last line matching `pattern`."""
    detail = "\n".join(lines[-15:]) + "\n" + stderr[-3000:]
    assert status == 0, "{} exited with {}:\n{}".format(name, status, detail)
    assert lines and re.search(pattern, lines[-1]), \
        "{}: unexpected last line:\n{}".format(name, detail)


def load_example(name):
    """An example as a module (its functions, without running main). The
    examples' folder goes on sys.path, as when a script runs, so that they
    can import small_data.py beside them."""
    if EXAMPLES not in sys.path:
        sys.path.insert(0, EXAMPLES)
    spec = importlib.util.spec_from_file_location(
        "example_" + name[:2], os.path.join(EXAMPLES, name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- 1 to 3: autograd ---------------------------------------------------------

def test_01_autograd_matches_the_chain_rule_and_writes_the_graph(tmp_path):
    status, lines, stderr = run_example("01_autograd.py", cwd=tmp_path)
    assert_succeeded("01", status, lines, stderr,
                     r"match the chain rule by hand: OK$")
    dot = tmp_path / "runs" / "examples" / "01_graph.dot"
    text = dot.read_text()
    assert text.startswith("digraph") and "Tanh" in text and "Mul" in text


def test_02_gradcheck_passes_right_ops_and_catches_the_wrong_one(tmp_path):
    status, lines, stderr = run_example("02_gradcheck.py", cwd=tmp_path)
    assert_succeeded("02", status, lines, stderr,
                     r"^4 ops pass gradcheck and gradgradcheck; the wrong "
                     r"backward was caught: OK$")
    assert any(line.startswith("wrong backward caught: gradcheck failed")
               for line in lines)


def test_03_second_derivatives(tmp_path):
    status, lines, stderr = run_example("03_higher_order.py", cwd=tmp_path)
    assert_succeeded("03", status, lines, stderr, r"penalty fell: OK$")


# -- 4: training a CNN --------------------------------------------------------

def test_04_loss_falls_and_the_curve_is_saved(tmp_path):
    status, lines, stderr = run_example(
        "04_train_small_cnn.py", "--synthetic", "--per-class", "40", "--size",
        "16", "--epochs", "8", cwd=tmp_path)
    assert_succeeded("04", status, lines, stderr,
                     r"^training loss fell from \d\.\d+ to \d\.\d+; held-out "
                     r"accuracy .*: as expected$")
    first, last = map(float, re.findall(r"fell from ([\d.]+) to ([\d.]+)",
                                        lines[-1])[0])
    assert last < 0.9 * first
    pytest.importorskip("matplotlib")
    png = tmp_path / "runs" / "examples" / "04_loss_curve.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_04_needs_data_or_synthetic(tmp_path):
    status, _, stderr = run_example("04_train_small_cnn.py", "--epochs", "1",
                                    cwd=tmp_path)
    assert status == 2 and "give either --data PATH or --synthetic" in stderr


def write_folder(root, classes=3, per_class=5, size=8):
    """root/class_k/NNN.png: `per_class` images of value 10 * k + i."""
    from PIL import Image
    for k in range(classes):
        os.makedirs(os.path.join(root, "class_{}".format(k)))
        for i in range(per_class):
            pixels = np.full((size, size, 3), 10 * k + i, np.uint8)
            Image.fromarray(pixels).save(
                os.path.join(root, "class_{}".format(k), "{:03d}.png".format(i)))


def test_the_folder_slice_takes_the_first_images_of_each_class(tmp_path):
    """examples/small_data.py's folder_slice, which examples 04 and 07 use."""
    pytest.importorskip("PIL")
    write_folder(str(tmp_path))
    images, labels, classes = load_example("small_data.py").folder_slice(
        str(tmp_path), 2, max_classes=2)
    assert classes == ["class_0", "class_1"]
    assert images.shape == (4, 8, 8, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, [0, 0, 1, 1])
    np.testing.assert_array_equal(images[:, 0, 0, 0], [0, 1, 10, 11])


# -- 5: converting a checkpoint -----------------------------------------------

def test_05_minidl_logits_match_torch_on_a_random_resnet20(tmp_path, torch):
    status, lines, stderr = run_example("05_convert_and_check.py", "--images",
                                        "4", cwd=tmp_path)
    assert_succeeded("05", status, lines, stderr,
                     r"^max \|minidl - torch\| = \S+ .* over 4 images x 10 "
                     r"classes; same prediction for 4/4: OK$")
    difference = float(re.search(r"= (\S+) ", lines[-1]).group(1))
    assert difference < 1e-4
    assert (tmp_path / "runs" / "examples" / "05" / "resnet20-random.npz").is_file()


def test_05_without_torch_says_so_and_stops_cleanly(tmp_path):
    status, lines, stderr = run_example(
        "05_convert_and_check.py", cwd=tmp_path,
        prelude="sys.modules['torch'] = None  # import torch now fails")
    assert_succeeded("05 without torch", status, lines, stderr,
                     r"^torch is not installed: .* stopping here, nothing was "
                     r"checked$")


# -- 6: fine-tuning -----------------------------------------------------------

def test_06_both_strategies_improve_on_the_new_head(tmp_path):
    pytest.importorskip("PIL")
    status, lines, stderr = run_example(
        "06_finetune.py", "--synthetic", "--per-class", "30", "--size", "16",
        "--epochs", "3", cwd=tmp_path)
    assert_succeeded("06", status, lines, stderr,
                     r"^validation loss from \S+ \(a new head, .*\): freeze "
                     r"backbone -> \S+ \(.*\), fine-tune all -> \S+ \(.*\): both "
                     r"improved, as expected$")
    out = tmp_path / "runs" / "examples" / "06"
    for run in ("freeze-backbone", "freeze-none"):
        assert (out / run / "model.npz").is_file()
        assert (out / run / "report.json").is_file()
    table = "\n".join(lines)
    trainable = re.search(r"trainable parameters +([\d,]+) +([\d,]+)", table)
    frozen, everything = (int(n.replace(",", "")) for n in trainable.groups())
    assert frozen == 64 * 3 + 3 and everything > 250000  # resnet20, 3 classes


def test_06_copies_a_slice_of_the_folder(tmp_path):
    pytest.importorskip("PIL")
    source, destination = tmp_path / "source", tmp_path / "slice"
    write_folder(str(source), classes=3, per_class=4)
    names = load_example("06_finetune.py").copy_slice(str(source), str(destination),
                                                      classes=2, per_class=3)
    assert names == ["class_0", "class_1"]
    assert sorted(os.listdir(destination)) == names
    for name in names:
        assert sorted(os.listdir(destination / name)) == ["000.png", "001.png",
                                                          "002.png"]


def test_06_with_a_torch_checkpoint_but_no_torch_stops_cleanly(tmp_path):
    pytest.importorskip("PIL")
    write_folder(str(tmp_path / "images"))
    (tmp_path / "weights.th").write_bytes(b"not read")
    status, lines, stderr = run_example(
        "06_finetune.py", "--data", "images", "--weights", "weights.th",
        cwd=tmp_path, prelude="sys.modules['torch'] = None")
    assert_succeeded("06 without torch", status, lines, stderr,
                     r"^torch is not installed: .*weights\.th.*stopping here$")


# -- 7: adversarial examples --------------------------------------------------

def test_07_adversarial_fine_tuning_makes_the_model_more_robust(tmp_path):
    status, lines, stderr = run_example(
        "07_adversarial.py", "--synthetic", "--per-class", "60", "--size", "24",
        "--epochs", "6", "--finetune-epochs", "6", cwd=tmp_path)
    assert_succeeded("07", status, lines, stderr,
                     r"^accuracy under FGSM: \S+ before, \S+ after adversarial "
                     r"fine-tuning \(\S+ after clean fine-tuning\): more robust, "
                     r"as expected$")
    before, after, control = (float(v) for v in re.findall(r"([\d.]+)%",
                                                            lines[-1]))
    assert after > before and after > control
    # The attack moves no pixel by more than eps = 8/255.
    example = next(line for line in lines if line.startswith("one held-out"))
    assert float(re.search(r"more than ([\d.]+)\)", example).group(1)) <= \
        8 / 255 + 1e-4


# -- 8: attention and a tiny Transformer ----------------------------------------

def test_08_attention_checks_out_and_a_transformer_learns_to_reverse(tmp_path):
    status, lines, stderr = run_example("08_attention.py", "--steps", "100",
                                        cwd=tmp_path)
    assert_succeeded("08", status, lines, stderr,
                     r"^reversing 6 digits: .* right after 100 steps .*: "
                     r"learned$")
    assert "gradcheck True, gradgradcheck True (causal=True)" in lines
    accuracy = float(re.findall(r"digits: ([\d.]+)%", lines[-1])[0])
    assert accuracy > 90


def test_train_vit_runs_on_a_tiny_folder(tmp_path):
    """examples/train_vit.py on 8x8 images: one epoch of a one-block ViT."""
    pytest.importorskip("PIL")
    data = tmp_path / "data"
    write_folder(str(data), classes=3, per_class=6, size=8)
    status, lines, stderr = run_example(
        "train_vit.py", "--data", str(data), "--epochs", "2", "--patch-size",
        "4", "--hidden-dim", "8", "--mlp-dim", "16", "--num-layers", "1",
        "--num-heads", "2", "--batch-size", "4", "--val-split", "0.2",
        cwd=tmp_path)
    assert_succeeded("train_vit", status, lines, stderr,
                     r"^after 2 epochs: held-out accuracy [\d.]+% \(chance "
                     r"33%\), \d+ s per training epoch$")
    assert lines[0].startswith("ViT: 8x8 images, 4x4 patches (5 tokens)")
# -- 9: LoRA ------------------------------------------------------------------

def test_09_lora_trains_few_parameters_and_merges_into_the_same_outputs(tmp_path):
    status, lines, stderr = run_example(
        "09_lora.py", "--synthetic", "--per-class", "40", "--size", "16",
        "--pretrain-epochs", "3", "--finetune-per-class", "20", "--epochs", "3",
        cwd=tmp_path)
    assert_succeeded("09", status, lines, stderr,
                     r"^LoRA: \S+ held-out accuracy training [\d,]+ parameters "
                     r"\(frozen backbone \S+, full fine-tuning \S+\); merged "
                     r"into a plain model, max \|difference\| \S+: OK$")
    table = "\n".join(lines)
    counts = {name: int(count.replace(",", "")) for name, count in re.findall(
        r"^(frozen backbone|LoRA r=4|full fine-tuning) +\S+% +([\d,]+) of",
        table, re.M)}
    assert counts["frozen backbone"] == 64 * 4 + 4  # the new 4-class head
    assert counts["frozen backbone"] < counts["LoRA r=4"] < \
        counts["full fine-tuning"] / 5
