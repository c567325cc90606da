"""Step 5: convert a PyTorch ResNet checkpoint, and check minidl's logits
against torch's.

    python examples/05_convert_and_check.py --checkpoint resnet20-12fca82f.th \\
        [--data /path/to/cifar10-jpg/train]
    python examples/05_convert_and_check.py       # no checkpoint: see below

1. The checkpoint is converted to a ``.npz`` by ``minidl.convert.from_torch``
   (the architecture is guessed from its keys). Without --checkpoint, a
   PyTorch CIFAR ResNet-20 is built here with random weights and random
   batch-norm statistics, saved with ``torch.save``, and converted.
2. minidl builds the model from the ``.npz`` alone
   (``minidl.models.load_pretrained``: NumPy only, no torch).
3. torch builds the same network (CIFAR ResNets: the twin defined below;
   ImageNet ResNets: torchvision's) and loads the original checkpoint.
4. Both compute logits, in eval mode and float32, for the same images:
   the first image of each class of --data, normalised as the converter
   recorded, or random inputs without --data. The last line gives the
   largest difference and whether the predicted classes agree.

torch is needed to read the checkpoint and for the reference; without it
the example says so and stops.
"""
import argparse
import os
import time

import numpy as np

import minidl
from minidl import convert, models
from minidl.data import folder
from minidl.testing.torch_reference import torch_cifar_resnet


def torch_reference(torch, arch, num_classes):
    """The PyTorch network for a minidl architecture name."""
    if arch in models.CIFAR_MODELS:
        return torch_cifar_resnet(torch, int(arch[len("resnet"):]), num_classes)
    import torchvision
    return getattr(torchvision.models, arch)(num_classes=num_classes)


def random_checkpoint(torch, path, seed):
    """Save a random CIFAR ResNet-20 (weights and batch-norm statistics) as a
    PyTorch checkpoint at `path`."""
    torch.manual_seed(seed)
    model = torch_cifar_resnet(torch, 20, 10)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                # Statistics other than 0 and 1, so that they matter.
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    torch.save(model.state_dict(), path)


def load_torch_state(torch, path):
    """The checkpoint's state dict as torch tensors: unwrapped from
    {"state_dict": ...} and without DataParallel's "module." prefix.
    (Read by torch itself, independently of minidl's converter.)"""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    for wrapper in ("state_dict", "model_state_dict"):
        if isinstance(checkpoint.get(wrapper), dict):
            checkpoint = checkpoint[wrapper]
    return {key[len("module."):] if key.startswith("module.") else key: value
            for key, value in checkpoint.items()}


def input_batch(metadata, data, count, seed):
    """(float32 images (N, 3, S, S), class names or None): the first image
    of each class of `data`, normalised with the converter's mean/std, or
    `count` random normal images."""
    size = metadata["input_size"]
    if data is None:
        rng = np.random.default_rng(seed)
        return rng.standard_normal((count, 3, size, size)).astype(np.float32), None
    classes, _ = folder.find_classes(data)
    classes = classes[:count]
    firsts = {}
    for path, label, _, _ in folder.list_images(data, classes):
        firsts.setdefault(label, path)
    pixels = folder.decode_images([firsts[i] for i in range(len(classes))],
                                  size=(size, size)) / np.float32(255)
    mean = np.array(metadata["input_mean"], np.float32)
    std = np.array(metadata["input_std"], np.float32)
    images = ((pixels - mean) / std).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(images, dtype=np.float32), classes


def class_name(classes, index):
    """The name of class `index` when the folder gave names, else its number."""
    index = int(index)
    return classes[index] if classes and index < len(classes) else str(index)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a PyTorch ResNet checkpoint "
                        "(.th/.pt/.pth); default: a random ResNet-20")
    parser.add_argument("--data", help="an image folder: the first image of each "
                        "class is used as input")
    parser.add_argument("--images", type=int, default=10,
                        help="how many inputs (default 10; with --data, at "
                             "most one per class)")
    parser.add_argument("--out", default=os.path.join("runs", "examples", "05"),
                        help="folder for the checkpoint and the converted file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        import torch
    except ImportError:
        print("torch is not installed: it is needed to read a PyTorch "
              "checkpoint and to compute the reference logits "
              "(pip install torch); stopping here, nothing was checked")
        return 0
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)

    source = args.checkpoint
    if source is None:
        source = os.path.join(args.out, "resnet20-random.pth")
        random_checkpoint(torch, source, args.seed)
        print("no --checkpoint: saved a random torch ResNet-20 to", source)
    converted = os.path.join(args.out, os.path.splitext(
        os.path.basename(source))[0] + ".npz")
    metadata = convert.from_torch(source, converted)
    print("converted {} -> {}: {}, {} classes, input {}x{} normalised with mean "
          "{} std {}".format(source, converted, metadata["architecture"],
                             metadata["num_classes"], metadata["input_size"],
                             metadata["input_size"], metadata["input_mean"],
                             metadata["input_std"]))

    # minidl: from the .npz alone.
    model = models.load_pretrained(converted)
    model.eval()
    # torch: the same network, from the original checkpoint.
    reference = torch_reference(torch, metadata["architecture"],
                                metadata["num_classes"])
    missing, unexpected = reference.load_state_dict(
        load_torch_state(torch, source), strict=False)
    # Checkpoints older than PyTorch 0.4.1 have no num_batches_tracked
    # (unused in eval mode); anything else missing is an error.
    missing = [key for key in missing if not key.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit("the torch reference does not fit the checkpoint: "
                         "missing {}, unexpected {}".format(missing, unexpected))
    reference.eval()

    images, classes = input_batch(metadata, args.data, args.images, args.seed)
    with minidl.no_grad():
        ours = model(minidl.tensor(images)).numpy()
    with torch.no_grad():
        theirs = reference(torch.from_numpy(images)).numpy()

    shown = min(10, ours.shape[1])
    order = np.argsort(-theirs[0])[:shown]
    print("\nlogits of image 0 ({}), {} largest by torch:".format(
        classes[0] if classes else "random input", shown))
    print("  class          minidl       torch   difference")
    for k in order:
        print("  {:10s} {:11.5f} {:11.5f} {:12.2e}".format(
            class_name(classes, k), ours[0, k], theirs[0, k],
            ours[0, k] - theirs[0, k]))
    print("\npredicted class per image (minidl / torch):")
    for i in range(len(images)):
        label = " (label: {})".format(classes[i]) if classes else ""
        print("  image {}{}: {} / {}".format(
            i, label, class_name(classes, ours[i].argmax()),
            class_name(classes, theirs[i].argmax())))

    difference = float(np.abs(ours - theirs).max())
    scale = float(np.abs(theirs).max())
    agree = int((ours.argmax(axis=1) == theirs.argmax(axis=1)).sum())
    ok = difference <= 1e-4 * max(scale, 1.0) and agree == len(images)
    print("{:.1f} s".format(time.perf_counter() - start))
    print("max |minidl - torch| = {:.2e} (logits up to {:.2f}) over {} images x "
          "{} classes; same prediction for {}/{}: {}".format(
              difference, scale, len(images), ours.shape[1], agree, len(images),
              "OK" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
