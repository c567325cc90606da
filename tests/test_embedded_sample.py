"""The sample that ships inside minidl, and the no-argument fine-tuning run."""
import json
import os

import numpy as np
import pytest

from minidl import finetune, models
from minidl.data import ImageFolder, load_sample, sample_weights_path
from minidl.data.embedded import SAMPLE_DIR
from minidl.serialization import load_metadata
from minidl.training import defaults, pretrained

pytest.importorskip("PIL")


def test_load_sample_is_100_cifar10_images_per_class():
    sample = load_sample()
    assert isinstance(sample, ImageFolder)
    assert sample.images.shape == (1000, 32, 32, 3)
    assert sample.images.dtype == np.uint8
    assert sample.classes == ["airplane", "automobile", "bird", "cat", "deer",
                              "dog", "frog", "horse", "ship", "truck"]
    np.testing.assert_array_equal(np.bincount(sample.targets), [100] * 10)
    assert sample.loaded_from_cache is False  # no cache written by default


def test_sample_weights_are_the_converted_resnet20():
    path = sample_weights_path()
    metadata = load_metadata(path)
    entry = pretrained.PUBLISHED["resnet20-cifar10"]
    assert metadata["architecture"] == "resnet20"
    assert metadata["source_sha256"] == entry["sha256"]
    assert pretrained.resolve_weights("resnet20-cifar10-embedded",
                                      "unused") == path
    model = models.resnet20(weights=path)
    assert model.num_classes == 10


def test_notice_names_origin_and_licences():
    with open(os.path.join(SAMPLE_DIR, "NOTICE")) as handle:
        notice = handle.read()
    for needed in ("Learning Multiple Layers of Features from Tiny Images",
                   "Krizhevsky", "Yerlan Idelbayev",
                   "Redistribution and use in source and binary forms",
                   pretrained.PUBLISHED["resnet20-cifar10"]["sha256"]):
        assert needed in notice


def test_sample_recipe_only_when_no_job_is_named():
    parser = finetune.build_parser()
    args = defaults.parse_with_sample_defaults(parser, ["--epochs", "1"])
    assert args.weights == "resnet20-cifar10-embedded"
    assert args.data == load_sample().root
    assert args.epochs == 1  # the command line wins over the recipe
    assert args.freeze == "backbone" and args.out == defaults.SAMPLE_OUT
    for job in (["--data", "elsewhere"], ["--weights", "w.npz"],
                ["--arch", "resnet20"]):
        args = defaults.parse_with_sample_defaults(finetune.build_parser(), job)
        assert args.epochs == 5 and args.out is None  # the usual defaults


def test_no_argument_run_fine_tunes_the_sample(tmp_path, monkeypatch, capsys):
    # The README's main command, shortened to one batch: no --data, no
    # --weights, no --out (runs/sample in the working directory).
    monkeypatch.chdir(tmp_path)
    assert finetune.main(["--epochs", "1", "--limit-train-batches", "1",
                          "--num-workers", "0"]) == 0
    printed = capsys.readouterr().out
    assert "embedded CIFAR-10 sample" in printed
    assert "800 training / 200 validation images" in printed
    assert "before training: validation accuracy" in printed
    out = tmp_path / "runs" / "sample"
    for name in ("best.npz", "last.npz", "model.npz", "log.jsonl",
                 "curves.png", "report.json", "report.txt"):
        assert (out / name).is_file(), name
    report = json.loads((out / "report.json").read_text())
    # The shipped weights start well above chance on the sample.
    assert report["before_training"]["val_accuracy"] > 0.6
    model = models.load_pretrained(out / "model.npz")
    assert model.num_classes == 10
