"""The ResNets, against PyTorch twins, through the converter.

For each model: build the PyTorch twin (torchvision's for resnet18/34/50, a
CIFAR ResNet written below for resnet20/56), give it random weights and
BatchNorm statistics, save it with torch.save, convert it with
minidl.convert, load the result into minidl's model, and compare

* the logits in eval mode (max abs difference under 1e-4, float32),
* in train mode: the logits and the updated running statistics (float32),
  and every parameter gradient of a cross-entropy loss: relative error
  under 1e-8 in float64, and under 1e-3 in float32 for the CIFAR ResNets
  (see test_imagenet_resnet_matches_torchvision for why not the others).
"""
import numpy as np
import pytest

import minidl
from minidl import models, nn
from minidl.convert import from_torch
from conftest import to_numpy
from minidl.testing import torch_cifar_resnet  # noqa: F401 (test_convert, test_finetune import it from here)


def torchvision_resnet(torch, name, num_classes=1000):
    try:
        import torchvision
    except ImportError:
        pytest.skip("torchvision is not installed")
    return getattr(torchvision.models, name)(weights=None,
                                             num_classes=num_classes)


def randomise_statistics(torch, model):
    """Non-trivial BatchNorm parameters and statistics, and Linear bias (the
    initial 1/0 would hide a swapped weight and bias).

    The last BatchNorm of each residual branch gets a small scale (0.12 to
    0.2), as in trained ResNets. With scales near 1 the residual stream of
    a deep random network grows block after block, and the train-mode
    gradient becomes so ill-conditioned that PyTorch's own float32 result
    differs from its float64 result by about 1e-2 (resnet50); with small
    scales both agree to about 1e-5, and a 1e-3 tolerance means something.
    """
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                for value, low, high in ((module.weight, 0.6, 1.0),
                                         (module.bias, -0.2, 0.2),
                                         (module.running_mean, -0.2, 0.2),
                                         (module.running_var, 0.6, 1.4)):
                    value.copy_(torch.rand(value.shape, generator=generator)
                                * (high - low) + low)
            if isinstance(module, torch.nn.Linear):
                module.bias.uniform_(-0.5, 0.5, generator=generator)
        for module in model.modules():
            last = getattr(module, "bn3", None) or getattr(module, "bn2", None)
            if last is not None:
                last.weight.mul_(0.2)


def convert_twin(torch, twin, tmp_path, wrapped):
    """Save `twin` as a checkpoint (DataParallel-style inside a dict, or
    bare as torchvision saves it) and convert it; returns the .npz path."""
    state = twin.state_dict()
    if wrapped:
        state = {"state_dict": {"module." + k: v for k, v in state.items()},
                 "best_prec1": 91.0}
    source, target = tmp_path / "twin.pth", tmp_path / "twin.npz"
    torch.save(state, source)
    from_torch(source, target)
    return target


def relative_error(ours, theirs):
    ours, theirs = to_numpy(ours).astype(np.float64), to_numpy(theirs).astype(
        np.float64)
    return np.linalg.norm(ours - theirs) / max(np.linalg.norm(theirs), 1e-30)


def train_step_matches(torch, model, twin, x, target, dtype, grad_tolerance):
    """One train-mode forward and backward in both, in `dtype`: compares the
    logits, the updated running statistics and (unless grad_tolerance is
    None) every parameter gradient."""
    initial = {k: v.clone() for k, v in twin.state_dict().items()}
    twin.to(getattr(torch, dtype)).train()
    model.to(dtype=dtype).train()
    twin.zero_grad()
    model.zero_grad()
    twin_logits = twin(torch.tensor(x.astype(dtype)))
    torch.nn.functional.cross_entropy(twin_logits, torch.tensor(target)).backward()
    logits = model(minidl.tensor(x.astype(dtype)))
    nn.functional.cross_entropy(logits, minidl.tensor(target)).backward()
    assert logits.dtype == np.dtype(dtype)
    assert np.abs(to_numpy(logits) - twin_logits.detach().numpy()).max() < 1e-4
    twin_parameters = dict(twin.named_parameters())
    for key, param in model.named_parameters():
        if grad_tolerance is None:
            assert param.grad is not None and param.grad.dtype == np.dtype(dtype)
            continue
        error = relative_error(param.grad, twin_parameters[key].grad)
        assert error < grad_tolerance, "{} {} grad: relative error {:.2e}".format(
            dtype, key, error)
    twin_state = twin.state_dict()
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            assert value.item() == twin_state[key].item() == 1, key
        elif "running" in key:
            error = relative_error(value, twin_state[key])
            assert error < 1e-5, "{}: relative error {:.2e}".format(key, error)
    # Back to the converted state, for the next check.
    twin.float().load_state_dict(initial)
    model.float().load_state_dict({k: v.numpy() for k, v in initial.items()})


