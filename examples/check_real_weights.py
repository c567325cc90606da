"""Check minidl against PyTorch on real CIFAR-10 ResNet checkpoints.

For each checkpoint in --weights-dir (``resnet20-*.th`` ... ``resnet56-*.th``):

1. convert it with ``minidl.convert.from_torch`` to an ``.npz``;
2. load that into ``minidl.models.load_pretrained`` (NumPy only);
3. load the original checkpoint into a PyTorch CIFAR ResNet (defined below);
4. evaluate both, in eval mode, on the same --count training images (a
   fixed, seeded, class-balanced selection: count / 10 per class), decoded
   with Pillow and normalised with the mean/std stored by the converter;
5. print each one's accuracy, how many predictions differ, and the largest
   logit difference.

Usage (from the repository root)::

    python examples/check_real_weights.py --weights-dir ../shared/weights \\
        --data ../shared/data/cifar10-jpg/train --count 5000

Needs torch (for the reference and for reading the checkpoints) and Pillow.
"""
import argparse
import glob
import os
import re
import tempfile
import time

import numpy as np

import minidl
from minidl import convert, models
from minidl.testing import torch_cifar_resnet


def select_images(data_dir, count, seed):
    """(paths, labels): count / 10 images of each class, chosen with a
    seeded generator from the sorted file list; classes in sorted order
    (which for CIFAR-10 is also its label order)."""
    classes = sorted(d for d in os.listdir(data_dir)
                     if os.path.isdir(os.path.join(data_dir, d)))
    if count % len(classes):
        raise SystemExit("--count {} is not a multiple of the {} classes".format(
            count, len(classes)))
    rng = np.random.default_rng(seed)
    paths, labels = [], []
    for label, name in enumerate(classes):
        files = sorted(glob.glob(os.path.join(data_dir, name, "*.jpg")))
        chosen = rng.choice(len(files), size=count // len(classes), replace=False)
        paths += [files[i] for i in sorted(chosen)]
        labels += [label] * len(chosen)
    return paths, np.array(labels), classes


def load_images(paths, mean, std):
    """(N, 3, 32, 32) float32 array: RGB in [0, 1], normalised per channel."""
    from PIL import Image
    images = np.empty((len(paths), 3, 32, 32), dtype=np.float32)
    mean = np.array(mean, dtype=np.float32).reshape(3, 1, 1)
    std = np.array(std, dtype=np.float32).reshape(3, 1, 1)
    for i, path in enumerate(paths):
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
        images[i] = (pixels.transpose(2, 0, 1) - mean) / std
    return images


def torch_logits(checkpoint, depth, images, batch_size):
    import torch
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    state = {k[len("module."):] if k.startswith("module.") else k: v
             for k, v in state.items()}
    net = torch_cifar_resnet(torch, depth)
    # strict=False only for num_batches_tracked, absent from these old files.
    result = net.load_state_dict(state, strict=False)
    assert not result.unexpected_keys and all(
        k.endswith("num_batches_tracked") for k in result.missing_keys), result
    net.eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            outputs.append(net(torch.from_numpy(images[start:start + batch_size]))
                           .numpy())
    return np.concatenate(outputs)


def minidl_logits(model, images, batch_size, device):
    model.eval()
    outputs = []
    with minidl.no_grad():
        for start in range(0, len(images), batch_size):
            batch = minidl.tensor(images[start:start + batch_size], device=device)
            outputs.append(model(batch).numpy())
    return np.concatenate(outputs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights-dir", required=True)
    parser.add_argument("--data", required=True,
                        help="ImageFolder directory, e.g. cifar10-jpg/train")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--out-dir", default=None,
                        help="where to write the converted .npz files "
                             "(default: a temporary directory)")
    parser.add_argument("--device", default=None,
                        help="minidl device (default: minidl's default)")
    args = parser.parse_args()

    checkpoints = sorted(glob.glob(os.path.join(args.weights_dir, "resnet*.th")),
                         key=lambda p: int(re.search(r"resnet(\d+)",
                                                     os.path.basename(p)).group(1)))
    if not checkpoints:
        raise SystemExit("no resnet*.th checkpoints in {}".format(args.weights_dir))
    paths, labels, classes = select_images(args.data, args.count, args.seed)
    out_dir = args.out_dir or tempfile.mkdtemp(prefix="minidl-weights-")
    os.makedirs(out_dir, exist_ok=True)
    device = args.device or str(minidl.backend.default_device())
    print("{} images ({} per class, seed {}), minidl on {}".format(
        len(paths), len(paths) // len(classes), args.seed, device))
    header = "{:<10} {:>12} {:>12} {:>10} {:>16} {:>10}".format(
        "model", "minidl acc", "torch acc", "differ", "max |dlogit|",
        "minidl s")
    print(header)
    print("-" * len(header))
    images = None
    for checkpoint in checkpoints:
        name = re.search(r"(resnet\d+)", os.path.basename(checkpoint)).group(1)
        destination = os.path.join(out_dir, name + ".npz")
        metadata = convert.from_torch(checkpoint, destination)
        model = models.load_pretrained(destination)
        metadata = model.pretrained_metadata
        model.to(device)
        if images is None:  # the normalisation comes from the converted file
            images = load_images(paths, metadata["input_mean"],
                                 metadata["input_std"])
        started = time.perf_counter()
        ours = minidl_logits(model, images, args.batch_size, device)
        seconds = time.perf_counter() - started
        theirs = torch_logits(checkpoint, int(name[len("resnet"):]), images,
                              args.batch_size)
        ours_pred, theirs_pred = ours.argmax(1), theirs.argmax(1)
        print("{:<10} {:>11.2f}% {:>11.2f}% {:>10d} {:>16.2e} {:>10.1f}".format(
            name, 100 * (ours_pred == labels).mean(),
            100 * (theirs_pred == labels).mean(),
            int((ours_pred != theirs_pred).sum()),
            float(np.abs(ours - theirs).max()), seconds), flush=True)


if __name__ == "__main__":
    main()
