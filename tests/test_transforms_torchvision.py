"""Resize, CenterCrop, RandomResizedCrop and Lambda against torchvision, and
the rule that a per-image transform is never handed a whole batch."""
import numpy as np
import pytest

from minidl.data import DataLoader, ImageArrayDataset
from minidl.data import transforms as T

pytestmark = pytest.mark.cpu_only  # NumPy transforms: host-side by nature


def _images(batch=2, height=13, width=17, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (batch, height, width, 3), dtype=np.uint8)


@pytest.fixture
def tv_functional(torch):
    return pytest.importorskip("torchvision.transforms.v2.functional")


def _torch_batch(torch, images):
    return torch.from_numpy(images).permute(0, 3, 1, 2)


def _numpy_batch(tensor):
    return tensor.permute(0, 2, 3, 1).numpy()


def _assert_within_one_grey_level(ours, reference):
    # torchvision's uint8 kernels use fixed-point weights and round between
    # their two passes; ours round one float32 result: one level apart at
    # most (the float path below is compared exactly).
    difference = np.abs(ours.astype(np.int64) - reference.astype(np.int64))
    assert difference.max() <= 1


@pytest.mark.parametrize("size", [(5, 7), (26, 30), (13, 9), (40, 11), (1, 1)])
@pytest.mark.parametrize("antialias", [True, False])
def test_resize_bilinear_matches_torchvision(torch, tv_functional, size,
                                             antialias):
    images = _images()
    ours = T.resize(images, size, antialias=antialias)
    batch = _torch_batch(torch, images)
    reference = tv_functional.resize(batch, list(size), antialias=antialias)
    assert ours.shape == (2,) + size + (3,) and ours.dtype == np.uint8
    _assert_within_one_grey_level(ours, _numpy_batch(reference))
    # In float, the weights are torchvision's: equal to float32 rounding.
    weights_h = T._resize_weights(size[0], 13, 0, 13, antialias)
    weights_w = T._resize_weights(size[1], 17, 0, 17, antialias)
    ours_float = np.einsum("oh,bhwc,pw->bopc", weights_h,
                           images.astype(np.float32), weights_w)
    reference_float = _numpy_batch(tv_functional.resize(
        batch.float(), list(size), antialias=antialias))
    np.testing.assert_allclose(ours_float, reference_float, rtol=0,
                               atol=255 * 4e-6)


@pytest.mark.parametrize("size", [(5, 7), (26, 30), (40, 11)])
def test_resize_nearest_matches_torchvision_exactly(torch, tv_functional, size):
    from torchvision.transforms import InterpolationMode
    images = _images()
    ours = T.Resize(size, interpolation=InterpolationMode.NEAREST)(images)
    reference = tv_functional.resize(_torch_batch(torch, images), list(size),
                                     interpolation=InterpolationMode.NEAREST)
    np.testing.assert_array_equal(ours, _numpy_batch(reference))


@pytest.mark.parametrize("size, max_size", [(8, None), (20, None), ([6], None),
                                            (8, 9), ((4, 30), None)])
def test_resize_size_rule_is_torchvision(torch, tv_functional, size, max_size):
    for height, width in ((13, 17), (17, 13), (10, 10)):
        images = _images(1, height, width)
        ours = T.Resize(size, max_size=max_size)(images)
        reference = tv_functional.resize(_torch_batch(torch, images), size,
                                         max_size=max_size)
        assert ours.shape[1:3] == tuple(reference.shape[2:])


def test_resize_of_one_image_and_bad_arguments():
    image = _images(1)[0]
    assert T.Resize(6)(image).shape == (6, 7, 3)  # one image stays one image
    with pytest.raises(ValueError, match="Resize: size must be a positive"):
        T.Resize(0)
    with pytest.raises(ValueError, match="max_size applies only"):
        T.Resize((4, 4), max_size=10)
    with pytest.raises(ValueError, match="interpolation must be one of"):
        T.Resize(4, interpolation="bicubic")


@pytest.mark.parametrize("size", [(5, 7), (4, 4), (13, 17), (16, 20), (14, 9)])
def test_center_crop_matches_torchvision(torch, tv_functional, size):
    images = _images()
    ours = T.CenterCrop(size)(images)
    reference = tv_functional.center_crop(_torch_batch(torch, images),
                                          list(size))
    np.testing.assert_array_equal(ours, _numpy_batch(reference))


