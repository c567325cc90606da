"""Step 7: adversarial examples from input gradients (FGSM), and adversarial
fine-tuning.

    python examples/07_adversarial.py --data /path/to/cifar10-jpg/train \
        --per-class 100
    python examples/07_adversarial.py --synthetic

The fast gradient sign method (Goodfellow et al., 2015) moves every pixel
of an image by eps, in the direction that raises the loss:

    x_adv = clip(x + eps * sign(d loss(model(x), y) / dx), 0, 1)

The gradient with respect to the INPUT comes from the same backward pass
that trains the weights (here ``minidl.autograd.grad(loss, x)``). A step of
eps = 8/255 is barely visible, yet it ruins an ordinary model's accuracy.

1. A small CNN is trained on clean images: the first --per-class images
   of each class of --data (a fifth held out), or generated stripe images
   (and 100 more per class, held out).
2. Its held-out accuracy is measured on clean and on FGSM images; one
   attacked image is shown.
3. Two copies of it train --finetune-epochs more epochs: one on clean
   images (the control), one adversarially, on a half-and-half mix of clean
   and FGSM images (``minidl.training.loop.FGSM``, what the fine-tuning
   command's ``--adv-eps`` does).
4. Accuracy under attack again. The last line says whether adversarial
   fine-tuning made the model more robust than the control.
"""
import argparse
import copy
import time

import numpy as np

import minidl
from minidl.data import DataLoader, ImageArrayDataset, Subset, random_split
from minidl.data import transforms as T
from minidl.nn import functional as F
from minidl.training.loop import FGSM
# small_data.py lies beside this script
from small_data import add_data_options, load_images, small_cnn, stripes

HELD_OUT_PER_CLASS = 100  # --synthetic: generated held-out images per class


# -- the attack ---------------------------------------------------------------
class Attack:
    """FGSM on normalised inputs x = (pixel - mean) / std: a pixel step of
    eps is a step of eps / std[c] in channel c, and pixels stay in [0, 1]."""

    def __init__(self, eps, mean, std):
        mean = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
        std = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
        self.std = std
        self.step = np.float32(eps) / std
        self.low, self.high = (0 - mean) / std, (1 - mean) / std

    def __call__(self, model, images, labels):
        """The FGSM version of a batch (a new Tensor, no graph)."""
        x = images.detach().requires_grad_(True)
        loss = F.cross_entropy(model(x), labels)
        # d loss / d x only: nothing is accumulated into the weights' .grad.
        grad_x, = minidl.autograd.grad(loss, x)
        xp = minidl.get_array_module(x.data)  # NumPy, or CuPy on a GPU
        moved = x.data + xp.asarray(self.step) * xp.sign(grad_x.data)
        moved = xp.clip(moved, xp.asarray(self.low), xp.asarray(self.high))
        return minidl.Tensor(moved)


def accuracy(model, loader, attack=None):
    """Accuracy on the loader's images, or on their FGSM versions."""
    model.eval()
    correct = count = 0
    for images, labels in loader:
        if attack is not None:
            images = attack(model, images, labels)
        with minidl.no_grad():
            predicted = model(images).argmax(dim=1)
        correct += int((predicted == labels).numpy().sum())
        count += len(labels)
    return correct / count


def train(model, loader, epochs, lr, adversary=None):
    """SGD with momentum; with `adversary` (an FGSM), on clean + FGSM batches."""
    optimizer = minidl.optim.SGD(model.parameters(), lr=lr, momentum=0.9,
                                 weight_decay=5e-4)
    for _ in range(epochs):
        model.train()
        for images, labels in loader:
            optimizer.zero_grad()
            if adversary is None:
                F.cross_entropy(model(images), labels).backward()
            else:
                # 0.5 * loss(x) + 0.5 * loss(x_adv): both backward passes
                # add into the weights' gradients.
                adversary.forward_backward(model, images, labels, F.cross_entropy)
            optimizer.step()


