"""Train a small Vision Transformer from scratch on an image folder.

    python examples/train_vit.py --data /path/to/cifar10-jpg/train \\
        --train-images 10000 --epochs 3

The folder is split as ``python -m minidl.finetune`` splits it (a seeded
--val-split share held out, :func:`minidl.training.data.split_train_val`);
the first --train-images of the training part are used (all by default),
with random crops (padding 4) and horizontal flips, normalised with the
folder's ImageNet statistics. The model is a
:class:`minidl.models.VisionTransformer` (torchvision's layout) whose size
is given by the options; AdamW with a warm-up then a cosine decay of
the learning rate (OneCycleLR). Each epoch prints the training loss and accuracy, the
held-out accuracy and the epoch's time; the last line sums it up.
"""
import argparse
import time

import minidl
from minidl import models, optim
from minidl.data import DataLoader, Subset
from minidl.nn import functional as F
from minidl.training import data as data_setup
from minidl.training.loop import evaluate, train_one_epoch


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True,
                        help="image folder (class sub-folders), e.g. CIFAR-10 "
                             "as JPEGs")
    parser.add_argument("--val-split", type=float, default=0.1)
    parser.add_argument("--train-images", type=int, default=None,
                        help="use only this many training images")
    parser.add_argument("--val-images", type=int, default=None,
                        help="evaluate on only this many held-out images")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--patch-size", type=int, default=4)
    parser.add_argument("--hidden-dim", type=int, default=64)
    parser.add_argument("--mlp-dim", type=int, default=128)
    parser.add_argument("--num-layers", type=int, default=4)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--limit-batches", type=int, default=None,
                        help="stop each epoch after this many batches")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    minidl.manual_seed(args.seed)
    dataset = data_setup.open_dataset(args.data)
    train_set, val_set = data_setup.split_train_val(dataset, args.val_split,
                                                    args.seed)
    if args.train_images:
        train_set = Subset(train_set, range(min(args.train_images,
                                                len(train_set))))
    if args.val_images:
        val_set = Subset(val_set, range(min(args.val_images, len(val_set))))
    height, width = data_setup.image_shape(dataset)
    mean, std = data_setup.IMAGENET_MEAN, data_setup.IMAGENET_STD
    train_loader = DataLoader(
        train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed,
        transform=data_setup.build_train_transform(
            mean, std, (height, width), crop_padding=4, hflip=True))
    val_loader = data_setup.eval_loader(
        val_set, data_setup.build_eval_transform(mean, std), 256, None, 0)

    model = models.VisionTransformer(
        image_size=height, patch_size=args.patch_size,
        num_layers=args.num_layers, num_heads=args.num_heads,
        hidden_dim=args.hidden_dim, mlp_dim=args.mlp_dim,
        num_classes=len(dataset.classes))
    parameters = sum(p.numel() for p in model.parameters())
    print(f"ViT: {height}x{width} images, {args.patch_size}x{args.patch_size} "
          f"patches ({model.seq_length} tokens), {args.num_layers} blocks of "
          f"width {args.hidden_dim}, {args.num_heads} heads, MLP "
          f"{args.mlp_dim}: {parameters:,} parameters; {len(train_set)} "
          f"training and {len(val_set)} held-out images")

    optimizer = optim.AdamW(model.parameters(), lr=args.lr,
                            weight_decay=args.weight_decay)
    batches = min(len(train_loader), args.limit_batches or len(train_loader))
    # The 1cycle policy: a warm-up over the first 10% of the steps (at least
    # two steps), then a cosine decay (Transformers train badly without a
    # warm-up).
    total_steps = args.epochs * batches
    scheduler = optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=total_steps,
        pct_start=min(0.5, max(0.1, 2.5 / total_steps)))

    def loss_fn(logits, labels):
        return F.cross_entropy(logits, labels)

    epoch_times, accuracy = [], 0.0
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        trained = train_one_epoch(model, train_loader, optimizer, loss_fn,
                                  scheduler, max_batches=args.limit_batches,
                                  prefix=f"epoch {epoch}")
        seconds = time.perf_counter() - start
        epoch_times.append(seconds)
        validated = evaluate(model, val_loader, len(dataset.classes),
                             prefix="val")
        accuracy = validated.accuracy
        print(f"epoch {epoch}: train loss {trained.loss:.3f}, train accuracy "
              f"{trained.accuracy:.1%}, held-out accuracy {accuracy:.1%}; "
              f"{seconds:.0f} s training ({trained.images / seconds:.0f} "
              f"images/s), {validated.seconds:.0f} s evaluating")
    mean_time = sum(epoch_times) / len(epoch_times)
    print(f"after {args.epochs} epochs: held-out accuracy {accuracy:.1%} "
          f"(chance {1 / len(dataset.classes):.0%}), {mean_time:.0f} s per "
          f"training epoch")


if __name__ == "__main__":
    main()
