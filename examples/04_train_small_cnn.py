"""Step 4: train a small convolutional network from scratch.

    python examples/04_train_small_cnn.py --data /path/to/cifar10-jpg/train \
        --per-class 100
    python examples/04_train_small_cnn.py --synthetic

--data is an image folder (one sub-folder of JPEG/PNG files per class, all
images of one size); only its first --per-class images of each class are
decoded. --synthetic draws images of stripes instead, whose class is the
stripes' angle. A fifth of the images is held out.

The loop is the classic one, written out:

    logits = model(images)                  # forward: the graph is recorded
    loss = F.cross_entropy(logits, labels)
    optimizer.zero_grad()                   # forget the last step's gradients
    loss.backward()                         # gradients of every parameter
    optimizer.step()                        # p -= lr * (momentum-smoothed) grad

The loss of every batch is kept and drawn (with each epoch's mean and the
held-out loss) into a PNG. The last line says whether the loss fell.
"""
import argparse
import math
import os
import time

import numpy as np

import minidl
from minidl import nn
from minidl.data import DataLoader, ImageArrayDataset, random_split
from minidl.data import folder
from minidl.data import transforms as T
from minidl.nn import functional as F


# -- the data -----------------------------------------------------------------
def folder_slice(root, per_class, max_classes=None):
    """(images uint8 (N, H, W, 3), labels int64 (N,), class names): the first
    `per_class` files (in name order) of each class folder of `root`."""
    classes, _ = folder.find_classes(root)
    if max_classes is not None:
        classes = classes[:max_classes]
    records = folder.list_images(root, classes)  # (path, label, size, mtime)
    paths, labels = [], []
    taken = [0] * len(classes)
    for path, label, _, _ in records:
        if taken[label] < per_class:
            paths.append(path)
            labels.append(label)
            taken[label] += 1
    return folder.decode_images(paths), np.array(labels, np.int64), classes


def stripes(per_class, num_classes, size, seed):
    """(images uint8 (N, size, size, 3), labels, class names): stripes whose
    angle is the class (num_classes angles over 180 degrees), with random
    period, phase and colours, and noise."""
    rng = np.random.default_rng(seed)
    count = per_class * num_classes
    labels = np.repeat(np.arange(num_classes), per_class)
    angle = labels * np.pi / num_classes + rng.uniform(-0.15, 0.15, count)
    period = rng.uniform(4, 8, count)
    phase = rng.uniform(0, 2 * np.pi, count)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    # Position along the direction perpendicular to the stripes.
    along = (cols[None] * np.cos(angle)[:, None, None]
             + rows[None] * np.sin(angle)[:, None, None])
    wave = np.sin(2 * np.pi * along / period[:, None, None] + phase[:, None, None])
    dark = rng.uniform(0.3, 0.5, (count, 3))
    light = rng.uniform(0.5, 0.7, (count, 3))
    mix = (wave[..., None] + 1) / 2  # (N, size, size, 1) in [0, 1]
    images = dark[:, None, None] + mix * (light - dark)[:, None, None]
    images += rng.normal(0, 0.3, images.shape)
    images = (np.clip(images, 0, 1) * 255).round().astype(np.uint8)
    names = ["{:.0f} deg".format(180 * k / num_classes) for k in range(num_classes)]
    return images, labels, names


