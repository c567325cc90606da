"""Datasets: TensorDataset, ImageArrayDataset, Subset, ConcatDataset,
random_split."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minidl
from minidl.data import (ConcatDataset, Dataset, ImageArrayDataset, Subset,
                         TensorDataset, random_split)


def test_tensor_dataset_rows_and_batches():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.arange(6) * 10
    dataset = TensorDataset(x, y)
    assert len(dataset) == 6
    row, label = dataset[4]
    np.testing.assert_array_equal(row, [8, 9])
    assert label == 40
    assert dataset[-1][1] == 50
    batch_x, batch_y = dataset.get_batch([5, 0, 2])
    np.testing.assert_array_equal(batch_x, x[[5, 0, 2]])
    np.testing.assert_array_equal(batch_y, [50, 0, 20])


def test_tensor_dataset_takes_minidl_tensors():
    x = minidl.tensor(np.ones((3, 2), dtype=np.float32))
    dataset = TensorDataset(x, [0, 1, 2])
    assert dataset.get_batch([1, 2])[1].tolist() == [1, 2]


def test_tensor_dataset_errors():
    with pytest.raises(ValueError,
                       match=r"TensorDataset.*same first.*\(3, 2\).*\(4,\)"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    dataset = TensorDataset(np.zeros(3))
    with pytest.raises(IndexError,
                       match="TensorDataset: index 3 out of range.*length 3"):
        dataset[3]
    with pytest.raises(IndexError, match="TensorDataset.get_batch.*length 3"):
        dataset.get_batch([0, 7])


def _images(count, height=4, width=5):
    rng = np.random.default_rng(count)
    images = rng.integers(0, 256, (count, height, width, 3), dtype=np.uint8)
    return images, np.arange(count) % 3


def test_image_array_dataset_batch_and_item():
    images, targets = _images(7)
    dataset = ImageArrayDataset(images, targets, classes=["a", "b", "c"])
    assert dataset.class_to_idx == {"a": 0, "b": 1, "c": 2}
    batch, labels = dataset.get_batch(np.array([6, 1]))
    np.testing.assert_array_equal(batch, images[[6, 1]])
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1]
    image, label = dataset[2]
    np.testing.assert_array_equal(image, images[2])
    assert label == 2 and isinstance(label, int)


def test_image_array_dataset_applies_transform_with_the_given_rng():
    images, targets = _images(5)

    def add_noise(batch, rng=None):
        return batch.astype(np.float64) + rng.random(batch.shape)

    dataset = ImageArrayDataset(images, targets)
    dataset.transform = add_noise
    first, _ = dataset.get_batch([0, 1], rng=np.random.default_rng(3))
    again, _ = dataset.get_batch([0, 1], rng=np.random.default_rng(3))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, images[[0, 1]])


def test_image_array_dataset_rejects_wrong_layout():
    with pytest.raises(ValueError, match=r"uint8 array \(N, H, W, C\).*float32"):
        ImageArrayDataset(np.zeros((2, 4, 4, 3), np.float32), [0, 1])
    with pytest.raises(ValueError, match=r"targets.*shape \(2,\)"):
        ImageArrayDataset(np.zeros((2, 4, 4, 3), np.uint8), [0, 1, 2])


def test_subset_maps_indices_and_keeps_classes():
    images, targets = _images(10)
    parent = ImageArrayDataset(images, targets, classes=["a", "b", "c"])
    subset = Subset(parent, [9, 3, 4])
    assert len(subset) == 3
    np.testing.assert_array_equal(subset[0][0], images[9])
    batch, labels = subset.get_batch([2, 0])
    np.testing.assert_array_equal(batch, images[[4, 9]])
    np.testing.assert_array_equal(labels, targets[[4, 9]])
    assert subset.classes == ["a", "b", "c"]
    np.testing.assert_array_equal(subset.targets, targets[[9, 3, 4]])
    with pytest.raises(IndexError, match="Subset.*length 10"):
        Subset(parent, [10])


def test_concat_dataset_batch_keeps_request_order():
    first = TensorDataset(np.arange(3), np.arange(3) * 10)
    second = TensorDataset(np.arange(3, 7), np.arange(3, 7) * 10)
    both = first + second
    assert isinstance(both, ConcatDataset) and len(both) == 7
    assert both[4][0] == 4 and both[-1][0] == 6
    values, tens = both.get_batch([6, 0, 3, 2, 5])
    assert values.tolist() == [6, 0, 3, 2, 5]
    assert tens.tolist() == [60, 0, 30, 20, 50]


@given(st.integers(1, 60), st.lists(st.integers(0, 20), min_size=1, max_size=4),
       st.integers(0, 2 ** 32))
def test_random_split_counts_is_a_partition_and_reproducible(extra, parts, seed):
    total = sum(parts)
    parts = parts[:-1] + [parts[-1] + extra]
    total += extra
    dataset = TensorDataset(np.arange(total))
    splits = random_split(dataset, parts, seed=seed)
    assert [len(s) for s in splits] == parts
    taken = np.concatenate([s.indices for s in splits])
    assert sorted(taken.tolist()) == list(range(total))
    again = random_split(dataset, parts, seed=seed)
    for a, b in zip(splits, again):
        np.testing.assert_array_equal(a.indices, b.indices)


def test_random_split_fractions_follow_torch_rounding():
    dataset = TensorDataset(np.arange(11))
    # floor(11 * 0.5) = 5 each, the one left over goes to the first split.
    assert [len(s) for s in random_split(dataset, [0.5, 0.5], seed=0)] == [6, 5]
    assert [len(s) for s in random_split(dataset, [0.9, 0.1], seed=0)] == [10, 1]


def test_random_split_seed_changes_split_and_none_uses_global_seed():
    dataset = TensorDataset(np.arange(50))
    a = random_split(dataset, [25, 25], seed=1)[0].indices
    b = random_split(dataset, [25, 25], seed=2)[0].indices
    assert not np.array_equal(a, b)
    minidl.manual_seed(5)
    c = random_split(dataset, [25, 25])[0].indices
    minidl.manual_seed(5)
    d = random_split(dataset, [25, 25])[0].indices
    np.testing.assert_array_equal(c, d)


def test_random_split_bad_lengths():
    dataset = TensorDataset(np.arange(10))
    with pytest.raises(ValueError, match=r"lengths \[3, 4\] sum to 7.*10 samples"):
        random_split(dataset, [3, 4], seed=0)
    with pytest.raises(ValueError, match="fractions.*sum to 1"):
        random_split(dataset, [0.5, 0.4], seed=0)
    with pytest.raises(ValueError, match="non-negative"):
        random_split(dataset, [12, -2], seed=0)
    with pytest.raises(ValueError, match="empty"):
        random_split(dataset, [], seed=0)


def test_base_dataset_names_missing_methods():
    class Empty(Dataset):
        pass
    with pytest.raises(NotImplementedError, match="Empty must define __len__"):
        len(Empty())
