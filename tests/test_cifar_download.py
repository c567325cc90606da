"""CIFAR-10: the download against a local HTTP server (good archive, wrong
MD5, truncated, server down), --data cifar10 --download, and the restricted
unpickler that refuses crafted batch files."""
import hashlib
import http.server
import io
import os
import pickle
import socket
import tarfile
import threading

import numpy as np
import pytest

from minidl import finetune
from minidl.data import CIFAR10, cifar
from minidl.training import defaults
from minidl.training.options import UsageError


def _batch_bytes(count, seed):
    """A batch file in the official layout (bytes keys, as Python 2 wrote
    them); protocol 2, as the official files."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, count)]
    return pickle.dumps({b"batch_label": b"batch", b"labels": labels,
                         b"data": data, b"filenames": [b"x.png"] * count},
                        protocol=2), data, labels


def _archive_bytes():
    """A small cifar-10-python.tar.gz: 2 images per training batch, 3 test."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        members = [(name, _batch_bytes(2, i)[0])
                   for i, name in enumerate(cifar.TRAIN_FILES)]
        members.append(("test_batch", _batch_bytes(3, 9)[0]))
        members.append(("batches.meta", pickle.dumps(
            {b"label_names": [n.encode() for n in cifar.CLASSES]}, protocol=2)))
        for name, payload in members:
            info = tarfile.TarInfo(f"{cifar.FOLDER}/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


ARCHIVE = _archive_bytes()
ARCHIVE_MD5 = hashlib.md5(ARCHIVE).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    body = ARCHIVE
    claimed_length = None  # a Content-Length larger than the body: cut off

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length",
                         str(self.claimed_length or len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """serve(body, claimed_length=None) -> the URL of the archive on a
    local server (127.0.0.1, an ephemeral port)."""
    servers = []

    def start(body=ARCHIVE, claimed_length=None):
        handler = type("Handler", (_Handler,), {
            "body": body, "claimed_length": claimed_length})
        server = http.server.HTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/{cifar.ARCHIVE_NAME}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _leftovers(root):
    return sorted(name for name in os.listdir(root)
                  if name.startswith(".") or name.endswith(".part"))


def test_download_from_a_local_server_checks_md5_and_extracts(tmp_path, serve):
    url = serve()
    folder = cifar.download_cifar10(tmp_path, url=url, md5=ARCHIVE_MD5)
    assert folder == os.path.join(tmp_path, cifar.FOLDER)
    assert cifar.file_md5(tmp_path / cifar.ARCHIVE_NAME) == ARCHIVE_MD5
    assert _leftovers(tmp_path) == []
    train = CIFAR10(tmp_path, train=True)
    assert train.images.shape == (10, 32, 32, 3)
    _, data, labels = _batch_bytes(2, 0)
    np.testing.assert_array_equal(train.images[:2],
                                  data.reshape(2, 3, 32, 32).transpose(0, 2, 3, 1))
    assert train.targets[:2].tolist() == labels
    assert len(CIFAR10(tmp_path, train=False)) == 3


def test_cifar10_download_true_uses_the_module_url(tmp_path, serve, monkeypatch):
    monkeypatch.setattr(cifar, "URL", serve())
    monkeypatch.setattr(cifar, "ARCHIVE_MD5", ARCHIVE_MD5)
    dataset = CIFAR10(tmp_path / "root", download=True)
    assert len(dataset) == 10 and dataset.classes == cifar.CLASSES


def test_wrong_md5_is_refused_and_deleted(tmp_path, serve):
    url = serve(body=b"not the archive")
    with pytest.raises(RuntimeError, match=f"has MD5 .* expected {ARCHIVE_MD5}"):
        cifar.download_cifar10(tmp_path, url=url, md5=ARCHIVE_MD5)
    assert os.listdir(tmp_path) == []


def test_truncated_downloads_are_refused(tmp_path, serve):
    # The server sends half the archive and closes: MD5 mismatch.
    url = serve(body=ARCHIVE[:len(ARCHIVE) // 2])
    with pytest.raises(RuntimeError, match="truncated or not the official"):
        cifar.download_cifar10(tmp_path, url=url, md5=ARCHIVE_MD5)
    assert os.listdir(tmp_path) == []
    # It promises the whole length and sends half: a cut-off response.
    url = serve(body=ARCHIVE[:len(ARCHIVE) // 2], claimed_length=len(ARCHIVE))
    with pytest.raises(RuntimeError, match="could not download .*closed after"):
        cifar.download_cifar10(tmp_path, url=url, md5=ARCHIVE_MD5)
    assert os.listdir(tmp_path) == []


def _dead_url():
    """A URL on a local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/{cifar.ARCHIVE_NAME}"


def test_server_down_says_what_to_download_and_where(tmp_path):
    url = _dead_url()
    with pytest.raises(RuntimeError) as info:
        cifar.download_cifar10(tmp_path, url=url, md5=ARCHIVE_MD5)
    message = str(info.value)
    assert f"could not download {url}" in message
    assert cifar.URL in message and cifar.ARCHIVE_MD5 in message
    assert str(tmp_path / cifar.ARCHIVE_NAME) in message
    assert os.listdir(tmp_path) == []


def test_the_official_md5_is_torchvisions():
    # torchvision/datasets/cifar.py: CIFAR10.tgz_md5
    assert cifar.URL == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    assert cifar.ARCHIVE_MD5 == "c58f30108f718f92721af3b95e74349a"


def test_data_cifar10_means_the_cache(tmp_path, serve, monkeypatch):
    monkeypatch.setenv("MINIDL_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="not in the cache .*add "
                                                "--download"):
        defaults.resolve_data("cifar10", download=False)
    monkeypatch.setattr(cifar, "URL", serve())
    monkeypatch.setattr(cifar, "ARCHIVE_MD5", ARCHIVE_MD5)
    root = defaults.resolve_data("cifar10", download=True)
    assert root == str(tmp_path / "cache" / "cifar10")
    assert os.path.isfile(os.path.join(root, cifar.FOLDER, "data_batch_5"))
    assert defaults.resolve_data("cifar10", download=False) == root
    # --download with a folder of one's own: fetched there, as torchvision.
    mine = str(tmp_path / "mine")
    assert defaults.resolve_data(mine, download=True) == mine
    assert len(CIFAR10(mine, train=False)) == 3


def test_finetune_data_cifar10_download(tmp_path, serve, monkeypatch, capsys):
    monkeypatch.setenv("MINIDL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cifar, "URL", serve())
    monkeypatch.setattr(cifar, "ARCHIVE_MD5", ARCHIVE_MD5)
    code = finetune.main(["--data", "cifar10", "--download", "--arch", "resnet20",
                          "--epochs", "1", "--batch-size", "4", "--val-split",
                          "0.2", "--num-workers", "0",
                          "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    assert "downloading CIFAR-10" in capsys.readouterr().out
    assert (tmp_path / "out" / "model.npz").is_file()


def test_finetune_offline_download_error_is_one_line(tmp_path, monkeypatch,
                                                     capsys):
    monkeypatch.setenv("MINIDL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cifar, "URL", _dead_url())
    assert finetune.main(["--data", "cifar10", "--download", "--arch",
                          "resnet20", "--out", str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: CIFAR10: could not download")
    assert len(error.strip().splitlines()) == 1  # no traceback
    where = tmp_path / "cache" / "cifar10" / cifar.ARCHIVE_NAME
    assert f"put it at {where}" in error


# -- the restricted unpickler --------------------------------------------------
class _RunsCode:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_batch_file_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    payload = _RunsCode()
    payload.marker = marker
    folder = tmp_path / cifar.FOLDER
    folder.mkdir()
    path = folder / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": payload, b"labels": []}, protocol=2))
    with pytest.raises(ValueError) as info:
        cifar.read_batch(str(path))
    message = str(info.value)
    assert str(path) in message
    assert "refers to posix.system" in message or "refers to os.system" in message
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_the_unpickler_reads_every_protocol_numpy_writes(tmp_path, protocol):
    data = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps({b"data": data, b"labels": [3, 4],
                                   b"batch_label": b"x"}, protocol=protocol))
    images, labels = cifar.read_batch(str(path))
    assert labels.tolist() == [3, 4]
    np.testing.assert_array_equal(images.transpose(0, 3, 1, 2).reshape(2, 3072),
                                  data)


def test_python2_style_numpy_names_are_admitted():
    # The official files name numpy.core.multiarray._reconstruct (NumPy 1).
    unpickler = cifar.BatchUnpickler(io.BytesIO(b""))
    rebuild = unpickler.find_class("numpy.core.multiarray", "_reconstruct")
    assert rebuild.__name__ == "_reconstruct"
    for module, name in [("builtins", "eval"), ("numpy", "load"),
                         ("numpy.core.multiarray", "scalar"), ("_codecs", "decode")]:
        with pytest.raises(pickle.UnpicklingError, match=f"{module}.{name}"):
            unpickler.find_class(module, name)
    with pytest.raises(pickle.UnpicklingError, match="_codecs.encode"):
        cifar._latin1_encode("x", "rot13")
