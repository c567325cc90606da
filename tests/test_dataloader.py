"""DataLoader: coverage, reproducibility, epochs, worker threads, errors."""
import gc
import threading
import time

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minidl
from minidl.data import (DataLoader, Dataset, ImageArrayDataset, TensorDataset,
                         default_collate)
from minidl.data import transforms as T


def _ids_dataset(count):
    """Samples are (id, id * 2): batches show exactly which samples came."""
    return TensorDataset(np.arange(count), np.arange(count) * 2)


def _worker_threads():
    return [t for t in threading.enumerate() if t.name.startswith("minidl-data")]


def _epoch_ids(loader):
    return [batch[0].numpy().tolist() for batch in loader]


@pytest.mark.parametrize("num_workers", [0, 2])
@given(count=st.integers(1, 40), batch_size=st.integers(1, 12),
       shuffle=st.booleans(), drop_last=st.booleans())
def test_every_sample_once_per_epoch(num_workers, count, batch_size, shuffle,
                                     drop_last):
    loader = DataLoader(_ids_dataset(count), batch_size=batch_size,
                        shuffle=shuffle, drop_last=drop_last,
                        num_workers=num_workers, seed=3)
    batches = _epoch_ids(loader)
    assert len(batches) == len(loader)
    full, rest = divmod(count, batch_size)
    assert len(loader) == full + (0 if drop_last or rest == 0 else 1)
    assert all(len(b) == batch_size for b in batches[:full])
    seen = [i for batch in batches for i in batch]
    assert len(seen) == len(set(seen))
    if drop_last:
        assert len(seen) == full * batch_size
    else:
        assert sorted(seen) == list(range(count))
    if not shuffle:
        assert seen == list(range(len(seen)))


def test_batches_are_tensors_with_int64_targets():
    images = np.random.default_rng(0).integers(0, 256, (10, 4, 4, 3), np.uint8)
    dataset = ImageArrayDataset(images, np.arange(10) % 2)
    loader = DataLoader(dataset, batch_size=4, transform=T.ToTensor(), seed=0)
    x, y = next(iter(loader))
    assert isinstance(x, minidl.Tensor) and isinstance(y, minidl.Tensor)
    assert x.shape == (4, 3, 4, 4) and x.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_allclose(x.numpy(), images[:4].transpose(0, 3, 1, 2) / 255,
                               rtol=1e-6)
    assert str(x.device) == str(minidl.backend.default_device())


def test_shuffle_reproducible_with_seed_and_different_across_epochs():
    dataset = _ids_dataset(50)
    a = DataLoader(dataset, batch_size=7, shuffle=True, seed=11)
    b = DataLoader(dataset, batch_size=7, shuffle=True, seed=11, num_workers=2)
    epochs_a = [_epoch_ids(a) for _ in range(3)]
    epochs_b = [_epoch_ids(b) for _ in range(3)]
    assert epochs_a == epochs_b
    assert epochs_a[0] != epochs_a[1] != epochs_a[2]
    c = DataLoader(dataset, batch_size=7, shuffle=True, seed=12)
    assert _epoch_ids(c) != epochs_a[0]


def test_seed_none_follows_minidl_manual_seed():
    dataset = _ids_dataset(30)
    minidl.manual_seed(4)
    first = _epoch_ids(DataLoader(dataset, batch_size=30, shuffle=True))
    minidl.manual_seed(4)
    second = _epoch_ids(DataLoader(dataset, batch_size=30, shuffle=True))
    assert first == second


def test_set_epoch_and_state_dict_resume_the_same_order():
    dataset = _ids_dataset(40)
    run = DataLoader(dataset, batch_size=8, shuffle=True, seed=5)
    epochs = [_epoch_ids(run) for _ in range(3)]
    assert run.state_dict() == {"seed": 5, "epoch": 3}
    resumed = DataLoader(dataset, batch_size=8, shuffle=True, seed=99)
    resumed.load_state_dict({"seed": 5, "epoch": 2})
    assert _epoch_ids(resumed) == epochs[2]
    resumed.set_epoch(1)
    assert _epoch_ids(resumed) == epochs[1]


class _NoiseTransform(T.Transform):
    """Random per batch, and slow in a random way, to test that results do
    not depend on which worker finishes first."""

    def apply(self, images, rng):
        time.sleep(float(np.random.default_rng().random()) * 0.005)
        return images.astype(np.float32) + rng.random(images.shape,
                                                     dtype=np.float32)


