"""Step 9: LoRA against full fine-tuning and a frozen backbone.

    python examples/09_lora.py --synthetic
    python examples/09_lora.py --data /path/to/cifar10-jpg/train --per-class 200

A small CNN learns the first half of the classes ("pretraining"), then
gets a new head for the other half and is fine-tuned on a few images of
those, three ways, from the same starting point:

* frozen backbone: only the new head trains;
* LoRA: rank-r adapters on every convolution, plus the new head; the
  convolutions' own weights stay frozen (minidl.peft.add_lora);
* full fine-tuning: every parameter trains.

Each prints its held-out accuracy and how many parameters it trained.
LoRA's update is W + (alpha / r) B A with B = 0 at the start, so it starts
from the pretrained model exactly; at the end its adapters are merged into
the weights (minidl.peft.merge_lora), which gives the same outputs from a
plain model. The last line says whether they do.

--synthetic draws stripe images whose angle is the class (8 angles: the
first 4 to pretrain, the other 4 to fine-tune); --data takes the first
--per-class images of each class of an image folder (e.g. CIFAR-10: the
first five classes to pretrain, the other five to fine-tune).
"""
import argparse
import copy
import time

import numpy as np

import minidl
from minidl import nn, peft
from minidl.data import DataLoader, ImageArrayDataset, random_split
from minidl.data import transforms as T
from minidl.nn import functional as F
from minidl.training.freeze import set_train_mode
from minidl.training.lora import frozen_batchnorms
# small_data.py lies beside this script
from small_data import add_data_options, load_images, small_cnn


def loaders(images, labels, classes, held_out, batch_size, seed, normalize):
    """(training loader, held-out loader) over the images, split at random."""
    dataset = ImageArrayDataset(images, labels, classes)
    count = max(1, int(round(len(dataset) * held_out)))
    train_set, val_set = random_split(dataset, [len(dataset) - count, count],
                                      seed=seed)
    transform = T.Compose([T.ToTensor(), normalize])
    return (DataLoader(train_set, batch_size=batch_size, shuffle=True, seed=seed,
                       transform=transform),
            DataLoader(val_set, batch_size=256, transform=transform))


def accuracy(model, loader):
    model.eval()
    correct = count = 0
    with minidl.no_grad():
        for images, labels in loader:
            correct += int((model(images).argmax(dim=1) == labels).numpy().sum())
            count += len(labels)
    return correct / count


def train(model, loader, epochs, lr, frozen_norms=()):
    """SGD with momentum and a cosine schedule on the parameters that
    require grad; BatchNorm layers in `frozen_norms` stay in eval mode."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = minidl.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4)
    scheduler = minidl.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=epochs * len(loader))
    for _ in range(epochs):
        set_train_mode(model, frozen_norms)
        for images, labels in loader:
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()


def with_new_head(pretrained, num_classes, seed):
    """A copy of the pretrained model whose last layer (the classifier) is a
    fresh Linear; the same seed gives every strategy the same new head."""
    model = copy.deepcopy(pretrained)
    minidl.manual_seed(seed)
    model[-1] = nn.Linear(model[-1].in_features, num_classes)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_options(parser)
    parser.add_argument("--finetune-per-class", type=int, default=40,
                        help="images per new class to fine-tune on (a quarter "
                             "is held out; default 40)")
    parser.add_argument("--pretrain-epochs", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=10,
                        help="fine-tuning epochs (default 10)")
    parser.add_argument("--rank", type=int, default=4, help="LoRA rank r")
    parser.add_argument("--alpha", type=float, default=8, help="LoRA alpha")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    if args.synthetic and args.classes is None:
        args.classes = 8
    start = time.perf_counter()
    minidl.manual_seed(args.seed)
    images, labels, classes = load_images(parser, args)
    half = len(classes) // 2
    if half < 2:
        parser.error(f"need at least 4 classes, got {len(classes)}")
    pixels = images.reshape(-1, 3) / 255.0
    normalize = T.Normalize(pixels.mean(axis=0), pixels.std(axis=0))

    first = labels < half
    pre_train, pre_val = loaders(images[first], labels[first], classes[:half],
                                 0.2, args.batch_size, args.seed, normalize)
    rng = np.random.default_rng(args.seed)
    chosen = np.concatenate([rng.permutation(np.flatnonzero(labels == k))
                             [:args.finetune_per_class]
                             for k in range(half, len(classes))])
    new_classes = classes[half:]
    fine_train, fine_val = loaders(images[chosen], labels[chosen] - half,
                                   new_classes, 0.25, args.batch_size,
                                   args.seed, normalize)

    pretrained = small_cnn(half)
    train(pretrained, pre_train, args.pretrain_epochs, args.lr)
    print(f"pretrained on {', '.join(classes[:half])}: held-out accuracy "
          f"{accuracy(pretrained, pre_val):.1%}")
    print(f"fine-tuning on {', '.join(new_classes)}: "
          f"{len(fine_train.dataset)} training and {len(fine_val.dataset)} "
          f"held-out images")
    head = str(len(pretrained) - 1)  # the Sequential's last layer: "13"

    results = []
    # 1. Frozen backbone: the new head alone trains.
    model = with_new_head(pretrained, len(new_classes), args.seed + 1)
    for name, param in model.named_parameters():
        param.requires_grad_(name.startswith(head + "."))
    train(model, fine_train, args.epochs, args.lr, frozen_batchnorms(model))
    results.append(("frozen backbone", model))

    # 2. LoRA on every convolution, and the new head.
    lora = with_new_head(pretrained, len(new_classes), args.seed + 1)
    peft.add_lora(lora, rank=args.rank, alpha=args.alpha, targets="Conv2d",
                  trainable=[head])
    print(f"LoRA r={args.rank}, alpha={args.alpha:g}: "
          f"{peft.trainable_parameters_report(lora)}")
    train(lora, fine_train, args.epochs, args.lr, frozen_batchnorms(lora))
    results.append((f"LoRA r={args.rank}", lora))

    # 3. Full fine-tuning.
    model = with_new_head(pretrained, len(new_classes), args.seed + 1)
    train(model, fine_train, args.epochs, args.lr)
    results.append(("full fine-tuning", model))

    print(f"{'strategy':<18}{'held-out accuracy':>18}{'trainable parameters':>24}")
    scores, counts = {}, {}
    for name, model in results:
        trainable, total = peft.count_trainable(model)
        scores[name], counts[name] = accuracy(model, fine_val), trainable
        print(f"{name:<18}{scores[name]:>18.1%}{trainable:>12,} of {total:,} "
              f"({trainable / total:.1%})")

    # Merging: a plain model, the same outputs.
    lora.eval()
    batch = next(iter(fine_val))[0]
    with minidl.no_grad():
        before = lora(batch).numpy()
        merged = peft.merge_lora(lora)
        after = merged(batch).numpy()
    difference = float(np.max(np.abs(after - before)))
    same = difference <= 1e-5 * max(1.0, float(np.max(np.abs(before))))
    plain = not peft.lora_layers(merged)
    print(f"{time.perf_counter() - start:.1f} s")
    lora_name = f"LoRA r={args.rank}"
    print(f"LoRA: {scores[lora_name]:.1%} held-out accuracy training "
          f"{counts[lora_name]:,} parameters (frozen backbone "
          f"{scores['frozen backbone']:.1%}, full fine-tuning "
          f"{scores['full fine-tuning']:.1%}); merged into a plain model, max "
          f"|difference| {difference:.1e}: "
          f"{'OK' if same and plain else 'NOT the same'}")
    return 0 if same and plain else 1


if __name__ == "__main__":
    raise SystemExit(main())
