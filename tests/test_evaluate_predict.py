"""minidl.evaluate (accuracy of a checkpoint on a dataset) and
examples/predict.py (top-k classes of image files), on a tiny generated
ImageFolder, against predictions computed here by hand."""
import importlib.util
import json
import os

import numpy as np
import pytest

import minidl
from minidl import evaluate, finetune, models
from minidl.data import ImageFolder, random_split
from minidl.training.checkpoint import save_weights
from minidl.training.inference import _fit, label_mapping, load_model
# _cache_and_threads: the autouse fixture (temporary image cache, one BLAS
# thread), shared with the fine-tuning tests by importing it.
from test_finetune import CLASSES, _cache_and_threads, write_image_folder  # noqa: F401

MEAN, STD = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]
EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp("data") / "images")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A random 3-class resnet20 saved as a run's model.npz would be."""
    minidl.manual_seed(5)
    model = models.resnet20(num_classes=3)
    path = tmp_path_factory.mktemp("model") / "model.npz"
    save_weights(path, model, {"architecture": "resnet20", "num_classes": 3,
                               "classes": CLASSES, "input_mean": MEAN,
                               "input_std": STD, "image_size": [16, 16]})
    return path


def logits_by_hand(path, images):
    """The model's logits for uint8 images (N, H, W, 3), normalised here."""
    model = models.resnet20(num_classes=3)
    model.load_state_dict(minidl.load(path))
    model.eval()
    x = images.transpose(0, 3, 1, 2).astype(np.float32) / 255
    x = (x - np.float32(MEAN).reshape(1, 3, 1, 1)) / \
        np.float32(STD).reshape(1, 3, 1, 1)
    with minidl.no_grad():
        return model(minidl.tensor(x.astype(np.float32))).numpy()


def arguments(model_file, data, *extra):
    return evaluate.build_parser().parse_args(
        [str(model_file), "--data", str(data), "--device", "cpu",
         "--batch-size", "7", "--num-workers", "1"] + list(extra))


def test_evaluate_matches_predictions_by_hand(model_file, tiny_data):
    report = evaluate.evaluate_checkpoint(arguments(model_file, tiny_data))
    dataset = ImageFolder(tiny_data)
    predicted = logits_by_hand(model_file, dataset.images).argmax(axis=1)
    assert report["samples"] == 36
    assert report["accuracy"] == pytest.approx(
        np.mean(predicted == dataset.targets))
    expected = np.zeros((3, 3), dtype=int)
    np.add.at(expected, (dataset.targets, predicted), 1)
    assert report["confusion_matrix"] == expected.tolist()
    for index, name in enumerate(CLASSES):
        assert report["per_class_accuracy"][name] == pytest.approx(
            expected[index, index] / 12)


def test_evaluate_validation_subset_is_the_finetune_split(model_file, tiny_data):
    report = evaluate.evaluate_checkpoint(arguments(
        model_file, tiny_data, "--subset", "val", "--val-split", "0.25",
        "--seed", "3"))
    dataset = ImageFolder(tiny_data)
    _, val = random_split(dataset, [27, 9], seed=3)
    predicted = logits_by_hand(model_file,
                               dataset.images[val.indices]).argmax(axis=1)
    assert report["samples"] == 9
    assert report["accuracy"] == pytest.approx(
        np.mean(predicted == dataset.targets[val.indices]))


def test_evaluate_reads_a_finetune_checkpoint(tiny_data, tmp_path, model_file):
    out = tmp_path / "run"
    assert finetune.main([
        "--arch", "resnet20", "--weights", str(model_file), "--data",
        str(tiny_data), "--out", str(out), "--val-split", "0.25", "--epochs",
        "1", "--batch-size", "8", "--limit-train-batches", "1", "--device",
        "cpu", "--seed", "3"]) == 0
    logged = [json.loads(line) for line in open(out / "log.jsonl")]
    for name in ("best.npz", "last.npz", "model.npz"):
        report = evaluate.evaluate_checkpoint(arguments(
            out / name, tiny_data, "--subset", "val", "--val-split", "0.25",
            "--seed", "3"))
        assert report["accuracy"] == logged[-1]["val_accuracy"], name
        # Not the same bits: evaluate's batches differ from the run's (8),
        # and a batch's chunks of images share matrix products (Winograd's
        # tiles, im2col's small images), so float32 rounding differs by
        # about 1e-6 of the loss (measured 0.5e-6 and 1.1e-6).
        assert report["loss"] == pytest.approx(logged[-1]["val_loss"], rel=1e-5)


