"""Where ``--weights`` points: a converted ``.npz``, a PyTorch checkpoint, or
the name of a published checkpoint fetched into a user cache.

:func:`resolve_weights` turns any of the three into the path of a converted
``.npz`` (see :mod:`minidl.convert`):

* ``something.npz``: used as it is;
* ``something.th`` / ``.pt`` / ``.pth`` (a ``torch.save`` file): converted
  once into ``converted_dir`` (the fine-tuning command uses
  ``OUT/converted/``); the converted file records the SHA-256 of its source,
  so a changed source is converted again. Needs torch;
* a published name (``resnet20-cifar10``, ``resnet18-imagenet``, ...; see
  :data:`PUBLISHED`): the original file is downloaded once into
  ``CACHE/weights/`` (CACHE: ``$MINIDL_CACHE`` or ``~/.cache/minidl``),
  its SHA-256 checked, and converted beside it. When the converted file is
  already there, nothing is downloaded and torch is not needed. Offline,
  the error says which file to download and where to put it;
* ``resnet20-cifar10-embedded``: the same ResNet-20 weights as
  ``resnet20-cifar10``, already converted and shipped inside minidl
  (:func:`minidl.data.sample_weights_path`): no network, no torch.
"""
import hashlib
import os
import shutil
import urllib.request

from ..data.embedded import sample_weights_path
from ..data.folder import default_cache_dir
from ..serialization import load_metadata

TORCH_SUFFIXES = (".th", ".pt", ".pth")

_AKAMASTER = ("https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/"
              "pretrained_models/")

# name -> where to get the file and how to check it. "sha256" is the full
# digest where it is known; torchvision publishes only the first 8 hex
# digits (they are in the file name), so "resnet18-imagenet" checks those.
# An "embedded" entry ships inside minidl, already converted: "url" and
# "sha256" name the original it was converted from.
PUBLISHED = {
    "resnet20-cifar10-embedded": {
        "url": _AKAMASTER + "resnet20-12fca82f.th",
        "file": "resnet20-12fca82f.th", "architecture": "resnet20",
        "sha256": "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8",
        "embedded": True},
    "resnet20-cifar10": {
        "url": _AKAMASTER + "resnet20-12fca82f.th",
        "file": "resnet20-12fca82f.th", "architecture": "resnet20",
        "sha256": "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8"},
    "resnet32-cifar10": {
        "url": _AKAMASTER + "resnet32-d509ac18.th",
        "file": "resnet32-d509ac18.th", "architecture": "resnet32",
        "sha256": "d509ac1820d7f25398913559d7e81a13229b1e7adc5648e3bfa5e22dc137f850"},
    "resnet44-cifar10": {
        "url": _AKAMASTER + "resnet44-014dd654.th",
        "file": "resnet44-014dd654.th", "architecture": "resnet44",
        "sha256": "014dd6541728a1c700b1642ab640e211dc6eb8ed507d70697458dc8f8a0ae2e4"},
    "resnet56-cifar10": {
        "url": _AKAMASTER + "resnet56-4bfd9763.th",
        "file": "resnet56-4bfd9763.th", "architecture": "resnet56",
        "sha256": "4bfd97631478d6b638d2764fd2baff3edb1d7d82252d54439343b6596b9b5367"},
    "resnet18-imagenet": {
        "url": "https://download.pytorch.org/models/resnet18-f37072fd.pth",
        "file": "resnet18-f37072fd.pth", "architecture": "resnet18",
        "sha256": "f37072fd"},
}
# torchvision's ImageNet ViTs (IMAGENET1K_V1); like resnet18's, only the
# digest prefix in the file name is published.
_TORCHVISION = "https://download.pytorch.org/models/"
PUBLISHED.update({
    "vit_b_16-imagenet": {
        "url": _TORCHVISION + "vit_b_16-c867db91.pth",
        "file": "vit_b_16-c867db91.pth", "architecture": "vit_b_16",
        "sha256": "c867db91"},
    "vit_b_32-imagenet": {
        "url": _TORCHVISION + "vit_b_32-d86f8d99.pth",
        "file": "vit_b_32-d86f8d99.pth", "architecture": "vit_b_32",
        "sha256": "d86f8d99"},
    "vit_l_16-imagenet": {
        "url": _TORCHVISION + "vit_l_16-852ce7e3.pth",
        "file": "vit_l_16-852ce7e3.pth", "architecture": "vit_l_16",
        "sha256": "852ce7e3"},
})


class WeightsError(ValueError):
    """``--weights`` cannot be turned into a weights file; says why."""


def file_sha256(path, chunk_size=1 << 20):
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def digest_matches(found, expected):
    """True when the hex digest `found` equals `expected`, or starts with it
    when only a prefix is published."""
    return bool(found) and found.startswith(expected)


def weights_cache_dir(cache_dir=None):
    """CACHE/weights, where published checkpoints are kept."""
    return os.path.join(cache_dir or default_cache_dir(), "weights")


def _fetch(url, path):
    """Download `url` into `path` (tests replace this function)."""
    with urllib.request.urlopen(url, timeout=60) as response, \
            open(path, "wb") as handle:
        shutil.copyfileobj(response, handle)


