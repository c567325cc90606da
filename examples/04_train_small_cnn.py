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
from minidl.data import DataLoader, ImageArrayDataset, random_split
from minidl.data import transforms as T
from minidl.nn import functional as F
# small_data.py lies beside this script
from small_data import add_data_options, load_images, small_cnn


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
    add_data_options(parser)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--plot", default=os.path.join("runs", "examples",
                                                       "04_loss_curve.png"))
    args = parser.parse_args(argv)

    start = time.perf_counter()
    minidl.manual_seed(args.seed)
    images, labels, classes = load_images(parser, args)
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
