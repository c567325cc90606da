"""The fine-tuning recipe in PyTorch, on exactly the data minidl sees.

    python -m benchmarks.finetune_torch_reference \
        --weights ../shared/weights/resnet20-12fca82f.th \
        --data ../shared/data/cifar10-jpg/train --epochs 1

The validation split, the batch order and the augmentation (random crop with
reflect padding 4, horizontal flip) come from minidl's own data pipeline with
the same seed as ``python -m minidl.finetune``; only the model, the loss, the
optimizer and the schedule are PyTorch's: SGD (momentum 0.9, Nesterov,
weight decay 5e-4) with OneCycleLR(max_lr=0.02) stepped per batch. Both
frameworks therefore start from the same accuracy on the same images, and
their results can be compared directly.
"""
import argparse
import json
import time

from minidl.data import DataLoader
from minidl.testing.torch_reference import torch_cifar_resnet
from minidl.training import data as data_setup

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def evaluate(torch, model, loader):
    """Accuracy of `model` on `loader` (eval mode, no gradients)."""
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            logits = model(torch.from_numpy(images.numpy()))
            correct += int((logits.argmax(1).numpy() == labels.numpy()).sum())
            total += len(labels.numpy())
    return correct / total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True,
                        help="a CIFAR ResNet-20 checkpoint (.th)")
    parser.add_argument("--data", required=True, help="an ImageFolder root")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    dataset = data_setup.open_dataset(args.data)
    train_set, val_set = data_setup.split_train_val(dataset, 0.1, args.seed)
    size = data_setup.image_shape(train_set)
    train_loader = DataLoader(
        train_set, batch_size=args.batch_size, shuffle=True, num_workers=2,
        seed=args.seed, transform=data_setup.build_train_transform(
            MEAN, STD, size, crop_padding=4, crop_padding_mode="reflect",
            hflip=True))
    val_loader = data_setup.eval_loader(
        val_set, data_setup.build_eval_transform(MEAN, STD), 256, None, 2)

    model = torch_cifar_resnet(torch, 20)
    state = torch.load(args.weights, map_location="cpu", weights_only=False)
    state = state.get("state_dict", state)
    model.load_state_dict({k.replace("module.", "", 1): v
                           for k, v in state.items()})
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9,
                                nesterov=True, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * len(train_loader))

    results = {"before": evaluate(torch, model, val_loader), "epochs": []}
    print("before training: validation accuracy {:.2%}".format(results["before"]))
    for epoch in range(1, args.epochs + 1):
        model.train()
        start, seen = time.perf_counter(), 0
        for images, labels in train_loader:
            x = torch.from_numpy(images.numpy())
            y = torch.from_numpy(labels.numpy())
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            seen += len(y)
        seconds = time.perf_counter() - start
        accuracy = evaluate(torch, model, val_loader)
        results["epochs"].append({"epoch": epoch, "val_accuracy": accuracy,
                                  "seconds": seconds,
                                  "images_per_second": seen / seconds})
        print("epoch {}: validation accuracy {:.2%}, {:.0f} s, {:.0f} img/s"
              .format(epoch, accuracy, seconds, seen / seconds))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