def _download(name, entry, destination):
    """Fetch the published file into `destination` and check its digest."""
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    partial = destination + ".part"
    try:
        _fetch(entry["url"], partial)
    except OSError as error:  # URLError, timeouts, refused connections
        if os.path.exists(partial):
            os.remove(partial)
        raise WeightsError(
            "--weights {}: could not download {} ({}). Offline, download that "
            "file on another machine and put it at {} (SHA-256 {}{}); it is "
            "converted on first use".format(
                name, entry["url"], error, destination, entry["sha256"],
                "..." if len(entry["sha256"]) < 64 else "")) from error
    found = file_sha256(partial)
    if not digest_matches(found, entry["sha256"]):
        os.remove(partial)
        raise WeightsError("--weights {}: the download of {} has SHA-256 {}, "
                           "expected {}; it was deleted, try again".format(
                               name, entry["url"], found, entry["sha256"]))
    os.replace(partial, destination)


def _converted_is_current(npz_path, source_sha256):
    """True when `npz_path` exists and was converted from a file with
    digest `source_sha256` (full digest, or a published prefix)."""
    if not os.path.isfile(npz_path):
        return False
    try:
        metadata = load_metadata(npz_path) or {}
    except (OSError, ValueError):
        return False
    return digest_matches(metadata.get("source_sha256", ""), source_sha256)


def _convert(source, destination, architecture):
    """Convert the torch file `source` into `destination` (needs torch)."""
    from ..convert import ConversionError, from_torch
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    try:
        from_torch(source, destination, arch=architecture)
    except ConversionError as error:
        other = _other_architecture(source, architecture)
        if other:
            raise WeightsError("--arch {} but --weights {} holds a {} ({} for "
                               "a {}): use --arch {}, or leave --arch out"
                               .format(architecture, source, other[0],
                                       other[1], architecture, other[0])) \
                from None
        raise WeightsError("--weights: cannot convert {}: {}".format(
            source, error)) from None


def _other_architecture(source, architecture):
    """(the architecture the torch file `source` holds, its key mismatch
    against `architecture`) when that is another one; else None."""
    from ..convert import ConversionError, guess_architecture, \
        read_torch_checkpoint
    if architecture is None:
        return None
    try:
        state, _ = read_torch_checkpoint(source)
    except ConversionError:
        return None
    found = guess_architecture(state)
    if found is None or found == architecture:
        return None
    return found, key_mismatch(architecture, set(state))


SHOWN_KEYS = 3  # how many keys a mismatch message lists


def key_mismatch(architecture, keys):
    """'N missing keys (a, b, c, ...)' and/or 'M unexpected keys (...)' of
    the state-dict `keys` against `architecture`."""
    from .. import models
    expected = models.get_model(architecture).state_dict()
    missing = [k for k in expected if k not in keys and
               not k.endswith("num_batches_tracked")]
    unexpected = [k for k in keys if k not in expected]
    parts = []
    for label, names in (("missing", missing), ("unexpected", unexpected)):
        if names:
            more = ", ..." if len(names) > SHOWN_KEYS else ""
            parts.append("{} {} keys ({}{})".format(
                len(names), label, ", ".join(names[:SHOWN_KEYS]), more))
    return " and ".join(parts)


def resolve_published(name, cache_dir=None):
    """The converted ``.npz`` of the published checkpoint `name`, fetching
    and converting it on first use."""
    entry = PUBLISHED[name]
    if entry.get("embedded"):
        return sample_weights_path()
    folder = weights_cache_dir(cache_dir)
    original = os.path.join(folder, entry["file"])
    converted = os.path.join(folder, name + ".npz")
    if _converted_is_current(converted, entry["sha256"]):
        return converted  # the cache hit: no network, no torch
    if os.path.isfile(original):
        found = file_sha256(original)
        if not digest_matches(found, entry["sha256"]):
            raise WeightsError(
                "--weights {}: {} has SHA-256 {}, expected {}; delete it (or "
                "replace it with the file from {})".format(
                    name, original, found, entry["sha256"], entry["url"]))
    else:
        _download(name, entry, original)
    _convert(original, converted, entry["architecture"])
    return converted


def resolve_weights(spec, converted_dir, architecture=None, cache_dir=None):
    """Path of a converted ``.npz`` for ``--weights spec``.

    `converted_dir`: where a PyTorch checkpoint given by path is converted
    to. `architecture`: passed to the converter (None: guessed from keys).
    Raises WeightsError with what to do when `spec` is none of the forms.
    """
    spec = os.fspath(spec)
    if spec in PUBLISHED:
        return resolve_published(spec, cache_dir)
    lower = spec.lower()
    if lower.endswith(".npz") or lower.endswith(TORCH_SUFFIXES):
        if not os.path.isfile(spec):
            raise WeightsError("--weights: no such file: {}".format(spec))
        if lower.endswith(".npz"):
            return spec
        source_sha256 = file_sha256(spec)
        stem = os.path.splitext(os.path.basename(spec))[0]
        converted = os.path.join(converted_dir, stem + ".npz")
        if not _converted_is_current(converted, source_sha256):
            _convert(spec, converted, architecture)
        return converted
    raise WeightsError(
        "--weights {!r}: expected a converted .npz file, a PyTorch checkpoint "
        "(.th, .pt, .pth) or one of the published names: {}".format(
            spec, ", ".join(sorted(PUBLISHED))))
