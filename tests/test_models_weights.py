"""weights= as torchvision spells it, load_pretrained's forms, and state
dicts of other libraries."""
import enum

import numpy as np
import pytest

from minidl import models, nn
from minidl.data import sample_weights_path
from minidl.models import weights as model_weights
from minidl.training import pretrained
from conftest import to_numpy


def test_default_resnet20_weights_are_the_embedded_copy():
    model = models.resnet20(weights="DEFAULT")
    same = models.resnet20(weights=sample_weights_path())
    np.testing.assert_array_equal(to_numpy(model.linear.weight),
                                  to_numpy(same.linear.weight))
    assert model.pretrained_metadata["architecture"] == "resnet20"
    also = models.resnet20(weights="ResNet20_Weights.CIFAR10_V1")
    np.testing.assert_array_equal(to_numpy(also.conv1.weight),
                                  to_numpy(same.conv1.weight))


def test_torchvision_names_resolve_through_the_published_table(monkeypatch):
    asked = []

    def fake_published(name, cache_dir=None):
        asked.append(name)
        return sample_weights_path()

    monkeypatch.setattr(pretrained, "resolve_published", fake_published)
    for spec in ("IMAGENET1K_V1", "DEFAULT", "ResNet18_Weights.IMAGENET1K_V1",
                 enum.Enum("ResNet18_Weights", "IMAGENET1K_V1").IMAGENET1K_V1):
        assert model_weights.resolve_model_weights("resnet18", spec) == \
            sample_weights_path()
    assert asked == ["resnet18-imagenet"] * 4
    assert model_weights.resolve_model_weights("resnet56", "DEFAULT") == \
        sample_weights_path()
    assert asked[-1] == "resnet56-cifar10"
    for arch in ("vit_b_16", "vit_b_32", "vit_l_16"):
        model_weights.resolve_model_weights(arch, "IMAGENET1K_V1")
        assert asked[-1] == f"{arch}-imagenet"


def test_unknown_weights_names_are_errors():
    with pytest.raises(ValueError, match="resnet18: unknown weights "
                                         "'IMAGENET1K_V2'; available: DEFAULT, "
                                         "IMAGENET1K_V1"):
        models.resnet18(weights="IMAGENET1K_V2")
    with pytest.raises(ValueError, match="resnet34: no published weights"):
        models.resnet34(weights="DEFAULT")
    with pytest.raises(ValueError, match="no such file: missing.npz"):
        models.resnet20(weights="missing.npz")


def test_load_pretrained_returns_the_model_with_its_metadata(tmp_path):
    model = models.load_pretrained("resnet20-cifar10-embedded")
    assert isinstance(model, models.CifarResNet) and model.num_classes == 10
    assert model.pretrained_metadata["input_std"] == [0.229, 0.224, 0.225]
    assert models.load_pretrained(sample_weights_path(),
                                  num_classes=4).num_classes == 4


def test_load_pretrained_takes_a_torch_checkpoint(torch, tmp_path, monkeypatch):
    from test_models import torch_cifar_resnet
    monkeypatch.setenv("MINIDL_CACHE", str(tmp_path / "cache"))
    reference = torch_cifar_resnet(torch, 20)
    source = tmp_path / "mine.th"
    torch.save({"state_dict": reference.state_dict()}, source)
    model = models.load_pretrained(source)
    np.testing.assert_array_equal(to_numpy(model.conv1.weight),
                                  to_numpy(reference.conv1.weight))
    assert (tmp_path / "cache" / "weights" / "converted" / "mine.npz").is_file()


def test_load_state_dict_of_a_torch_model(torch):
    torchvision = pytest.importorskip("torchvision")
    reference = torchvision.models.resnet18(num_classes=7)
    model = models.resnet18(num_classes=7)
    model.load_state_dict(reference.state_dict())
    for name, value in reference.state_dict().items():
        np.testing.assert_array_equal(to_numpy(model.state_dict()[name]),
                                      value.numpy(), err_msg=name)
    # Parameters that require grad (named_parameters, not state_dict).
    parameters = dict(reference.named_parameters())
    assert parameters["fc.weight"].requires_grad
    missing, _ = model.load_state_dict(parameters, strict=False)
    assert "bn1.running_mean" in missing and "fc.weight" not in missing


def test_load_state_dict_of_array_likes():
    class ArrayLike:  # only __array__, as some libraries offer
        def __init__(self, array):
            self.array = array

        def __array__(self, dtype=None, copy=None):
            return self.array

    layer = nn.Linear(3, 2)
    weight = np.arange(6, dtype=np.float32).reshape(2, 3)
    layer.load_state_dict({"weight": ArrayLike(weight),
                           "bias": ArrayLike(np.ones(2, np.float32))})
    np.testing.assert_array_equal(to_numpy(layer.weight), weight)
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        layer.load_state_dict({"weight": ArrayLike(weight.T),
                               "bias": ArrayLike(np.ones(2, np.float32))})