def test_evaluate_command_prints_and_writes_json(model_file, tiny_data,
                                                 tmp_path, capsys):
    destination = tmp_path / "report.json"
    assert evaluate.main([str(model_file), "--data", str(tiny_data),
                          "--device", "cpu", "--out", str(destination)]) == 0
    printed = capsys.readouterr().out
    assert "accuracy" in printed and "confusion matrix" in printed
    assert json.loads(destination.read_text())["classes"] == CLASSES


def test_evaluate_maps_classes_by_name(tmp_path):
    assert label_mapping(["red", "blue"], CLASSES).tolist() == [2, 0]
    assert label_mapping(["a", "b"], ["0", "1", "2"]).tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"classes \['cat'\] are not among"):
        label_mapping(["red", "cat"], CLASSES)


def test_evaluate_bad_inputs(model_file, tmp_path, capsys):
    assert evaluate.main([str(model_file), "--data", str(tmp_path / "none"),
                          "--device", "cpu"]) == 1
    assert "no such folder" in capsys.readouterr().err
    other = write_image_folder(tmp_path / "other", classes=["cat", "dog"],
                               per_class=2)
    assert evaluate.main([str(model_file), "--data", str(other),
                          "--device", "cpu"]) == 1
    assert "not among the model's classes" in capsys.readouterr().err
    junk = tmp_path / "junk.npz"
    minidl.save({"a": minidl.zeros(2)}, junk)
    assert evaluate.main([str(junk), "--data", str(other), "--device",
                          "cpu"]) == 1
    assert "names no known architecture" in capsys.readouterr().err


def load_predict_script():
    spec = importlib.util.spec_from_file_location(
        "predict_example", os.path.join(EXAMPLES, "predict.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_predict_top_classes_and_probabilities(model_file, tiny_data):
    predict = load_predict_script()
    files = [str(tiny_data / name / "03.png") for name in CLASSES]
    results = predict.predict_files(str(model_file), files, top=5,
                                    device="cpu")
    dataset = ImageFolder(tiny_data)
    chosen = [dataset.samples.index((f, i)) for i, f in enumerate(files)]
    logits = logits_by_hand(model_file, dataset.images[chosen])
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    # predict runs one image at a time, logits_by_hand three at once: their
    # float32 products round differently (measured: up to 1.5e-5 on logits
    # of about 30), and a probability's relative error is about its
    # logits' absolute error, so the tolerance scales with the logits.
    rtol = 4e-6 * np.abs(logits).max()
    for (file, ranking), expected in zip(results, probabilities):
        assert len(ranking) == 3  # top 5 of 3 classes
        names = [name for name, _ in ranking]
        values = np.array([p for _, p in ranking])
        assert names == [CLASSES[i] for i in np.argsort(-expected,
                                                        kind="stable")]
        np.testing.assert_allclose(values, np.sort(expected)[::-1], rtol=rtol)
        assert values.sum() == pytest.approx(1, abs=1e-5)


def test_predict_command_output(model_file, tiny_data, capsys, tmp_path):
    predict = load_predict_script()
    image = str(tiny_data / "red" / "00.png")
    assert predict.main([str(model_file), image, "--top", "2",
                         "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == image and len(lines) == 3
    assert lines[1].strip().endswith(tuple(CLASSES)) and "%" in lines[1]
    assert predict.main([str(model_file), image, "--json", "--device",
                         "cpu"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["file"] == image and len(row["top"]) == 3
    assert predict.main([str(model_file), str(tmp_path / "none.png"),
                         "--device", "cpu"]) == 1
    assert "cannot read image" in capsys.readouterr().err


def test_predict_resizes_to_the_model_input(model_file, tmp_path):
    from PIL import Image
    big = tmp_path / "big.jpg"
    Image.fromarray(np.full((40, 30, 3), 200, np.uint8)).save(big)
    loaded = load_model(model_file)
    assert loaded.image_size == (16, 16)
    predict = load_predict_script()
    (file, ranking), = predict.predict_files(str(model_file), [str(big)],
                                             device="cpu")
    assert file == str(big) and len(ranking) == 3
    # ImageNet-sized models: shorter side to 256/224 of the size, centre crop.
    photo = Image.fromarray(np.zeros((300, 400, 3), np.uint8))
    assert _fit(photo, (224, 224), Image).size == (224, 224)
