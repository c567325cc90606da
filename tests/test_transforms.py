"""Batch transforms: each against values worked out by hand on tiny images,
plus torchvision as a reference for rotation and the colour adjustments."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from minidl.data import transforms as T

pytestmark = pytest.mark.cpu_only  # NumPy batch transforms: host-side by nature


def _grid(height=4, width=4):
    """One single-channel image whose pixel (r, c) holds 10 * r + c + 1."""
    values = 10 * np.arange(height)[:, None] + np.arange(width)[None, :] + 1
    return values.astype(np.uint8)[None, :, :, None]       # (1, H, W, 1)


def _plane(batch):
    return batch[..., 0]


# -- pad and crop -------------------------------------------------------------

def test_pad_modes_by_hand():
    image = _grid(2, 3)                  # [[1, 2, 3], [11, 12, 13]]
    constant = T.pad(image, 1, "constant", fill=9)
    assert _plane(constant)[0].tolist() == [[9, 9, 9, 9, 9],
                                            [9, 1, 2, 3, 9],
                                            [9, 11, 12, 13, 9],
                                            [9, 9, 9, 9, 9]]
    reflect = T.pad(image, (1, 0), "reflect")   # left/right 1, top/bottom 0
    assert _plane(reflect)[0].tolist() == [[2, 1, 2, 3, 2],
                                           [12, 11, 12, 13, 12]]
    edge = T.pad(image, (2, 1, 0, 0), "edge")   # left 2, top 1
    assert _plane(edge)[0].tolist() == [[1, 1, 1, 2, 3],
                                        [1, 1, 1, 2, 3],
                                        [11, 11, 11, 12, 13]]
    symmetric = T.pad(image, (0, 0, 2, 0), "symmetric")  # right 2
    assert _plane(symmetric)[0].tolist() == [[1, 2, 3, 3, 2],
                                             [11, 12, 13, 13, 12]]


def test_pad_fill_per_channel():
    image = np.zeros((1, 1, 1, 3), dtype=np.uint8)
    padded = T.pad(image, 1, fill=(10, 20, 30))
    assert padded[0, 0, 0].tolist() == [10, 20, 30]
    assert padded[0, 1, 1].tolist() == [0, 0, 0]


def test_crop_per_image_offsets_by_hand():
    batch = np.concatenate([_grid(), _grid() + 100])   # two 4x4 images
    out = T.crop(batch, top=np.array([0, 2]), left=np.array([1, 0]),
                 height=2, width=3)
    assert _plane(out)[0].tolist() == [[2, 3, 4], [12, 13, 14]]
    assert _plane(out)[1].tolist() == [[121, 122, 123], [131, 132, 133]]


def test_random_crop_with_reflect_padding_by_hand():
    # Padded by 1 with reflect, a 4x4 crop of a 6x6 image: offsets 0..2.
    image = _grid()
    padded = _plane(T.pad(image, 1, "reflect"))[0]
    assert padded[0].tolist() == [12, 11, 12, 13, 14, 13]
    crop = T.RandomCrop(4, padding=1, padding_mode="reflect")
    rng = np.random.default_rng(0)
    expected_rng = np.random.default_rng(0)
    top = expected_rng.integers(0, 3, size=1)[0]
    left = expected_rng.integers(0, 3, size=1)[0]
    out = _plane(crop(image, rng=rng))[0]
    np.testing.assert_array_equal(out, padded[top:top + 4, left:left + 4])


def test_random_crop_draws_every_offset_per_image():
    batch = np.repeat(_grid(), 400, axis=0)
    out = T.RandomCrop(2, seed=0)(batch)
    # The top-left value 10 * top + left + 1 identifies the offset (0..2).
    corners = out[:, 0, 0, 0].astype(int) - 1
    offsets = set(zip((corners // 10).tolist(), (corners % 10).tolist()))
    assert offsets == {(t, left) for t in range(3) for left in range(3)}
    expected = T.crop(batch, corners // 10, corners % 10, 2, 2)
    np.testing.assert_array_equal(out, expected)


def test_random_crop_pad_if_needed_and_errors():
    out = T.RandomCrop((5, 4), pad_if_needed=True, seed=0)(_grid(3, 4))
    assert out.shape == (1, 5, 4, 1)
    with pytest.raises(ValueError, match=r"RandomCrop: crop size \(5, 5\).*\(4, 4\)"):
        T.RandomCrop(5)(_grid(), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"RandomCrop: expected a uint8.*float32"):
        T.RandomCrop(2)(np.zeros((1, 4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="padding_mode.*'wrap'"):
        T.RandomCrop(2, padding=1, padding_mode="wrap")


# -- flips --------------------------------------------------------------------

def test_hflip_by_hand():
    out = T.hflip(_grid(2, 3))
    assert _plane(out)[0].tolist() == [[3, 2, 1], [13, 12, 11]]


def test_random_horizontal_flip_probability_and_per_image_choice():
    batch = np.repeat(_grid(2, 3), 500, axis=0)
    assert np.array_equal(T.RandomHorizontalFlip(p=0)(batch, np.random.default_rng(0)),
                          batch)
    assert np.array_equal(T.RandomHorizontalFlip(p=1)(batch, np.random.default_rng(0)),
                          T.hflip(batch))
    out = T.RandomHorizontalFlip()(batch, np.random.default_rng(1))
    flipped = out[:, 0, 0, 0] == 3
    assert np.all(flipped | (out[:, 0, 0, 0] == 1))
    assert 200 < flipped.sum() < 300
    np.testing.assert_array_equal(out[flipped], T.hflip(batch[flipped]))


# -- rotation -----------------------------------------------------------------

def test_rotate_by_90_degrees_by_hand():
    image = _grid(3, 3)   # [[1, 2, 3], [11, 12, 13], [21, 22, 23]]
    for interpolation in ("nearest", "bilinear"):
        left = T.rotate(image, 90, interpolation)        # counter-clockwise
        assert _plane(left)[0].tolist() == [[3, 13, 23],
                                            [2, 12, 22],
                                            [1, 11, 21]]
        right = T.rotate(image, -90, interpolation)
        assert _plane(right)[0].tolist() == [[21, 11, 1],
                                             [22, 12, 2],
                                             [23, 13, 3]]
        half = T.rotate(image, 180, interpolation)
        assert _plane(half)[0].tolist() == [[23, 22, 21],
                                            [13, 12, 11],
                                            [3, 2, 1]]


def test_rotate_fills_uncovered_corners():
    image = np.full((1, 4, 4, 1), 200, dtype=np.uint8)
    out = _plane(T.rotate(image, 45, "nearest", fill=7))[0]
    assert out[0, 0] == 7 and out[1, 1] == 200 and out[2, 2] == 200


def test_random_rotation_angle_per_image():
    batch = np.repeat(_grid(3, 3), 2, axis=0)
    rotation = T.RandomRotation((90, 180), seed=0)
    expected_angles = np.random.default_rng(0).uniform(90, 180, size=2)
    out = rotation(batch)
    for i, angle in enumerate(expected_angles):
        np.testing.assert_array_equal(out[i], T.rotate(batch[i:i + 1], angle)[0])
    with pytest.raises(ValueError, match="interpolation.*'cubic'"):
        T.RandomRotation(10, interpolation="cubic")


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@given(angle=st.floats(-180, 180), height=st.integers(2, 9),
       width=st.integers(2, 9), seed=st.integers(0, 1000))
def test_rotate_matches_torchvision(torch, interpolation, angle, height, width,
                                    seed):
    import torchvision.transforms.functional as TF
    from torchvision.transforms import InterpolationMode
    images = np.random.default_rng(seed).integers(0, 256, (2, height, width, 3),
                                                  dtype=np.uint8)
    ours = T.rotate(images, angle, interpolation)
    theirs = TF.rotate(torch.from_numpy(images).permute(0, 3, 1, 2), angle,
                       interpolation=InterpolationMode(interpolation))
    theirs = theirs.permute(0, 2, 3, 1).numpy()
    differ = np.abs(ours.astype(int) - theirs.astype(int))
    if interpolation == "bilinear":
        assert differ.max() <= 1
        return
    # A source coordinate exactly half-way between two pixels (e.g. at 30
    # degrees, where sin = 0.5) may round either way in float32: compare
    # every other pixel exactly.
    t = np.deg2rad(angle)
    dy = np.arange(height)[:, None] - (height - 1) / 2
    dx = np.arange(width)[None, :] - (width - 1) / 2
    x_in = np.cos(t) * dx - np.sin(t) * dy + (width - 1) / 2
    y_in = np.sin(t) * dx + np.cos(t) * dy + (height - 1) / 2
    tie = (np.abs(x_in % 1 - 0.5) < 1e-3) | (np.abs(y_in % 1 - 0.5) < 1e-3)
    assert differ[:, ~tie].max(initial=0) == 0


# -- colour -------------------------------------------------------------------

def test_brightness_by_hand():
    image = np.array([[[[100, 200, 3]]]], dtype=np.uint8)     # one pixel
    assert T.adjust_brightness(image, 1.5)[0, 0, 0].tolist() == [150, 255, 4]
    # 0.5 * 3 = 1.5: cut to 1, as torchvision does for uint8.
    assert T.adjust_brightness(image, 0.5)[0, 0, 0].tolist() == [50, 100, 1]
    assert T.adjust_brightness(image, 0)[0, 0, 0].tolist() == [0, 0, 0]


def test_contrast_and_saturation_by_hand():
    # Two grey pixels, 50 and 150. The luma weights sum to 0.9999, so their
    # grey levels are 49.995 and 149.985, cut to 49 and 149: mean 99.
    image = np.array([[[[50] * 3, [150] * 3]]], dtype=np.uint8)
    assert T.rgb_to_grayscale(image)[0, 0, :, 0].tolist() == [49, 149]
    out = T.adjust_contrast(image, 2.0)[0, 0]
    assert out.tolist() == [[1] * 3, [201] * 3]       # 2 * 50 - 99, 2 * 150 - 99
    out = T.adjust_contrast(image, 0.5)[0, 0]
    assert out.tolist() == [[74] * 3, [124] * 3]      # 74.5, 124.5 cut
    colour = np.array([[[[200, 100, 0]]]], dtype=np.uint8)
    grey = int(0.2989 * 200 + 0.587 * 100)            # 118
    assert T.adjust_saturation(colour, 0)[0, 0, 0].tolist() == [grey] * 3
    # 2 * 200 - 118 = 282 -> 255; 2 * 100 - 118 = 82; 2 * 0 - 118 -> 0
    assert T.adjust_saturation(colour, 2)[0, 0, 0].tolist() == [255, 82, 0]


@pytest.mark.parametrize("name", ["brightness", "contrast", "saturation"])
@given(factor=st.floats(0, 2), seed=st.integers(0, 1000))
def test_colour_adjustments_match_torchvision(torch, name, factor, seed):
    import torchvision.transforms.functional as TF
    images = np.random.default_rng(seed).integers(0, 256, (2, 3, 5, 3),
                                                  dtype=np.uint8)
    ours = getattr(T, "adjust_" + name)(images, factor)
    theirs = np.stack([
        getattr(TF, "adjust_" + name)(torch.from_numpy(image).permute(2, 0, 1),
                                      factor).permute(1, 2, 0).numpy()
        for image in images])
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


def test_color_jitter_factors_ranges_and_order():
    jitter = T.ColorJitter(brightness=0.5)
    assert jitter.ranges == {"brightness": (0.5, 1.5)}
    assert T.ColorJitter(contrast=(0.2, 0.3)).ranges == {"contrast": (0.2, 0.3)}
    # Brightness alone scales each image by its own factor in [0.5, 1.5].
    batch = np.full((64, 1, 1, 3), 100, dtype=np.uint8)
    out = T.ColorJitter(brightness=0.5)(batch, np.random.default_rng(0))
    values = out[:, 0, 0, 0].astype(int)
    assert np.all(out == out[:, :, :, :1])
    assert values.min() >= 50 and values.max() <= 150
    assert len(set(values.tolist())) > 20
    with pytest.raises(NotImplementedError, match="hue"):
        T.ColorJitter(hue=0.1)
    with pytest.raises(ValueError, match="ColorJitter: brightness.*non-negative"):
        T.ColorJitter(brightness=-1)


def test_color_jitter_order_matters_and_is_per_image():
    # Brightness then contrast differs from contrast then brightness on this
    # image (clipping): the batch must show both orders.
    image = np.array([[[[200, 200, 200], [20, 20, 20]]]], dtype=np.uint8)
    batch = np.repeat(image, 200, axis=0)
    jitter = T.ColorJitter(brightness=(1.5, 1.5), contrast=(0.5, 0.5))
    out = jitter(batch, np.random.default_rng(0))
    b_then_c = T.adjust_contrast(T.adjust_brightness(image, 1.5), 0.5)
    c_then_b = T.adjust_brightness(T.adjust_contrast(image, 0.5), 1.5)
    # By hand: brightness first gives 255 (clipped) and 30, grey mean 141.5;
    # contrast first gives 154 and 64, then 231 and 96.
    assert b_then_c[0, 0, :, 0].tolist() == [198, 85]
    assert c_then_b[0, 0, :, 0].tolist() == [231, 96]
    assert not np.array_equal(b_then_c, c_then_b)
    first = np.all(out == b_then_c, axis=(1, 2, 3))
    second = np.all(out == c_then_b, axis=(1, 2, 3))
    assert np.all(first | second) and 50 < first.sum() < 150


# -- conversion, normalisation, composition -----------------------------------

def test_to_tensor_by_hand():
    image = np.array([[[0, 51, 255], [255, 0, 102]]], dtype=np.uint8)  # 1x2x3
    out = T.ToTensor()(image[None])
    assert out.dtype == np.float32 and out.shape == (1, 3, 1, 2)
    np.testing.assert_allclose(out[0, :, 0], [[0, 1], [0.2, 0], [1, 0.4]],
                               rtol=1e-6)
    assert T.ToTensor()(image).shape == (3, 1, 2)   # a single image
    assert T.ToFloat is T.ToTensor


def test_normalize_by_hand_keeps_float32():
    x = np.array([[[[0.5]], [[0.0]]]], dtype=np.float32)   # (1, 2, 1, 1)
    out = T.Normalize([0.5, 0.25], [0.5, 0.25])(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.reshape(-1), [0.0, -1.0])
    with pytest.raises(ValueError, match="Normalize: 2 means for 3 channels"):
        T.Normalize([0, 0], [1, 1])(np.zeros((1, 3, 2, 2), np.float32))
    with pytest.raises(ValueError, match="Normalize: expected a float batch.*ToTensor"):
        T.Normalize([0], [1])(np.zeros((1, 2, 2, 1), np.uint8))
    with pytest.raises(ValueError, match="std must be non-zero"):
        T.Normalize([0], [0])


def test_compose_order_and_seed():
    pipeline = T.Compose([T.RandomCrop(3, padding=1), T.RandomHorizontalFlip(),
                          T.ToTensor(), T.Normalize([0.5], [0.5])])
    batch = np.repeat(_grid(), 8, axis=0)
    a = pipeline(batch, rng=np.random.default_rng(4))
    b = pipeline(batch, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (8, 1, 3, 3) and a.dtype == np.float32
    # Same as running the steps one by one with one generator.
    rng = np.random.default_rng(4)
    step = T.RandomCrop(3, padding=1)(batch, rng)
    step = T.RandomHorizontalFlip()(step, rng)
    np.testing.assert_allclose(a, (step.transpose(0, 3, 1, 2) / 255 - 0.5) / 0.5,
                               rtol=1e-6, atol=1e-6)


def test_seeded_transforms_hold_their_own_generator():
    batch = np.repeat(_grid(), 16, axis=0)
    first = T.RandomCrop(2, seed=1)(batch)
    second = T.RandomCrop(2, seed=1)(batch)
    np.testing.assert_array_equal(first, second)


def test_plain_functions_mix_with_transforms():
    # A plain function gets one image (H, W, C), as in torchvision.
    batch = np.repeat(_grid(), 3, axis=0)
    pipeline = T.Compose([lambda image: image[:2], T.ToTensor()])
    assert pipeline(batch).shape == (3, 1, 2, 4)
    seen = []

    def takes_rng(image, rng):
        seen.append(rng)
        return image

    generator = np.random.default_rng(0)
    T.Compose([takes_rng])(batch, rng=generator)
    assert seen == [generator] * 3  # once per image, the same generator