def test_random_transforms_do_not_depend_on_workers():
    images = np.zeros((24, 2, 2, 1), dtype=np.uint8)
    dataset = ImageArrayDataset(images, np.zeros(24, dtype=np.int64))

    def run(num_workers):
        loader = DataLoader(dataset, batch_size=5, shuffle=True, seed=7,
                            num_workers=num_workers, transform=_NoiseTransform())
        return [[x.numpy() for x, _ in loader] for _ in range(2)]

    serial, threaded = run(0), run(3)
    for epoch_a, epoch_b in zip(serial, threaded):
        for a, b in zip(epoch_a, epoch_b):
            np.testing.assert_array_equal(a, b)
    # Different noise per batch and per epoch.
    assert not np.array_equal(serial[0][0], serial[0][1])
    assert not np.array_equal(serial[0][0], serial[1][0])


def test_dataset_transform_gets_the_batch_generator():
    images = np.zeros((8, 2, 2, 1), dtype=np.uint8)
    dataset = ImageArrayDataset(images, np.zeros(8, dtype=np.int64),
                                transform=_NoiseTransform())
    a = [x.numpy() for x, _ in DataLoader(dataset, batch_size=4, seed=1)]
    b = [x.numpy() for x, _ in DataLoader(dataset, batch_size=4, seed=1,
                                          num_workers=2)]
    np.testing.assert_array_equal(np.stack(a), np.stack(b))


def test_workers_stop_after_early_break():
    loader = DataLoader(_ids_dataset(200), batch_size=2, num_workers=2, seed=0)
    for index, _ in enumerate(loader):
        assert _worker_threads()  # the pool is running meanwhile
        if index == 3:
            break
    assert _worker_threads() == []


def test_workers_stop_when_iterator_is_dropped_or_finished():
    loader = DataLoader(_ids_dataset(100), batch_size=2, num_workers=2, seed=0)
    iterator = iter(loader)
    next(iterator)
    assert _worker_threads()
    del iterator
    gc.collect()
    assert _worker_threads() == []
    _epoch_ids(loader)
    assert _worker_threads() == []


def test_workers_stop_when_the_loop_body_raises():
    loader = DataLoader(_ids_dataset(100), batch_size=2, num_workers=2, seed=0)

    def train():
        for _ in loader:
            raise ValueError("model failed")

    with pytest.raises(ValueError, match="model failed"):
        train()
    gc.collect()
    assert _worker_threads() == []


class _FailingDataset(Dataset):
    def __len__(self):
        return 20

    def __getitem__(self, index):
        if index == 13:
            raise ValueError("cannot read sample 13")
        return np.float32(index), index


@pytest.mark.parametrize("num_workers", [0, 2])
def test_worker_exception_is_reraised_with_its_traceback(num_workers):
    loader = DataLoader(_FailingDataset(), batch_size=4, num_workers=num_workers,
                        seed=0)
    with pytest.raises(ValueError, match="cannot read sample 13") as info:
        _epoch_ids(loader)
    if num_workers:
        message = str(info.value)
        assert "batch 3" in message
        assert "Traceback" in message and "__getitem__" in message
    assert _worker_threads() == []


def test_per_sample_path_and_collate():
    loader = DataLoader(_FailingDataset(), batch_size=5, seed=0)
    values, labels = next(iter(loader))
    assert values.dtype == np.float32 and values.tolist() == [0, 1, 2, 3, 4]
    assert labels.dtype == np.int64

    def collate(samples):
        return np.array([s[0] for s in samples]) * 100

    custom = DataLoader(_ids_dataset(6), batch_size=3, collate_fn=collate, seed=0)
    assert [b.tolist() for b in custom] == [[0, 100, 200], [300, 400, 500]]


def test_default_collate_types():
    batch = default_collate([(1, 2.5, np.ones(2, np.float64)),
                             (3, 0.5, np.zeros(2, np.float64))])
    assert batch[0].dtype == np.int64 and batch[1].dtype == np.float32
    assert batch[2].dtype == np.float64 and batch[2].shape == (2, 2)
    with pytest.raises(TypeError, match="default_collate.*str"):
        default_collate(["a", "b"])


def test_bad_arguments():
    dataset = _ids_dataset(4)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        DataLoader(dataset, batch_size=0)
    with pytest.raises(ValueError, match="num_workers must be an integer >= 0"):
        DataLoader(dataset, num_workers=-1)
    with pytest.raises(ValueError, match="seed must be a non-negative"):
        DataLoader(dataset, seed=-3)
    with pytest.raises(ValueError, match="set_epoch.*-1"):
        DataLoader(dataset).set_epoch(-1)


def test_loader_transform_may_be_a_plain_function():
    loader = DataLoader(_ids_dataset(4), batch_size=2, seed=0,
                        transform=lambda ids: ids * 10)
    assert [b[0].tolist() for b in loader] == [[0, 10], [20, 30]]
