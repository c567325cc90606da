"""ImageFolder: labelled images stored one file each, one folder per class.

::

    root/cat/0001.jpg
    root/cat/0002.png
    root/dog/0001.jpg

Class names are the sub-folder names in sorted order, and a class's index
is its position in that order. Every image is decoded once with Pillow,
converted to RGB, and the whole set stored as one uint8 array (N, H, W, 3)
in a cache file, so later runs load it in a fraction of a second.

The cache is a ``.npy`` file in ``cache_dir`` (default ``$MINIDL_CACHE``
or ``~/.cache/minidl``), under ``imagefolder/``, named by the *content* of
the set: a SHA-256 of every file's relative path, class and bytes (and the
`size` argument). So the same images reached through another path (a copy,
a link, another mount) share one cache file.

Hashing every file's bytes is much cheaper than decoding, but it is not
free, so it is done only when the file list changes: ``imagefolder-paths/``
holds, per root folder, a small text file named by the root's absolute
path and a fingerprint of its file list (relative paths, sizes,
modification times) whose content is the content key. An unchanged folder
costs one ``stat`` per file; a changed one is hashed again, its old entry
deleted, and cache files no entry names any more are deleted. Files are
written under a temporary name and renamed, so a crash never leaves half a
cache behind.
"""
import hashlib
import os
import re
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..serialization import default_file_mode
from .dataset import ImageArrayDataset

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png")
_CACHE_FORMAT = 1  # bump when the cache file's contents change meaning


def default_cache_dir():
    """``$MINIDL_CACHE``, else ``~/.cache/minidl``."""
    return os.environ.get("MINIDL_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "minidl")


def _import_pillow():
    """PIL.Image, imported only when images must be decoded."""
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError("ImageFolder needs Pillow to decode images: "
                          "pip install minidl[vision] (or pip install pillow)") \
            from error
    return Image


def find_classes(root):
    """(sorted class names, {name: index}) from the sub-folders of `root`."""
    if not os.path.isdir(root):
        raise FileNotFoundError("ImageFolder: root {} is not a folder".format(root))
    classes = sorted(entry.name for entry in os.scandir(root)
                     if entry.is_dir() and not entry.name.startswith("."))
    if not classes:
        raise FileNotFoundError("ImageFolder: no class sub-folders in {}; "
                                "expected root/<class>/<image>".format(root))
    return classes, {name: i for i, name in enumerate(classes)}


def list_images(root, classes, extensions=IMG_EXTENSIONS):
    """[(path, class index, size in bytes, mtime in ns)] in class, then name
    order. Raises if a class folder has no image."""
    records = []
    empty = []
    for index, name in enumerate(classes):
        folder = os.path.join(root, name)
        entries = sorted((e for e in os.scandir(folder)
                          if e.is_file() and e.name.lower().endswith(extensions)),
                         key=lambda e: e.name)
        if not entries:
            empty.append(name)
        for entry in entries:
            stat = entry.stat()
            records.append((entry.path, index, stat.st_size, stat.st_mtime_ns))
    if empty:
        raise FileNotFoundError("ImageFolder: no {} files for the classes {} in {}"
                                .format("/".join(extensions), empty, root))
    return records


def fingerprint(root, records, size):
    """SHA-256 of the file list (relative path, bytes, mtime) and `size`."""
    digest = hashlib.sha256("format {} size {}\n".format(
        _CACHE_FORMAT, size).encode())
    prefix = len(os.path.join(root, ""))  # paths are root/ + relative path
    for path, index, nbytes, mtime in records:
        digest.update("{}\t{}\t{}\t{}\n".format(
            path[prefix:], index, nbytes, mtime).encode())
    return digest.hexdigest()


def cache_prefix(root, cache_dir, size):
    """The start of the names of `root`'s entries in ``imagefolder-paths/``:
    its folder name and a hash of its absolute path and `size`."""
    key = hashlib.sha256("{}|{}".format(root, size).encode()).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", os.path.basename(root) or "root")
    return os.path.join(cache_dir, "imagefolder-paths", "{}-{}-".format(name, key))


def content_key(root, records, size, chunk_size=1 << 20):
    """SHA-256 of the images themselves: each file's path relative to
    `root`, class index and bytes, and `size`."""
    digest = hashlib.sha256("format {} size {}\n".format(
        _CACHE_FORMAT, size).encode())
    prefix = len(os.path.join(root, ""))
    for path, index, nbytes, _ in records:
        digest.update("{}\t{}\t{}\n".format(path[prefix:], index,
                                            nbytes).encode())
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(chunk_size), b""):
                digest.update(chunk)
    return digest.hexdigest()[:32]


