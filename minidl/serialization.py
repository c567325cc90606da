"""``minidl.save`` / ``minidl.load``: state dicts and checkpoints as ``.npz``.

The file is an ordinary NumPy ``.npz`` archive (a zip of ``.npy`` files), so
``numpy.load`` can read it without minidl and without pickle:

* every array (Tensor, NumPy array or NumPy scalar) is one ``.npy`` entry,
  named by its path of keys joined with ``/``: a state dict's
  ``layer1.0.conv1.weight`` keeps its name; a nested checkpoint has names
  such as ``model/fc.weight`` or ``optimizer/state/0/exp_avg``;
* one more entry, ``__minidl__``, is a JSON string holding everything else:
  the shape of the nested structure (dicts with their key order and key
  types, lists, tuples), the plain values in it (numbers, strings, bools,
  None), which entry each array went to and whether it was a Tensor, and
  optional free-form ``metadata``.

So a checkpoint such as ``{"model": model.state_dict(), "optimizer": ...,
"epoch": 3, "rng": minidl.random.get_rng_state()}`` round-trips exactly,
including integer dict keys and Python ints too large for int64.

Writing is atomic: the archive is written to a temporary file in the same
directory and moved over `path` with ``os.replace`` only once complete, so
a crash or an error never leaves a partial file at `path`.
"""
import copy
import json
import numbers
import os
import tempfile
import zipfile

import numpy as np

from . import backend
from .tensor import Tensor

STRUCTURE_KEY = "__minidl__"
FORMAT_VERSION = 1


# -- saving ---------------------------------------------------------------------
class _Encoder:
    """Turns a nested object into (JSON-able skeleton, {entry name: array})."""

    def __init__(self):
        self.arrays = {}

    def entry_name(self, path):
        name = "/".join(str(part) for part in path) or "value"
        if name == STRUCTURE_KEY:
            name += "_"
        unique, count = name, 1
        while unique in self.arrays:  # e.g. keys 0 and "0" in one dict
            unique = "{}#{}".format(name, count)
            count += 1
        return unique

    def encode(self, value, path):
        if isinstance(value, Tensor):
            name = self.entry_name(path)
            self.arrays[name] = backend.to_numpy(value.data)
            return {"__tensor__": name}
        if isinstance(value, np.generic):
            name = self.entry_name(path)
            self.arrays[name] = np.asarray(value)
            return {"__scalar__": name}
        if hasattr(value, "__array_interface__") or hasattr(
                value, "__cuda_array_interface__"):  # a NumPy or CuPy array
            name = self.entry_name(path)
            self.arrays[name] = backend.to_numpy(value)
            return {"__ndarray__": name}
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            return float(value)
        if isinstance(value, dict):
            items = []
            for key, item in value.items():
                if not (key is None or isinstance(key, (str, int, float, bool))):
                    raise TypeError("minidl.save: dict key {!r} at {} is a {}; "
                                    "keys must be str, int, float, bool or None"
                                    .format(key, _where(path),
                                            type(key).__name__))
                items.append([key, self.encode(item, path + [key])])
            return {"__dict__": items}
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(item, path + [i])
                                  for i, item in enumerate(value)]}
        if isinstance(value, list):
            return [self.encode(item, path + [i]) for i, item in enumerate(value)]
        raise TypeError("minidl.save: cannot store a {} at {}; expected "
                        "Tensors, arrays, numbers, strings, None, and dicts, "
                        "lists or tuples of them".format(type(value).__name__,
                                                         _where(path)))


def _where(path):
    return "key path {!r}".format("/".join(str(p) for p in path)) if path \
        else "the top level"


def _write_archive(file, arrays):
    """Write {name: array} as an uncompressed .npz (what numpy.savez does),
    refusing object arrays so that loading never needs pickle."""
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED,
                         allowZip64=True) as archive:
        for name, array in arrays.items():
            if array.dtype.hasobject:
                raise TypeError("minidl.save: entry {!r} is an array of Python "
                                "objects, which .npz cannot hold without "
                                "pickle".format(name))
            with archive.open(name + ".npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, np.asanyarray(array),
                                          allow_pickle=False)