def show_one_example(model, loader, attack, classes):
    """Print one held-out image that the model gets right, before and after
    the attack."""
    model.eval()
    images, labels = next(iter(loader))
    adversarial = attack(model, images, labels)
    with minidl.no_grad():
        clean_p = F.softmax(model(images), dim=1).numpy()
        adv_p = F.softmax(model(adversarial), dim=1).numpy()
    labels = labels.numpy()
    right = np.flatnonzero(clean_p.argmax(1) == labels)
    flipped = right[adv_p[right].argmax(1) != labels[right]]
    i = int(flipped[0] if len(flipped) else right[0] if len(right) else 0)
    # Back to pixel units: the largest change of any pixel is eps.
    change = np.abs(adversarial.numpy()[i] - images.numpy()[i]) * attack.std[0]
    print("one held-out image (label {}): the model says {} ({:.0%}); after FGSM "
          "(no pixel moved by more than {:.4f}) it says {} ({:.0%})".format(
              classes[labels[i]], classes[clean_p[i].argmax()], clean_p[i].max(),
              change.max(), classes[adv_p[i].argmax()], adv_p[i].max()))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_options(parser)
    parser.add_argument("--eps", type=float, default=8 / 255,
                        help="FGSM step in pixel units of [0, 1] (default 8/255)")
    parser.add_argument("--epochs", type=int, default=12,
                        help="clean training epochs (default 12)")
    parser.add_argument("--finetune-epochs", type=int, default=10,
                        help="epochs of the two fine-tunings (default 10)")
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    minidl.manual_seed(args.seed)
    images, labels, classes = load_images(parser, args)
    dataset = ImageArrayDataset(images, labels, classes)
    if args.synthetic:
        # Generated images cost nothing: a separate, larger held-out set
        # makes the accuracies below less noisy.
        train_set = Subset(dataset, np.arange(len(dataset)))
        val_set = ImageArrayDataset(*stripes(HELD_OUT_PER_CLASS, len(classes),
                                             args.size, args.seed + 1))
    else:
        held_out = len(dataset) // 5
        train_set, val_set = random_split(
            dataset, [len(dataset) - held_out, held_out], seed=args.seed)
    pixels = images[train_set.indices].reshape(-1, 3) / 255.0
    mean, std = pixels.mean(axis=0), pixels.std(axis=0)
    to_input = [T.ToTensor(), T.Normalize(mean, std)]
    augment = [] if args.synthetic else [T.RandomHorizontalFlip()]

    def train_loader(first_epoch=0):
        """Shuffled training batches, starting at `first_epoch`: both
        fine-tunings below see the very same batches."""
        loader = DataLoader(train_set, batch_size=32, shuffle=True,
                            seed=args.seed,
                            transform=T.Compose(augment + to_input))
        loader.set_epoch(first_epoch)
        return loader

    val_loader = DataLoader(val_set, batch_size=100, transform=T.Compose(to_input))
    attack = Attack(args.eps, mean, std)
    print("{} training / {} held-out images, {} classes; FGSM eps = {:.4f} "
          "({:.1f}/255)".format(len(train_set), len(val_set), len(classes),
                                args.eps, args.eps * 255))

    model = small_cnn(len(classes))
    train(model, train_loader(), args.epochs, args.lr)
    clean = accuracy(model, val_loader)
    attacked = accuracy(model, val_loader, attack)
    print("after {} clean epochs: accuracy {:.1%} on clean images, {:.1%} under "
          "FGSM".format(args.epochs, clean, attacked), flush=True)
    show_one_example(model, val_loader, attack, classes)

    results = {"before fine-tuning": (clean, attacked)}
    for name, adversary in (("clean fine-tuning", None),
                            ("adversarial fine-tuning", FGSM(args.eps, mean, std))):
        tuned = copy.deepcopy(model)
        train(tuned, train_loader(args.epochs), args.finetune_epochs,
              args.lr / 2, adversary)
        results[name] = (accuracy(tuned, val_loader),
                         accuracy(tuned, val_loader, attack))

    print("\n{:26s} {:>8s} {:>13s}".format("held-out accuracy", "clean",
                                          "under FGSM"))
    for name, (clean, attacked) in results.items():
        print("{:26s} {:8.1%} {:13.1%}".format(name, clean, attacked))
    before = results["before fine-tuning"][1]
    control = results["clean fine-tuning"][1]
    robust = results["adversarial fine-tuning"][1]
    ok = robust > max(before, control)
    print("{:.1f} s".format(time.perf_counter() - start))
    print("accuracy under FGSM: {:.1%} before, {:.1%} after adversarial "
          "fine-tuning ({:.1%} after clean fine-tuning): {}".format(
              before, robust, control,
              "more robust, as expected" if ok else "NOT as expected"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