def compare_with_twin(torch, name, twin, size, tmp_path, wrapped,
                      float32_gradients=True):
    """Convert `twin` and compare minidl's `name` with it (see the module
    docstring). Train-mode logits and running statistics are compared in
    float32; gradients in float64 (relative error under 1e-8) and, unless
    float32_gradients is False, in float32 (under 1e-3)."""
    randomise_statistics(torch, twin)
    weights = convert_twin(torch, twin, tmp_path, wrapped)
    model = getattr(models, name)(weights=weights)
    assert model.pretrained_metadata["architecture"] == name
    assert [k for k in model.state_dict()] == [k for k in twin.state_dict()]

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, size, size)).astype(np.float32)
    target = np.array([1, model.num_classes - 1])

    # Evaluation mode: the logits.
    twin.eval()
    model.eval()
    with torch.no_grad():
        expected = twin(torch.tensor(x)).numpy()
    with minidl.no_grad():
        logits = model(minidl.tensor(x))
    assert logits.dtype == np.float32
    assert np.abs(to_numpy(logits) - expected).max() < 1e-4

    # Training mode.
    train_step_matches(torch, model, twin, x, target, "float32",
                       1e-3 if float32_gradients else None)
    train_step_matches(torch, model, twin, x, target, "float64", 1e-8)
    return model


@pytest.mark.parametrize("depth", [20, 56])
def test_cifar_resnet_matches_twin(torch, tmp_path, depth):
    torch.manual_seed(depth)
    twin = torch_cifar_resnet(torch, depth)
    compare_with_twin(torch, "resnet{}".format(depth), twin, 32, tmp_path,
                      wrapped=True)


# The ImageNet ResNets' train-mode gradients are compared in float64 only.
# In float32, with max pooling and ReLUs over ~10^6 activations, a value
# within rounding of a tie (two maxima of a pooling window) or of a kink
# (a ReLU input near 0) now and then falls on the other side in one of the
# two frameworks; the gradient then takes another path, and every layer
# before that point differs by 1e-3 to 1e-2. PyTorch's own float32 and
# float64 gradients disagree the same way for some inputs (and minidl's
# agree with PyTorch's to 1e-6 when no such flip happens). The CIFAR ResNets
# (no max pool, fewer activations) are compared in float32 as well.
@pytest.mark.parametrize("name,size", [("resnet18", 64), ("resnet34", 64),
                                       ("resnet50", 64)])
def test_imagenet_resnet_matches_torchvision(torch, tmp_path, name, size):
    torch.manual_seed(0)
    twin = torchvision_resnet(torch, name, num_classes=7)
    model = compare_with_twin(torch, name, twin, size, tmp_path, wrapped=False,
                              float32_gradients=False)
    assert repr(model) == repr(twin)  # every name, layer and argument


@pytest.mark.parametrize("name", ["resnet20", "resnet32", "resnet44",
                                  "resnet56", "resnet110"])
def test_cifar_resnet_layout_matches_twin(torch, name):
    depth = int(name[len("resnet"):])
    model, twin = getattr(models, name)(), torch_cifar_resnet(torch, depth)
    ours, theirs = model.state_dict(), twin.state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == tuple(theirs[k].shape) for k in ours)
    assert model.linear.out_features == 10