def default_file_mode():
    """The mode ``open(path, "w")`` gives a new file: 0666 less the umask."""
    umask = os.umask(0o022)  # reading the umask means setting it; put it back
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path, write):
    """Call ``write(binary_file)`` on a temporary file beside `path`, then
    rename it to `path`. On any error the temporary file is removed and
    `path` is left as it was."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError("cannot write {}: directory {} does not exist"
                                .format(path, directory))
    handle, temporary = tempfile.mkstemp(
        dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        os.chmod(temporary, default_file_mode())  # mkstemp makes it 0600
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())  # on disk before the rename makes it visible
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def save(obj, path, metadata=None):
    """Write `obj` (a state dict, or nested dicts/lists of Tensors, arrays
    and plain values) to the ``.npz`` file `path`, atomically.

    `metadata`, if given, is any JSON-serialisable value stored beside the
    object (``load(path, with_metadata=True)`` returns it).
    """
    encoder = _Encoder()
    skeleton = encoder.encode(obj, [])
    header = {"format": "minidl", "version": FORMAT_VERSION, "tree": skeleton,
              "metadata": metadata}
    try:
        text = json.dumps(header)
    except TypeError as error:
        raise TypeError("minidl.save: metadata must be JSON-serialisable ({})"
                        .format(error)) from None
    arrays = dict(encoder.arrays)
    arrays[STRUCTURE_KEY] = np.array(text)
    atomic_write(path, lambda file: _write_archive(file, arrays))


# -- loading --------------------------------------------------------------------
def _decode(node, archive, path, device):
    if isinstance(node, list):
        return [_decode(item, archive, path, device) for item in node]
    if not isinstance(node, dict):
        return node
    if "__dict__" in node:
        return {key: _decode(value, archive, path, device)
                for key, value in node["__dict__"]}
    if "__tuple__" in node:
        return tuple(_decode(item, archive, path, device)
                     for item in node["__tuple__"])
    for kind in ("__tensor__", "__ndarray__", "__scalar__"):
        if kind in node:
            name = node[kind]
            if name not in archive:
                raise ValueError("minidl.load: {} is damaged: entry {!r} is "
                                 "missing".format(path, name))
            array = archive[name]
            if kind == "__scalar__":
                return array[()]
            if kind == "__ndarray__":
                return array
            return Tensor(backend.move_array(array, device))
    raise ValueError("minidl.load: {} is damaged: unknown node {!r}".format(
        path, node))


def _read_entries(path):
    """{entry name: NumPy array} of the archive at `path`, with clear errors."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError("minidl.load: no such file: {}".format(path))
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise ValueError("minidl.load: {} holds a single .npy array, "
                                 "not an .npz archive".format(path))
            others = [name for name in archive.zip.namelist()
                      if not name.endswith(".npy")]
            if others:  # a zip, but not of arrays: torch.save's format
                raise ValueError(_not_npz(path, f"a zip of {others[0]}, not "
                                          f"of .npy arrays"))
            return {name: archive[name] for name in archive.files}
    except zipfile.BadZipFile as error:
        raise ValueError("minidl.load: {} is truncated or damaged ({})".format(
            path, error)) from None
    except (OSError, EOFError) as error:
        raise ValueError("minidl.load: {} is not an .npz archive ({})".format(
            path, error)) from None
    except ValueError as error:
        if str(error).startswith("minidl.load"):
            raise
        if "pickle" in str(error):  # NumPy's advice would be allow_pickle=
            raise ValueError(_not_npz(path, "pickled data")) from None
        raise ValueError("minidl.load: cannot read {}: {}".format(
            path, error)) from None


def _not_npz(path, found):
    """The message for a file that is not minidl's .npz: PyTorch
    checkpoints (pickles, or zips of pickles) are converted, never loaded."""
    converted = os.path.splitext(path)[0] + ".npz"
    if converted == path:
        converted = os.path.splitext(path)[0] + "-converted.npz"
    return (f"minidl.load: {path} is not an .npz of arrays: it holds {found} "
            f"(a PyTorch checkpoint?). minidl never unpickles files: pass it to "
            f"--weights (python -m minidl.finetune --weights {path}), or "
            f"convert it once with python -m minidl.convert {path} {converted} "
            f"(needs torch)")


def load(path, map_location=None, with_metadata=False):
    """Read what :func:`save` wrote (or any ``.npz`` of plain arrays).

    Tensors come back as Tensors on `map_location` (default: the CPU),
    NumPy arrays and scalars as themselves, plain values as they were. An
    ``.npz`` without minidl's structure entry gives a dict of Tensors.
    With ``with_metadata=True`` returns ``(obj, metadata)``.
    """
    device = backend.Device(map_location if map_location is not None else "cpu")
    archive = _read_entries(path)
    if STRUCTURE_KEY not in archive:
        obj = {name: Tensor(backend.move_array(array, device))
               for name, array in archive.items()}
        return (obj, None) if with_metadata else obj
    try:
        header = json.loads(str(archive[STRUCTURE_KEY][()]))
    except ValueError as error:
        raise ValueError("minidl.load: {} is damaged: its {} entry is not "
                         "valid JSON ({})".format(path, STRUCTURE_KEY, error)) \
            from None
    if header.get("version", 0) > FORMAT_VERSION:
        raise ValueError("minidl.load: {} was written by a newer minidl (format "
                         "version {}, this one reads {})".format(
                             path, header.get("version"), FORMAT_VERSION))
    obj = _decode(header["tree"], archive, path, device)
    if with_metadata:
        return obj, header.get("metadata")
    return obj


def load_metadata(path):
    """Only the metadata of a file written by :func:`save` (None if none)."""
    return load(path, with_metadata=True)[1]


# -- plain data: what state dicts of optimizers and schedulers hold -------------
def to_plain(value):
    """A copy of `value` with every tuple made a list, so a state dict holds
    only numbers, strings, None, lists and dicts (what JSON can hold)."""
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    return copy.deepcopy(value)


def from_plain(value):
    """Undo what a round trip through an .npz file may do to plain data:
    NumPy scalars and 0-d arrays become Python numbers (or strings), 1-d
    arrays become lists."""
    if isinstance(value, np.ndarray):
        return value.item() if value.ndim == 0 else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [from_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: from_plain(item) for key, item in value.items()}
    return value


def plain_attributes(obj, skip=()):
    """The attributes of `obj` (but those named in `skip`) as plain data:
    the state dict of a learning-rate scheduler."""
    return {key: to_plain(value) for key, value in vars(obj).items()
            if key not in skip}


def load_plain_attributes(obj, state, skip=()):
    """Set the attributes saved by :func:`plain_attributes`. Keys `obj` has
    no attribute for (an older minidl saved a few more) are skipped."""
    for key, value in state.items():
        if key in vars(obj) and key not in skip:
            setattr(obj, key, from_plain(value))
