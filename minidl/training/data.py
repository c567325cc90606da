"""The data side of fine-tuning: open a dataset folder, split it, and build
the training and evaluation transforms from the command-line flags.

Both pipelines end with ``ToTensor`` and ``Normalize(mean, std)``, so the
model gets float32 (B, C, H, W) batches normalised as it was trained. The
random augmentations (crop, flip, rotation, colour jitter) work on the
uint8 batch before that, and belong to the training pipeline only.
"""
import os

from ..data import CIFAR10, DataLoader, ImageFolder, random_split
from ..data import transforms as T
from ..data.cifar import FOLDER as CIFAR_FOLDER, TEST_FILES, TRAIN_FILES

# ImageNet's channel statistics: the default when the weights name none.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def is_cifar10_folder(root):
    """True when `root` holds CIFAR-10's python batches (in
    ``cifar-10-batches-py/`` or directly)."""
    for folder in (os.path.join(root, CIFAR_FOLDER), root):
        for name in TRAIN_FILES[:1] + TEST_FILES:
            if os.path.isfile(os.path.join(folder, name)):
                return True
    return False


def open_dataset(root, train=True, image_size=None, option="--data"):
    """An image dataset from `root`: CIFAR-10's python batches (its training
    batches when `train`, else its test batch), or an ImageFolder (class
    sub-folders of JPEG/PNG files, resized to `image_size` if given).

    `option` names the flag in error messages.
    """
    root = os.path.expanduser(os.fspath(root))
    if not os.path.isdir(root):
        raise FileNotFoundError("{}: no such folder: {}".format(option, root))
    if is_cifar10_folder(root):
        return CIFAR10(root, train=train)
    try:
        return ImageFolder(root, size=image_size)
    except FileNotFoundError as error:
        raise FileNotFoundError("{} {}: neither a CIFAR-10 folder (with {}/) nor "
                                "an image folder ({})".format(
                                    option, root, CIFAR_FOLDER, error)) from None


def split_train_val(dataset, val_fraction, seed):
    """(train, validation) Subsets; the permutation is fixed by `seed`.

    `val_fraction` in [0, 1): the share of samples kept for validation (at
    least one sample when positive).
    """
    if not 0 <= val_fraction < 1:
        raise ValueError("--val-split must be in [0, 1), got {}".format(
            val_fraction))
    total = len(dataset)
    val_count = int(round(total * val_fraction))
    if val_fraction > 0:
        val_count = max(val_count, 1)
    if val_count >= total:
        raise ValueError("--val-split {} leaves no training image out of {}"
                         .format(val_fraction, total))
    train, val = random_split(dataset, [total - val_count, val_count], seed=seed)
    return train, val


def image_shape(dataset):
    """(height, width) of the images of a dataset or Subset."""
    images = dataset.dataset.images if hasattr(dataset, "indices") \
        else dataset.images
    return tuple(int(s) for s in images.shape[1:3])


def build_train_transform(mean, std, size, crop_padding=None,
                          crop_padding_mode="constant", hflip=False,
                          rotation=None, color_jitter=None):
    """The training pipeline: the chosen augmentations, then ToTensor and
    Normalize. `size` is the (height, width) a random crop comes back to."""
    steps = []
    if crop_padding is not None:
        steps.append(T.RandomCrop(size, padding=crop_padding,
                                  padding_mode=crop_padding_mode))
    if hflip:
        steps.append(T.RandomHorizontalFlip())
    if rotation:
        steps.append(T.RandomRotation(rotation))
    if color_jitter is not None:
        brightness, contrast, saturation = color_jitter
        steps.append(T.ColorJitter(brightness, contrast, saturation))
    steps += [T.ToTensor(), T.Normalize(mean, std)]
    return T.Compose(steps)


def build_eval_transform(mean, std):
    """The evaluation pipeline: ToTensor and Normalize, nothing random."""
    return T.Compose([T.ToTensor(), T.Normalize(mean, std)])


def default_num_workers(device):
    """Background threads making batches when ``--num-workers`` is left out:
    none on the CPU, 2 on a GPU.

    On the CPU a batch of the README recipe costs about 8 ms to make
    against a 700 ms step, so making it in the background can save at most
    about 1%, and the loader threads compete with minidl's own compute
    threads for the cores and for Python's global lock. Measured on 2
    cores, 10 alternating rounds of 8 steps: 798 ms a step with 2 loader
    threads, 779 ms without (within the noise; ``python -m benchmarks.run
    --data ...`` times both, ``finetune_steps`` and ``finetune_steps_sync``).
    So the CPU default is the simpler one. On a GPU the step is short and
    the host otherwise idle, so the overlap pays.
    """
    return 0 if device.type == "cpu" else 2


def eval_loader(dataset, transform, batch_size, device, num_workers):
    """Batches in order, for evaluation."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=False,
                      num_workers=num_workers, seed=0, transform=transform,
                      device=device)