def test_resized_crop_matches_torchvision_per_image(torch, tv_functional):
    images = _images(3, 20, 24)
    windows = [(0, 0, 20, 24), (3, 5, 9, 14), (11, 2, 7, 3)]
    ours = T.resized_crop(images, *np.array(windows).T, (8, 10))
    for b, (top, left, height, width) in enumerate(windows):
        reference = tv_functional.resized_crop(
            _torch_batch(torch, images[b:b + 1]), top, left, height, width,
            [8, 10], antialias=True)
        _assert_within_one_grey_level(ours[b:b + 1], _numpy_batch(reference))
    with pytest.raises(ValueError, match="reaches outside"):
        T.resized_crop(images, 15, 0, 9, 4, (2, 2))


def test_random_resized_crop_draws_a_window_per_image():
    images = np.repeat(_images(1, 20, 24), 64, axis=0)
    crop = T.RandomResizedCrop(8, scale=(0.1, 0.5), seed=3)
    out = crop(images)
    assert out.shape == (64, 8, 8, 3) and out.dtype == np.uint8
    assert len({o.tobytes() for o in out}) > 50  # different windows
    again = T.RandomResizedCrop(8, scale=(0.1, 0.5), seed=3)(images)
    np.testing.assert_array_equal(out, again)
    rng = np.random.default_rng(0)
    for _ in range(200):
        top, left, height, width = crop.get_params(20, 24, rng)
        assert 0 <= top and top + height <= 20 and 0 <= left
        assert left + width <= 24
        assert 0.1 * 480 * 0.5 <= height * width <= 0.5 * 480 * 1.5
    # No window fits (the ratio is far from the image's): torchvision's
    # fallback, the central window with the ratio clamped.
    tall = T.RandomResizedCrop(4, scale=(0.9, 1.0), ratio=(5.0, 6.0))
    assert tall.get_params(20, 24, rng) == (7, 0, 5, 24)


def test_random_resized_crop_fallback_is_torchvisions(torch):
    torchvision_transforms = pytest.importorskip("torchvision.transforms")
    image = torch.zeros(3, 20, 24)
    params = torchvision_transforms.RandomResizedCrop.get_params(
        image, scale=[0.9, 1.0], ratio=[5.0, 6.0])
    ours = T.RandomResizedCrop(4, scale=(0.9, 1.0), ratio=(5.0, 6.0))
    assert ours.get_params(20, 24, np.random.default_rng(0)) == tuple(params)


# -- one image, or a batch --------------------------------------------------
def _one_image_only(image):
    assert image.ndim == 3, f"handed shape {image.shape}"
    return 255 - image


def test_a_plain_function_is_never_handed_a_batch():
    images = _images(5, 4, 4)
    dataset = ImageArrayDataset(images, np.arange(5))
    expected = 255 - images
    for transform in (_one_image_only, T.Lambda(_one_image_only),
                      T.Compose([T.CenterCrop(4), _one_image_only])):
        assert not T.is_batched(transform)
        loader = DataLoader(dataset, batch_size=3, transform=transform, seed=0)
        got = np.concatenate([x.numpy() for x, _ in loader])
        np.testing.assert_array_equal(got, expected)
        dataset.transform = transform
        np.testing.assert_array_equal(dataset.get_batch([1, 2])[0],
                                      expected[1:3])
        np.testing.assert_array_equal(dataset[4][0], expected[4])
        dataset.transform = None
        np.testing.assert_array_equal(transform(images[0]), expected[0])


def test_built_in_pipelines_stay_batched():
    calls = []

    class Counting(T.Transform):
        def apply(self, images, rng):
            calls.append(images.shape)
            return images

    pipeline = T.Compose([T.RandomResizedCrop(4, seed=0), Counting(),
                          T.RandomHorizontalFlip(seed=0), T.ToTensor(),
                          T.Normalize([0.5], [0.5])])
    assert T.is_batched(pipeline)
    out = pipeline(_images(6, 8, 8))
    assert out.shape == (6, 3, 4, 4) and calls == [(6, 4, 4, 3)]
    batched = T.Lambda(lambda images: images + 1, batched=True)
    assert T.is_batched(batched) and T.is_batched(T.Compose([batched]))


def test_per_image_results_of_different_shapes_are_an_error():
    shapes = iter([(2, 2, 3), (3, 3, 3)])
    with pytest.raises(ValueError, match="different shapes"):
        T.call_transform(lambda image: np.zeros(next(shapes), np.uint8),
                         _images(2, 4, 4), None)


def test_lambda_refuses_what_is_not_callable():
    with pytest.raises(TypeError, match="Lambda: expected a callable"):
        T.Lambda(3)
