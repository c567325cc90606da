"""The small data sets and the small CNN that examples 04 and 07 share.

* ``folder_slice``: the first images of each class of an image folder;
* ``stripes``: generated stripe images whose angle is the class;
* ``add_data_options`` and ``load_images``: the command-line options that
  choose between the two, and the loading;
* ``small_cnn``: a three-layer convolutional classifier.
"""
import numpy as np

from minidl import nn
from minidl.data import folder


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


def add_data_options(parser):
    """--data or --synthetic, --per-class, --classes, --size (and --seed,
    which the stripes use) on an argparse parser."""
    parser.add_argument("--data", help="an image folder (class sub-folders)")
    parser.add_argument("--synthetic", action="store_true",
                        help="generated stripe images instead")
    parser.add_argument("--per-class", type=int, default=100,
                        help="images per class (default 100)")
    parser.add_argument("--classes", type=int, default=None,
                        help="use the first N classes only (synthetic: N "
                             "angles, default 6)")
    parser.add_argument("--size", type=int, default=32,
                        help="synthetic image size (default 32)")
    parser.add_argument("--seed", type=int, default=0)


def load_images(parser, args):
    """(images, labels, class names) as the options of add_data_options
    ask; exits through parser.error unless exactly one source is given."""
    if args.synthetic == (args.data is not None):
        parser.error("give either --data PATH or --synthetic")
    if args.synthetic:
        return stripes(args.per_class, args.classes or 6, args.size, args.seed)
    return folder_slice(args.data, args.per_class, args.classes)


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