def _read_text(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return None


def _write_atomically(path, write):
    """`write(binary file)` into a temporary file beside `path`, renamed to
    `path`; the mode honours the umask. Returns False (with a warning) when
    the folder cannot be written."""
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
    except OSError as error:
        warnings.warn("ImageFolder: cannot write the cache {} ({}); images will "
                      "be decoded again next time".format(path, error))
        return False
    try:
        os.chmod(temporary, default_file_mode())
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.replace(temporary, path)
    except BaseException:
        os.remove(temporary)
        raise
    return True


def _remember_key(entry_path, key, cache_dir):
    """Record `key` as the content of the root behind `entry_path`; delete
    the root's older entries and the cache files nothing names any more."""
    if not _write_atomically(entry_path, lambda stream: stream.write(
            (key + "\n").encode())):
        return
    entries = os.path.dirname(entry_path)
    prefix = entry_path[:entry_path.rindex("-") + 1]  # same root and size
    named = set()
    for entry in os.scandir(entries):
        if entry.path.startswith(prefix) and entry.path != entry_path:
            _remove_quietly(entry.path)
        elif entry.name.endswith(".txt"):
            named.add(_read_text(entry.path))
    images = os.path.join(cache_dir, "imagefolder")
    for entry in os.scandir(images):
        stem = entry.name[:-len(".npy")]
        if entry.name.endswith(".npy") and stem not in named:
            _remove_quietly(entry.path)


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _size_pair(size):
    if size is None:
        return None
    if isinstance(size, int):
        return size, size
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError("ImageFolder: size must be an int or (height, width), got "
                     "{!r}".format(size))


def _decode(path, size, image_module):
    """One file -> uint8 (H, W, 3); resized (bilinear) to `size` if given."""
    try:
        with image_module.open(path) as image:
            image = image.convert("RGB")
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), image_module.BILINEAR)
            return np.asarray(image)
    except OSError as error:  # unreadable, truncated or not an image
        raise ValueError("ImageFolder: cannot decode {}: {}".format(path, error)) \
            from error


def decode_images(paths, size=None, num_threads=None):
    """Decode `paths` into one uint8 array (N, H, W, 3).

    `size`: an int or (height, width) to resize to; without it, all images
    must have the size of the first one. Pillow releases the GIL while
    decoding, so threads decode files in parallel.
    """
    size = _size_pair(size)
    image_module = _import_pillow()
    first = _decode(paths[0], size, image_module)
    height, width = first.shape[:2]
    images = np.empty((len(paths), height, width, 3), dtype=np.uint8)
    images[0] = first

    def decode_range(start, stop):
        for i in range(start, stop):
            array = _decode(paths[i], size, image_module)
            if array.shape != first.shape:
                raise ValueError(
                    "ImageFolder: {} is {}x{} (width x height) but {} is {}x{}; "
                    "all images must share one size, or pass size=(height, "
                    "width) to resize them".format(
                        paths[i], array.shape[1], array.shape[0], paths[0],
                        width, height))
            images[i] = array

    threads = num_threads or os.cpu_count() or 1
    step = max(1, -(-(len(paths) - 1) // (threads * 8)))  # ~8 chunks a thread
    ranges = [(start, min(start + step, len(paths)))
              for start in range(1, len(paths), step)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(lambda r: decode_range(*r), ranges):
            pass  # map re-raises a worker's error here
    return images


def _read_cache(path, count):
    """The cached images (N, H, W, 3), or None if absent or unreadable."""
    if not os.path.isfile(path):
        return None
    try:
        images = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None  # unreadable: decode again and overwrite it
    if images.ndim != 4 or images.shape[0] != count or images.dtype != np.uint8:
        return None
    return images


def _write_cache(path, images):
    """Write the decoded images atomically. Returns False if it could not."""
    return _write_atomically(path, lambda stream: np.save(stream, images))


class ImageFolder(ImageArrayDataset):
    """Images in class sub-folders, decoded once and cached as one array.

    `root`: the folder of class folders. `transform`: see
    :mod:`minidl.data.transforms`. `cache_dir`: where the decoded array is
    kept (None: :func:`default_cache_dir`; False: no cache). `size`:
    (height, width) or an int to resize every image to (bilinear); without
    it all images must already share one size. `extensions`: file endings
    taken as images (case-insensitive).

    ``images`` uint8 (N, H, W, 3), ``targets`` int64 (N,), ``classes``,
    ``class_to_idx``, ``samples`` [(path, class index)] as in torchvision;
    ``loaded_from_cache`` says whether decoding was skipped.
    """

    def __init__(self, root, transform=None, cache_dir=None, size=None,
                 extensions=IMG_EXTENSIONS, num_threads=None):
        root = os.path.abspath(os.path.expanduser(os.fspath(root)))
        size = _size_pair(size)
        classes, _ = find_classes(root)
        records = list_images(root, classes, tuple(e.lower() for e in extensions))
        self.samples = [(path, index) for path, index, _, _ in records]
        self.root = root
        targets = np.array([index for _, index in self.samples], dtype=np.int64)

        self.cache_path = None
        self.loaded_from_cache = False
        images = None
        if cache_dir is not False:
            # The entry's name carries the fingerprint of the file list, so
            # a changed folder misses it and is hashed again.
            cache_dir = os.fspath(cache_dir or default_cache_dir())
            entry = cache_prefix(root, cache_dir, size) + \
                fingerprint(root, records, size)[:32] + ".txt"
            key = _read_text(entry)
            if not key:
                key = content_key(root, records, size)
            self.cache_path = os.path.join(cache_dir, "imagefolder",
                                           key + ".npy")
            images = _read_cache(self.cache_path, len(records))
        if images is not None:
            self.loaded_from_cache = True
        else:
            images = decode_images([path for path, _ in self.samples], size,
                                   num_threads)
            if self.cache_path is not None and \
                    not _write_cache(self.cache_path, images):
                self.cache_path = None
        if self.cache_path is not None and _read_text(entry) != key:
            _remember_key(entry, key, cache_dir)
        super().__init__(images, targets, classes, transform)