# -- the model ----------------------------------------------------------------
def small_cnn(num_classes):
    """Three 3x3 convolutions (16, 32, 64 channels) with batch norm and ReLU,
    two 2x2 max-pools, a global average pool and a linear classifier:
    (N, 3, H, W) -> (N, num_classes), about 24k parameters."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(64, num_classes))


def evaluate(model, loader):
    """(mean loss, accuracy) over the loader, in eval mode, without a graph."""
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    with minidl.no_grad():
        for images, labels in loader:
            logits = model(images)
            loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
            correct += int((logits.argmax(dim=1) == labels).numpy().sum())
            count += len(labels)
    return loss_sum / count, correct / count


def plot_losses(path, batch_losses, batches_per_epoch, epoch_losses, val_losses):
    """The loss of each batch, each epoch's mean and the held-out loss."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot")
        return
    epochs = np.arange(1, len(epoch_losses) + 1)
    steps = np.arange(1, len(batch_losses) + 1) / batches_per_epoch
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(steps, batch_losses, color="0.75", label="batch")
    # An epoch's mean is drawn at its middle, the held-out loss at its end.
    axes.plot(epochs - 0.5, epoch_losses, "o-", label="training (epoch mean)")
    axes.plot(epochs, val_losses, "s-", label="held out")
    axes.set_xlabel("epoch")
    axes.set_ylabel("cross-entropy")
    axes.legend()
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    print("loss curve written to", path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="an image folder (class sub-folders)")
    parser.add_argument("--synthetic", action="store_true",
                        help="train on generated stripe images instead")
    parser.add_argument("--per-class", type=int, default=100,
                        help="images per class (default 100)")
    parser.add_argument("--classes", type=int, default=None,
                        help="use the first N classes only (synthetic: N "
                             "angles, default 6)")
    parser.add_argument("--size", type=int, default=32,
                        help="synthetic image size (default 32)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--plot", default=os.path.join("runs", "examples",
                                                       "04_loss_curve.png"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.synthetic == (args.data is not None):
        parser.error("give either --data PATH or --synthetic")

    start = time.perf_counter()
    minidl.manual_seed(args.seed)
    if args.synthetic:
        images, labels, classes = stripes(args.per_class, args.classes or 6,
                                          args.size, args.seed)
    else:
        images, labels, classes = folder_slice(args.data, args.per_class,
                                               args.classes)
    dataset = ImageArrayDataset(images, labels, classes)
    held_out = len(dataset) // 5
    train_set, val_set = random_split(dataset, [len(dataset) - held_out, held_out],
                                      seed=args.seed)
    print("{} training and {} held-out images of {}x{}, {} classes".format(
        len(train_set), len(val_set), images.shape[1], images.shape[2],
        len(classes)))

    # Inputs normalised with the training images' own channel statistics.
    pixels = images[train_set.indices].reshape(-1, 3) / 255.0
    normalize = T.Normalize(pixels.mean(axis=0), pixels.std(axis=0))
    # Random left-right flips for photos; not for stripes, whose mirror
    # image has another angle, hence another class.
    augment = [] if args.synthetic else [T.RandomHorizontalFlip()]
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                              seed=args.seed, transform=T.Compose(
                                  augment + [T.ToTensor(), normalize]))
    val_loader = DataLoader(val_set, batch_size=256,
                            transform=T.Compose([T.ToTensor(), normalize]))

    model = small_cnn(len(classes))
    optimizer = minidl.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9,
                                 weight_decay=5e-4)
    scheduler = minidl.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=args.epochs * len(train_loader))
    print("model: {} parameters; chance-level loss ln({}) = {:.3f}".format(
        sum(p.numel() for p in model.parameters()), len(classes),
        math.log(len(classes))))

    batch_losses, epoch_losses, val_losses = [], [], []
    for epoch in range(1, args.epochs + 1):
        model.train()
        losses = []
        for images_batch, labels_batch in train_loader:
            logits = model(images_batch)
            loss = F.cross_entropy(logits, labels_batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
        batch_losses += losses
        epoch_losses.append(float(np.mean(losses)))
        val_loss, val_accuracy = evaluate(model, val_loader)
        val_losses.append(val_loss)
        print("epoch {:2d}: training loss {:.3f} | held-out loss {:.3f}, accuracy "
              "{:.1%}".format(epoch, epoch_losses[-1], val_loss, val_accuracy),
              flush=True)

    plot_losses(args.plot, batch_losses, len(train_loader), epoch_losses,
                val_losses)
    fell = epoch_losses[-1] < 0.9 * epoch_losses[0]
    chance = 1 / len(classes)
    print("{:.1f} s".format(time.perf_counter() - start))
    print("training loss fell from {:.3f} to {:.3f}; held-out accuracy {:.1%} "
          "(chance {:.1%}): {}".format(
              epoch_losses[0], epoch_losses[-1], val_accuracy, chance,
              "as expected" if fell and val_accuracy > chance
              else "NOT as expected"))
    return 0 if fell and val_accuracy > chance else 1


if __name__ == "__main__":
    raise SystemExit(main())
