"""CIFAR-10 from the official "python version" files.

Layout (as extracted from ``cifar-10-python.tar.gz``)::

    root/cifar-10-batches-py/data_batch_1 ... data_batch_5   (training, 50,000)
    root/cifar-10-batches-py/test_batch                      (test, 10,000)
    root/cifar-10-batches-py/batches.meta                    (class names)

Each batch file is a pickled dict: ``b"data"``, a uint8 array (N, 3072)
holding each 32x32 image as its red, then green, then blue plane (C, H, W
order), and ``b"labels"``, a list of N ints. Plain ``pickle.load`` can run
any code a crafted file names, so the files are read with
:class:`BatchUnpickler`, which builds only what the official files hold
(dicts, lists, strings, numbers and NumPy arrays) and refuses anything
else; the download is checked against the archive's published MD5 (the
one torchvision checks too).
"""
import hashlib
import http.client
import importlib
import os
import pickle
import shutil
import tarfile
import tempfile
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


class DownloadError(RuntimeError):
    """The CIFAR-10 archive could not be fetched, checked or extracted; the
    message says why and what to do offline."""


def _fetch(url, path):
    """Download `url` to `path` (tests replace it, or pass a local url).
    A response cut off before its Content-Length is an error."""
    with urllib.request.urlopen(url, timeout=60) as response, \
            open(path, "wb") as handle:
        shutil.copyfileobj(response, handle)
        expected = response.headers.get("Content-Length")
        received = handle.tell()
    if expected is not None and received != int(expected):
        raise OSError(f"the connection closed after {received} of {expected} "
                      f"bytes")


def _download_archive(root, url, md5):
    """Fetch `url` to ``root/cifar-10-python.tar.gz`` through a temporary
    file, renamed only once its MD5 is `md5`."""
    archive = os.path.join(root, ARCHIVE_NAME)
    handle, partial = tempfile.mkstemp(prefix=f".{ARCHIVE_NAME}.", suffix=".part",
                                       dir=root)
    os.close(handle)
    try:
        try:
            _fetch(url, partial)
        except (OSError, http.client.HTTPException) as error:
            # URLError, timeouts, refused connections, a cut-off response
            raise DownloadError(f"CIFAR10: could not download {url} ({error}). "
                               f"Offline, {_where_to_put(root)}") from error
        found = file_md5(partial)
        if found != md5:
            raise DownloadError(f"CIFAR10: the download of {url} has MD5 {found}, "
                               f"expected {md5} (truncated or not the official "
                               f"archive); it was deleted, try again, or "
                               f"{_where_to_put(root)}")
        os.replace(partial, archive)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return archive


def _extract(archive, root):
    """Extract into a temporary folder beside the result, then rename it
    into place, so an interrupted extraction leaves no half folder."""
    scratch = tempfile.mkdtemp(prefix=".cifar-extract.", dir=root)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            if hasattr(tarfile, "data_filter"):  # refuse links/paths out of root
                tar.extractall(scratch, filter="data")
            else:
                tar.extractall(scratch)
        extracted = os.path.join(scratch, FOLDER)
        if not os.path.isfile(os.path.join(extracted, TRAIN_FILES[0])):
            raise DownloadError(f"CIFAR10: {archive} did not contain "
                               f"{FOLDER}/{TRAIN_FILES[0]}")
        target = os.path.join(root, FOLDER)
        if os.path.isdir(target):  # a folder without the batch files
            shutil.rmtree(target)
        os.replace(extracted, target)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DownloadError(f"CIFAR10: cannot extract {archive} ({error}); "
                           f"delete it and try again") from error
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def download_cifar10(root, url=None, md5=None):
    """Fetch the archive into `root` (unless a copy with the right MD5 is
    there), check its MD5 and extract it. Returns the folder with the batch
    files. `url`, `md5`: another source (tests; a mirror), default
    :data:`URL` and :data:`ARCHIVE_MD5`."""
    url = url or URL
    md5 = md5 or ARCHIVE_MD5
    os.makedirs(root, exist_ok=True)
    archive = os.path.join(root, ARCHIVE_NAME)
    if not (os.path.isfile(archive) and file_md5(archive) == md5):
        archive = _download_archive(root, url, md5)
    return _extract(archive, root)


class BatchUnpickler(pickle.Unpickler):
    """Reads CIFAR's python batches and refuses everything else they never
    hold. Dicts, lists, strings, bytes and numbers need no lookup; the only
    names a batch refers to are NumPy's array rebuilders, admitted below
    under their NumPy 1 and NumPy 2 module names. Any other name (a crafted
    file naming ``os.system``, say) raises ``pickle.UnpicklingError``
    before anything runs."""

    # (module, name) as written in the file -> (module under numpy 2's
    # numpy._core or numpy 1's numpy.core, name)
    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): ("multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"): ("multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"): ("numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"): ("numeric", "_frombuffer"),
    }

    def find_class(self, module, name):
        if (module, name) in (("numpy", "ndarray"), ("numpy", "dtype")):
            return getattr(np, name)
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode  # how Python 3 writes bytes at protocol 2
        if (module, name) in self.ALLOWED:
            submodule, attribute = self.ALLOWED[module, name]
            return getattr(_numpy_core(submodule), attribute)
        raise pickle.UnpicklingError(
            f"refers to {module}.{name}, which CIFAR-10's batch files never "
            f"contain (they hold dicts, lists, strings, numbers and NumPy "
            f"arrays); refusing to load it, since pickle would call it")


def _numpy_core(submodule):
    """numpy._core.<submodule> (NumPy 2), else numpy.core.<submodule>."""
    try:
        return importlib.import_module(f"numpy._core.{submodule}")
    except ImportError:
        return importlib.import_module(f"numpy.core.{submodule}")


def _latin1_encode(text, encoding):
    """``_codecs.encode(text, "latin1")``, the one call Python 3 pickles of
    bytes make at protocol 2; any other encoding is refused."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refers to _codecs.encode with {encoding!r}")
    return text.encode("latin1")


def _field(record, name, path):
    """record[b"name"] (files written by Python 2) or record["name"]."""
    for key in (name.encode(), name):
        if key in record:
            return record[key]
    raise ValueError("CIFAR10: {} has no {!r} entry (keys: {}); is it a CIFAR-10 "
                     "python-format file?".format(path, name, sorted(
                         str(k) for k in record)))


def _load_pickle(path):
    """The dict pickled in `path`, read with :class:`BatchUnpickler`
    (Python 2's strings come back as bytes, as in the official files)."""
    with open(path, "rb") as handle:
        try:
            record = BatchUnpickler(handle, encoding="bytes").load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError,
                AttributeError, IndexError) as error:
            raise ValueError(f"CIFAR10: cannot read {path}: {error} (is it a "
                             f"CIFAR-10 python-format file?)") from None
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
    test images. `transform`: see :mod:`minidl.data.transforms`.
    `download`: fetch the official archive into `root` when the files are
    missing, check its MD5 and extract it. The arguments come in
    torchvision's order.

    ``images`` uint8 (N, 32, 32, 3), ``targets`` int64 (N,), ``classes``.
    """

    def __init__(self, root, train=True, transform=None, download=False):
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