def test_cifar_resnet_initialisation_follows_the_reference(torch):
    """Kaiming-normal (fan_in, gain sqrt(2)) conv and linear weights."""
    model = models.resnet56()
    weights = np.concatenate([to_numpy(m.weight).ravel() * np.sqrt(
        m.weight.numel() / m.weight.shape[0]) for m in model.modules()
        if isinstance(m, nn.Conv2d)])
    assert weights.std() == pytest.approx(np.sqrt(2), rel=0.02)
    head = to_numpy(model.linear.weight)
    assert head.std() == pytest.approx(np.sqrt(2 / 64), rel=0.1)


def test_imagenet_resnet_initialisation_follows_torchvision(torch):
    model, twin = models.resnet18(), torchvision_resnet(torch, "resnet18")
    for (key, ours), (_, theirs) in zip(model.named_parameters(),
                                        twin.named_parameters()):
        values, reference = to_numpy(ours), theirs.detach().numpy()
        assert values.std() == pytest.approx(reference.std(), rel=0.1, abs=1e-7), key
        assert values.mean() == pytest.approx(reference.mean(),
                                              abs=float(0.1 * reference.std() + 1e-7)), key


def test_parameter_counts():
    counts = {name: sum(p.numel() for p in models.get_model(name).parameters())
              for name in ("resnet20", "resnet56", "resnet18", "resnet50")}
    assert counts == {"resnet20": 269722, "resnet56": 853018,
                      "resnet18": 11689512, "resnet50": 25557032}


# -- the classifier head -------------------------------------------------------
@pytest.mark.parametrize("name,head", [("resnet20", "linear"), ("resnet18", "fc")])
def test_replace_head_for_fine_tuning(name, head):
    model = models.get_model(name)
    model.eval()
    body = {k: to_numpy(v).copy() for k, v in model.state_dict().items()
            if not k.startswith(head + ".")}
    old = getattr(model, head)
    new = models.replace_head(model, 5)
    assert getattr(model, head) is new and new is not old
    assert new.in_features == old.in_features and new.out_features == 5
    assert not new.training  # follows the model's mode
    assert model.num_classes == 5
    assert model.head_parameter_names() == [head + ".weight", head + ".bias"]
    assert models.head_parameter_names(model) == [head + ".weight", head + ".bias"]
    names = [k for k, _ in model.named_parameters()]
    assert names[-2:] == [head + ".weight", head + ".bias"]
    for key, value in model.state_dict().items():
        if key in body:
            np.testing.assert_array_equal(to_numpy(value), body[key])
    size = 32 if name == "resnet20" else 64
    assert model(minidl.randn(1, 3, size, size)).shape == (1, 5)
    assert model.reset_classifier(3).out_features == 3
    assert model.get_classifier().out_features == 3


def test_weights_argument_checks(torch, tmp_path):
    twin = torch_cifar_resnet(torch, 20, num_classes=4)
    weights = convert_twin(torch, twin, tmp_path, wrapped=True)
    assert models.resnet20(weights=weights).num_classes == 4
    with pytest.raises(ValueError, match="num_classes=10 but the weights in .* "
                                         "have 4 classes"):
        models.resnet20(num_classes=10, weights=weights)
    with pytest.raises(ValueError, match="holds a resnet20"):
        models.resnet56(weights=weights)
    model = models.load_pretrained(weights, num_classes=6)
    metadata = model.pretrained_metadata
    assert isinstance(model, models.CifarResNet) and model.num_classes == 6
    assert metadata["input_mean"] == [0.485, 0.456, 0.406]
    assert metadata["input_std"] == [0.229, 0.224, 0.225]
    np.testing.assert_array_equal(to_numpy(model.conv1.weight),
                                  twin.conv1.weight.detach().numpy())
    with pytest.raises(ValueError, match="unknown model 'resnet99'"):
        models.get_model("resnet99")


def test_models_reject_bad_input():
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 3, H, W\), "
                                         r"got \(2, 1, 32, 32\)"):
        models.resnet20()(minidl.randn(2, 1, 32, 32))
