"""CIFAR-10 from the official "python version" files.

Layout (as extracted from ``cifar-10-python.tar.gz``)::

    root/cifar-10-batches-py/data_batch_1 ... data_batch_5   (training, 50,000)
    root/cifar-10-batches-py/test_batch                      (test, 10,000)
    root/cifar-10-batches-py/batches.meta                    (class names)

Each batch file is a pickled dict: ``b"data"``, a uint8 array (N, 3072)
holding each 32x32 image as its red, then green, then blue plane (C, H, W
order), and ``b"labels"``, a list of N ints. Pickle can run code when
loaded, so read only files you trust: the download is checked against the
archive's published MD5.
"""
import hashlib
import os
import pickle
import shutil
import tarfile
import urllib.request

import numpy as np

from .dataset import ImageArrayDataset

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
TRAIN_FILES = ["data_batch_{}".format(i) for i in range(1, 6)]
TEST_FILES = ["test_batch"]
META_FILE = "batches.meta"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
           "horse", "ship", "truck"]


def _where_to_put(root):
    return ("download {} (MD5 {}) and put it at {}, or extract it there so that "
            "{} exists".format(URL, ARCHIVE_MD5, os.path.join(root, ARCHIVE_NAME),
                               os.path.join(root, FOLDER, TRAIN_FILES[0])))


def _find_folder(root):
    """The folder holding the batch files: root/cifar-10-batches-py, or root
    itself when the files are directly in it; None when neither."""
    for folder in (os.path.join(root, FOLDER), root):
        if os.path.isfile(os.path.join(folder, TRAIN_FILES[0])) or \
                os.path.isfile(os.path.join(folder, TEST_FILES[0])):
            return folder
    return None


def file_md5(path, chunk_size=1 << 20):
    """Hex MD5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url, path):
    """Download `url` to `path` (replaced by tests with a local copy)."""
    with urllib.request.urlopen(url, timeout=60) as response, \
            open(path, "wb") as handle:
        shutil.copyfileobj(response, handle)


def download_cifar10(root):
    """Fetch the archive into `root` (unless a good copy is there), check its
    MD5 and extract it. Returns the folder with the batch files."""
    os.makedirs(root, exist_ok=True)
    archive = os.path.join(root, ARCHIVE_NAME)
    if not (os.path.isfile(archive) and file_md5(archive) == ARCHIVE_MD5):
        partial = archive + ".part"
        try:
            _fetch(URL, partial)
        except OSError as error:  # URLError, timeouts, refused connections
            if os.path.exists(partial):
                os.remove(partial)
            raise RuntimeError("CIFAR10: could not download {} ({}). Offline, "
                               "{}".format(URL, error, _where_to_put(root))) \
                from error
        found = file_md5(partial)
        if found != ARCHIVE_MD5:
            os.remove(partial)
            raise RuntimeError("CIFAR10: the downloaded {} has MD5 {}, expected "
                               "{}; it was deleted, try again".format(
                                   ARCHIVE_NAME, found, ARCHIVE_MD5))
        os.replace(partial, archive)
    with tarfile.open(archive, "r:gz") as tar:
        if hasattr(tarfile, "data_filter"):  # refuse links/paths out of root
            tar.extractall(root, filter="data")
        else:
            tar.extractall(root)
    folder = _find_folder(root)
    if folder is None:
        raise RuntimeError("CIFAR10: {} did not contain {}/{}".format(
            archive, FOLDER, TRAIN_FILES[0]))
    return folder


def _field(record, name, path):
    """record[b"name"] (files written by Python 2) or record["name"]."""
    for key in (name.encode(), name):
        if key in record:
            return record[key]
    raise ValueError("CIFAR10: {} has no {!r} entry (keys: {}); is it a CIFAR-10 "
                     "python-format file?".format(path, name, sorted(
                         str(k) for k in record)))


def _load_pickle(path):
    with open(path, "rb") as handle:
        record = pickle.load(handle, encoding="bytes")
    if not isinstance(record, dict):
        raise ValueError("CIFAR10: {} holds a {}, expected a dict".format(
            path, type(record).__name__))
    return record


def read_batch(path):
    """(images uint8 (N, 32, 32, 3), labels int64 (N,)) from one batch file."""
    record = _load_pickle(path)
    data = np.asarray(_field(record, "data", path), dtype=np.uint8)
    labels = np.asarray(_field(record, "labels", path), dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError("CIFAR10: {} data has shape {}, expected (N, 3072)"
                         .format(path, data.shape))
    if labels.shape != (data.shape[0],):
        raise ValueError("CIFAR10: {} has {} labels for {} images".format(
            path, labels.shape[0], data.shape[0]))
    # Stored as (N, C, H, W) planes; datasets hold (N, H, W, C).
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def read_class_names(folder):
    """Class names from batches.meta (the standard list if it is missing)."""
    path = os.path.join(folder, META_FILE)
    if not os.path.isfile(path):
        return list(CLASSES)
    names = _field(_load_pickle(path), "label_names", path)
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


class CIFAR10(ImageArrayDataset):
    """CIFAR-10: 32x32 colour images in 10 classes.

    `root`: the folder that holds ``cifar-10-batches-py/`` (or the batch
    files themselves). `train`: the 50,000 training images, else the 10,000
    test images. `download`: fetch and verify the official archive when
    the files are missing. `transform`: see :mod:`minidl.data.transforms`.

    ``images`` uint8 (N, 32, 32, 3), ``targets`` int64 (N,), ``classes``.
    """

    def __init__(self, root, train=True, download=False, transform=None):
        root = os.path.abspath(os.path.expanduser(os.fspath(root)))
        folder = _find_folder(root)
        if folder is None:
            if not download:
                raise FileNotFoundError("CIFAR10: no CIFAR-10 files in {}. Pass "
                                        "download=True, or {}".format(
                                            root, _where_to_put(root)))
            folder = download_cifar10(root)
        names = TRAIN_FILES if train else TEST_FILES
        missing = [n for n in names if not os.path.isfile(os.path.join(folder, n))]
        if missing:
            raise FileNotFoundError("CIFAR10: {} lacks {}; {}".format(
                folder, ", ".join(missing), _where_to_put(root)))
        parts = [read_batch(os.path.join(folder, n)) for n in names]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        super().__init__(images, labels, read_class_names(folder), transform)
        self.root = root
        self.train = train
