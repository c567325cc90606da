"""CIFAR10 and ImageFolder on small files written by the tests."""
import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from minidl.data import CIFAR10, ImageFolder, cifar, folder

pytestmark = pytest.mark.cpu_only  # reading files: host-side by nature


# -- CIFAR-10 -----------------------------------------------------------------

def _cifar_batch(path, count, seed):
    """Write one batch file in the official format; return (images HWC,
    labels)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, count).tolist()
    # The official files: rows of 3072 bytes, the R plane, G plane, B plane;
    # bytes keys, as pickled by Python 2.
    data = images.transpose(0, 3, 1, 2).reshape(count, 3072)
    with open(path, "wb") as handle:
        pickle.dump({b"batch_label": b"test", b"labels": labels, b"data": data,
                     b"filenames": [b"x.png"] * count}, handle, protocol=2)
    return images, np.array(labels)


def _cifar_folder(root):
    folder_path = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder_path)
    train = [_cifar_batch(os.path.join(folder_path, "data_batch_{}".format(i)),
                          3, seed=i) for i in range(1, 6)]
    test = _cifar_batch(os.path.join(folder_path, "test_batch"), 4, seed=9)
    names = [n.encode() for n in cifar.CLASSES]
    with open(os.path.join(folder_path, "batches.meta"), "wb") as handle:
        pickle.dump({b"label_names": names, b"num_cases_per_batch": 3}, handle,
                    protocol=2)
    return train, test


def test_cifar10_reads_official_format(tmp_path):
    train, test = _cifar_folder(str(tmp_path))
    dataset = CIFAR10(tmp_path, train=True)
    assert len(dataset) == 15 and dataset.images.shape == (15, 32, 32, 3)
    assert dataset.images.dtype == np.uint8 and dataset.targets.dtype == np.int64
    np.testing.assert_array_equal(dataset.images,
                                  np.concatenate([t[0] for t in train]))
    np.testing.assert_array_equal(dataset.targets,
                                  np.concatenate([t[1] for t in train]))
    # Pixel (row 1, col 2) of image 0: the green value sits at 1024 + 32 + 2.
    raw = pickle.load(open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "rb"),
                      encoding="bytes")[b"data"]
    assert dataset.images[0, 1, 2, 1] == raw[0, 1024 + 32 + 2]
    assert dataset.classes[0] == "airplane" and dataset.class_to_idx["truck"] == 9
    test_set = CIFAR10(tmp_path / "cifar-10-batches-py", train=False)
    np.testing.assert_array_equal(test_set.images, test[0])


def test_cifar10_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        CIFAR10(tmp_path / "nowhere")
    message = str(info.value)
    assert cifar.URL in message and cifar.ARCHIVE_MD5 in message
    assert os.path.join(str(tmp_path / "nowhere"), "cifar-10-python.tar.gz") in message
    assert os.path.join("cifar-10-batches-py", "data_batch_1") in message
    _cifar_folder(str(tmp_path))
    os.remove(tmp_path / "cifar-10-batches-py" / "data_batch_4")
    with pytest.raises(FileNotFoundError, match="lacks data_batch_4"):
        CIFAR10(tmp_path)


def test_cifar10_bad_file_names_its_content(tmp_path):
    _cifar_folder(str(tmp_path))
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as handle:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]},
                    handle)
    with pytest.raises(ValueError, match=r"test_batch data has shape \(2, 100\)"):
        CIFAR10(tmp_path, train=False)


def _tiny_archive(path, source_root):
    with tarfile.open(path, "w:gz") as tar:
        tar.add(os.path.join(source_root, "cifar-10-batches-py"),
                arcname="cifar-10-batches-py")
    return hashlib.md5(open(path, "rb").read()).hexdigest()


def test_cifar10_download_fetches_verifies_and_extracts(tmp_path, monkeypatch):
    source = tmp_path / "source"
    train, _ = _cifar_folder(str(source))
    archive = str(tmp_path / "served.tar.gz")
    monkeypatch.setattr(cifar, "ARCHIVE_MD5", _tiny_archive(archive, str(source)))
    fetched = []

    def fake_fetch(url, path):
        fetched.append(url)
        with open(archive, "rb") as src, open(path, "wb") as dst:
            dst.write(src.read())

    monkeypatch.setattr(cifar, "_fetch", fake_fetch)
    root = tmp_path / "data"
    dataset = CIFAR10(root, download=True)
    assert fetched == [cifar.URL]
    assert (root / "cifar-10-python.tar.gz").is_file()
    np.testing.assert_array_equal(dataset.images[:3], train[0][0])
    # Present now: no second download.
    CIFAR10(root, download=True)
    assert fetched == [cifar.URL]


def test_cifar10_download_rejects_wrong_md5(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar, "_fetch", lambda url, path: open(path, "wb").write(
        b"not the archive"))
    with pytest.raises(RuntimeError,
                       match="MD5 .* expected c58f30108f718f92721af3b95e74349a"):
        CIFAR10(tmp_path, download=True)
    assert os.listdir(tmp_path) == []


def test_cifar10_download_offline_says_where_to_put_the_file(tmp_path, monkeypatch):
    def offline(url, path):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(cifar, "_fetch", offline)
    with pytest.raises(RuntimeError) as info:
        CIFAR10(tmp_path, download=True)
    message = str(info.value)
    assert "Network is unreachable" in message and cifar.URL in message
    assert os.path.join(str(tmp_path), "cifar-10-python.tar.gz") in message


# -- ImageFolder ----------------------------------------------------------------

def _write_image(path, array):
    from PIL import Image
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path)


def _image_tree(root, size=(6, 5)):
    """Two classes; PNG files (exact pixels) and one JPEG (lossy)."""
    rng = np.random.default_rng(0)
    pixels = {}
    for name in ["dog/b.png", "dog/a.png", "cat/1.png", "cat/2.jpg"]:
        array = rng.integers(0, 256, size + (3,), dtype=np.uint8)
        _write_image(os.path.join(root, name), array)
        pixels[name] = array
    _write_image(os.path.join(root, "cat/grey.PNG"),
                 np.full(size, 77, dtype=np.uint8))                # mode "L"
    with open(os.path.join(root, "cat", "notes.txt"), "w") as handle:
        handle.write("not an image")
    return pixels


def test_image_folder_classes_order_and_pixels(tmp_path):
    from PIL import Image
    pixels = _image_tree(str(tmp_path / "images"))
    dataset = ImageFolder(tmp_path / "images", cache_dir=tmp_path / "cache")
    assert dataset.classes == ["cat", "dog"]
    assert dataset.class_to_idx == {"cat": 0, "dog": 1}
    names = [os.path.relpath(p, dataset.root) for p, _ in dataset.samples]
    assert names == ["cat/1.png", "cat/2.jpg", "cat/grey.PNG", "dog/a.png",
                     "dog/b.png"]
    assert dataset.targets.tolist() == [0, 0, 0, 1, 1]
    assert dataset.images.shape == (5, 6, 5, 3) and dataset.images.dtype == np.uint8
    np.testing.assert_array_equal(dataset.images[0], pixels["cat/1.png"])
    np.testing.assert_array_equal(dataset.images[4], pixels["dog/b.png"])
    np.testing.assert_array_equal(dataset.images[2], np.full((6, 5, 3), 77))
    jpeg = np.asarray(Image.open(tmp_path / "images" / "cat" / "2.jpg").convert("RGB"))
    np.testing.assert_array_equal(dataset.images[1], jpeg)


def test_image_folder_cache_is_reused_then_invalidated(tmp_path, monkeypatch):
    root = tmp_path / "images"
    _image_tree(str(root))
    first = ImageFolder(root, cache_dir=tmp_path / "cache")
    assert not first.loaded_from_cache and os.path.isfile(first.cache_path)
    assert str(tmp_path / "cache") in first.cache_path

    def no_decoding(*args):
        raise AssertionError("decoded although the cache is valid")

    monkeypatch.setattr(folder, "_decode", no_decoding)
    second = ImageFolder(root, cache_dir=tmp_path / "cache")
    assert second.loaded_from_cache
    np.testing.assert_array_equal(second.images, first.images)
    monkeypatch.undo()

    # Change one file (new content, later mtime): decoded again.
    new = np.zeros((6, 5, 3), dtype=np.uint8)
    _write_image(str(root / "dog" / "a.png"), new)
    stat = os.stat(root / "dog" / "a.png")
    os.utime(root / "dog" / "a.png", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10 ** 9))
    third = ImageFolder(root, cache_dir=tmp_path / "cache")
    assert not third.loaded_from_cache
    np.testing.assert_array_equal(third.images[3], new)
    assert third.cache_path != first.cache_path
    cache_files = os.listdir(tmp_path / "cache" / "imagefolder")
    assert cache_files == [os.path.basename(third.cache_path)]  # old one removed


def test_image_folder_default_cache_dir_from_environment(tmp_path, monkeypatch):
    _image_tree(str(tmp_path / "images"))
    monkeypatch.setenv("MINIDL_CACHE", str(tmp_path / "env-cache"))
    dataset = ImageFolder(tmp_path / "images")
    assert dataset.cache_path.startswith(str(tmp_path / "env-cache"))
    unused = ImageFolder(tmp_path / "images", cache_dir=False)
    assert unused.cache_path is None and not unused.loaded_from_cache


def test_image_folder_mixed_sizes_and_resize(tmp_path):
    root = tmp_path / "images"
    _image_tree(str(root))
    _write_image(str(root / "dog" / "c.png"), np.zeros((8, 7, 3), np.uint8))
    with pytest.raises(ValueError, match=r"c\.png is 7x8 .* but .*1\.png is 5x6"):
        ImageFolder(root, cache_dir=False)
    resized = ImageFolder(root, cache_dir=tmp_path / "cache", size=(4, 3))
    assert resized.images.shape == (6, 4, 3, 3)


def test_image_folder_bad_roots(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match="ImageFolder: root .*missing is not a folder"):
        ImageFolder(tmp_path / "missing", cache_dir=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no class sub-folders in .*empty"):
        ImageFolder(tmp_path / "empty", cache_dir=False)
    _image_tree(str(tmp_path / "images"))
    (tmp_path / "images" / "zebra").mkdir()
    with pytest.raises(FileNotFoundError,
                       match=r"no .* files for the classes \['zebra'\]"):
        ImageFolder(tmp_path / "images", cache_dir=False)


def test_image_folder_feeds_the_dataloader(tmp_path):
    from minidl.data import DataLoader, transforms as T
    _image_tree(str(tmp_path / "images"))
    dataset = ImageFolder(tmp_path / "images", cache_dir=False,
                          transform=T.RandomHorizontalFlip())
    loader = DataLoader(dataset, batch_size=2, shuffle=True, seed=0,
                        num_workers=2, transform=T.ToTensor())
    labels = []
    for images, targets in loader:
        assert images.dtype == np.float32 and images.shape[1:] == (3, 6, 5)
        labels += targets.tolist()
    assert sorted(labels) == [0, 0, 0, 1, 1]


def test_missing_pillow_gives_install_hint(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError("No module named 'PIL'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install minidl\[vision\]"):
        folder._import_pillow()


def test_cifar_reader_accepts_str_keys(tmp_path):
    # Files re-pickled by Python 3 have str keys; they read the same.
    data = np.arange(3072, dtype=np.uint8)[None]
    buffer = io.BytesIO()
    pickle.dump({"data": data, "labels": [7]}, buffer)
    (tmp_path / "batch").write_bytes(buffer.getvalue())
    images, labels = cifar.read_batch(str(tmp_path / "batch"))
    assert labels.tolist() == [7] and images[0, 0, 1, 0] == 1


def test_image_folder_corrupt_file_is_named(tmp_path):
    _image_tree(str(tmp_path / "images"))
    (tmp_path / "images" / "dog" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match=r"cannot decode .*broken\.jpg"):
        ImageFolder(tmp_path / "images", cache_dir=False)
