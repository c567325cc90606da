"""minidl.models.VisionTransformer against torchvision's: the same state-dict
keys and shapes, a strict load, the same logits and gradients; the named
configurations; python -m minidl.convert on a saved torchvision ViT."""
import subprocess
import sys

import numpy as np
import pytest

import minidl
from minidl import convert, models
from conftest import assert_close

SMALL = dict(image_size=32, patch_size=8, num_layers=2, num_heads=2,
             hidden_dim=48, mlp_dim=96)


def _random_torchvision_vit(torch, num_classes=10, **options):
    """A small torchvision ViT with every parameter random (its head and
    class token start at zero, which would hide mistakes)."""
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.VisionTransformer(
        **{**SMALL, **options}, num_classes=num_classes)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.2)
    return model.eval()


def _state(torch_model):
    return {key: value.detach().numpy() for key, value in
            torch_model.state_dict().items()}


@pytest.mark.parametrize("representation_size", [None, 16])
def test_torchvision_state_dict_loads_strictly_with_same_logits(
        torch, representation_size):
    reference = _random_torchvision_vit(torch,
                                        representation_size=representation_size)
    model = models.VisionTransformer(**SMALL, num_classes=10,
                                     representation_size=representation_size)
    assert [(k, tuple(v.shape)) for k, v in model.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in reference.state_dict().items()]
    model.load_state_dict(_state(reference), strict=True)
    model.eval()
    images = np.random.default_rng(0).standard_normal((2, 3, 32, 32))
    with torch.no_grad():
        expected = reference(torch.tensor(images, dtype=torch.float32))
    logits = model(minidl.tensor(images.astype(np.float32)))
    assert logits.dtype == np.float32
    # float32: logits sum hundreds of products of O(1) terms.
    assert_close(logits, expected, rtol=1e-4, atol=1e-4, name="logits")


def test_gradients_match_torchvision_in_float64(torch):
    reference = _random_torchvision_vit(torch).double().train()
    model = models.VisionTransformer(**SMALL, num_classes=10).double()
    model.load_state_dict(_state(reference))
    images = np.random.default_rng(1).standard_normal((2, 3, 32, 32))
    x = minidl.tensor(images, requires_grad=True)
    tx = torch.tensor(images, requires_grad=True)
    logits, expected = model(x), reference(tx)
    assert_close(logits, expected, rtol=1e-9, atol=1e-10, name="logits")
    logits.sum().backward()
    expected.sum().backward()
    assert_close(x.grad, tx.grad, rtol=1e-8, atol=1e-10, name="input grad")
    theirs = dict(reference.named_parameters())
    for name, param in model.named_parameters():
        assert_close(param.grad, theirs[name].grad, rtol=1e-8, atol=1e-10,
                     name=name)


def test_initialisation_and_named_configurations(torch):
    model = models.VisionTransformer(**SMALL, num_classes=3)
    assert np.all(model.heads.head.weight.numpy() == 0)  # as torchvision
    assert np.all(model.class_token.numpy() == 0)
    assert abs(float(model.encoder.pos_embedding.numpy().std()) - 0.02) < 0.005
    assert model.head_parameter_names() == ["heads.head.weight",
                                            "heads.head.bias"]
    models.replace_head(model, 5)
    assert model.heads.head.out_features == 5 and model.num_classes == 5
    tiny = models.vit_tiny_cifar()
    assert tiny(minidl.randn(1, 3, 32, 32)).shape == (1, 10)
    assert "vit_b_16" in models.list_models()
    with pytest.raises(ValueError, match=r"expected images of shape "
                                         r"\(N, 3, 32, 32\)"):
        tiny(minidl.randn(1, 3, 28, 28))
    with pytest.raises(ValueError, match="not divisible by patch_size"):
        models.VisionTransformer(30, 8, 1, 1, 8, 8)


def test_guess_recognises_torchvision_sizes():
    """From shapes alone (zero-cost broadcast arrays standing in for
    vit_b_16's weights)."""
    def fake(hidden, patch, layers, mlp, image=224):
        state = {"conv_proj.weight": np.broadcast_to(
                     np.float32(0), (hidden, 3, patch, patch)),
                 "encoder.pos_embedding": np.broadcast_to(
                     np.float32(0), (1, (image // patch) ** 2 + 1, hidden))}
        for i in range(layers):
            state[f"encoder.layers.encoder_layer_{i}.mlp.0.weight"] = \
                np.broadcast_to(np.float32(0), (mlp, hidden))
        return state
    assert convert.guess_architecture(fake(768, 16, 12, 3072)) == "vit_b_16"
    assert convert.guess_architecture(fake(768, 32, 12, 3072)) == "vit_b_32"
    assert convert.guess_architecture(fake(1024, 16, 24, 4096)) == "vit_l_16"
    assert convert.guess_architecture(fake(48, 8, 2, 96, 32)) == \
        "vision_transformer"


def test_convert_command_line_on_a_torchvision_vit(torch, tmp_path, capsys):
    reference = _random_torchvision_vit(torch)
    source, target = tmp_path / "vit.pth", tmp_path / "vit.npz"
    torch.save(reference.state_dict(), source)
    assert convert.main([str(source), str(target)]) == 1
    assert "pass --num-heads" in capsys.readouterr().err
    assert not target.exists()
    command = [sys.executable, "-m", "minidl.convert", str(source), str(target),
               "--num-heads", "2"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "vision_transformer, 10 classes" in done.stdout
    model = models.load_pretrained(target)
    metadata = model.pretrained_metadata
    assert metadata["vit_config"] == SMALL and metadata["input_size"] == 32
    model.eval()
    images = np.random.default_rng(2).standard_normal((2, 3, 32, 32)) \
        .astype(np.float32)
    with torch.no_grad():
        expected = reference(torch.tensor(images))
    assert_close(model(minidl.tensor(images)), expected, rtol=1e-4, atol=1e-4)
    # evaluate / predict rebuild it from the metadata alone
    from minidl.training.inference import load_model
    loaded = load_model(str(target))
    assert loaded.image_size == (32, 32)
    assert_close(loaded.model(minidl.tensor(images)), expected, rtol=1e-4,
                 atol=1e-4)
    with pytest.raises(convert.ConversionError, match="vit_b_16 has 12 heads"):
        convert.from_torch(source, tmp_path / "other.npz", arch="vit_b_16",
                           num_heads=2)
