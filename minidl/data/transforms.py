"""Image transforms: each works on one image, as in torchvision, and the
built-in ones also on a whole batch at once, vectorised (the fast path).

Layout and order. Image datasets hand out uint8 images (H, W, C), channels
last, and uint8 batches (B, H, W, C). A pipeline runs in three stages::

    Compose([
        RandomResizedCrop(32),     # or Resize + CenterCrop / RandomCrop
        RandomHorizontalFlip(),    # uint8 (B, H, W, C)
        ToTensor(),                # -> float32 (B, C, H, W) in [0, 1]
        Normalize(mean, std),      # float32 (B, C, H, W)
    ])

1. uint8 operations: Resize, CenterCrop, RandomCrop, RandomResizedCrop,
   RandomHorizontalFlip, RandomRotation, ColorJitter;
2. ToTensor (alias ToFloat): uint8 (H, W, C) -> float32 (C, H, W) / 255;
3. Normalize on the float image.

One image or a batch. A transform you write (a function, a ``Lambda``, a
class with ``__call__``) gets ONE image, as in torchvision: (H, W, C) uint8
before ToTensor, (C, H, W) float after it. minidl's own transforms (every
:class:`Transform`) also take a batch (B, ...), and carry ``batched =
True``. The loader and the datasets hand a transform the whole batch only
when it says ``batched = True``; any other callable is run image by image
and the results stacked (:func:`call_transform`). A :class:`Compose` runs
each of its steps the way that step supports, so a pipeline of built-in
transforms stays vectorised from end to end (the fast path), and one
per-image function in it slows down that step only. A function that does
handle batches can say so: ``fn.batched = True`` (or ``Lambda(fn,
batched=True)``). Called directly, ``transform(x)`` takes a 3-dimensional
array as one image and a 4-dimensional one as a batch.

Randomness. Every transform is called as ``transform(images, rng=None)``
where `rng` is a ``numpy.random.Generator``. The DataLoader passes a
generator seeded by (seed, epoch, batch index), so results never depend on
which worker thread made a batch. Called without `rng`, a random transform
uses its own generator if it was built with ``seed=...``, otherwise
minidl's global one (``minidl.manual_seed``). Each image of a batch gets its
own random parameters (offset, flip, angle, factors).

The functions at the top (``pad``, ``crop``, ``hflip``, ``resize``,
``rotate``, ``adjust_brightness``...) are the deterministic operations; the
classes below draw random parameters and call them.

Differences from torchvision: the inputs are NumPy arrays (not PIL images
or torch tensors, though a per-image function may return either as long as
NumPy can stack the results); uint8 results of Resize are rounded from a
float32 computation, so they may differ from torchvision's uint8 kernels
(fixed-point weights, rounded between the two passes) by one grey level,
while in float they agree to rounding; bicubic interpolation and hue jitter are not offered.
"""
import inspect
import numbers

import numpy as np

from .. import random as minidl_random
from ..tensor import array_of


# ---------------------------------------------------------------------------
# Deterministic operations on uint8 batches (B, H, W, C)
# ---------------------------------------------------------------------------

def _check_uint8_batch(images, name):
    if not isinstance(images, np.ndarray) or images.ndim != 4 or \
            images.dtype != np.uint8:
        raise ValueError("{}: expected a uint8 NumPy batch (B, H, W, C), got {} "
                         "of shape {}; uint8 transforms come before ToTensor"
                         .format(name, getattr(images, "dtype", type(images)),
                                 getattr(images, "shape", None)))


def _parse_padding(padding, name):
    """torchvision's padding forms -> (left, top, right, bottom)."""
    if isinstance(padding, numbers.Integral):
        sides = (padding,) * 4
    elif isinstance(padding, (tuple, list)) and len(padding) == 2:
        sides = (padding[0], padding[1], padding[0], padding[1])
    elif isinstance(padding, (tuple, list)) and len(padding) == 4:
        sides = tuple(padding)
    else:
        raise ValueError("{}: padding must be an int, (left/right, top/bottom) "
                         "or (left, top, right, bottom), got {!r}".format(
                             name, padding))
    if any(not isinstance(s, numbers.Integral) or s < 0 for s in sides):
        raise ValueError("{}: padding must be non-negative integers, got {!r}"
                         .format(name, padding))
    return tuple(int(s) for s in sides)


_PAD_MODES = {"constant", "edge", "reflect", "symmetric"}


def pad(images, padding, mode="constant", fill=0):
    """Pad a uint8 batch (B, H, W, C) on its H and W sides.

    `padding`: int, (left/right, top/bottom) or (left, top, right, bottom).
    `mode`: 'constant' (with `fill`, a number or one value per channel),
    'edge' (repeat the border pixel), 'reflect' (mirror without repeating
    the border: ``3 2 | 1 2 3``) or 'symmetric' (mirror with it: ``2 1 | 1 2``).
    Returns (B, top + H + bottom, left + W + right, C).
    """
    _check_uint8_batch(images, "pad")
    left, top, right, bottom = _parse_padding(padding, "pad")
    if mode not in _PAD_MODES:
        raise ValueError("pad: padding_mode must be one of {}, got {!r}".format(
            sorted(_PAD_MODES), mode))
    batch, height, width, channels = images.shape
    if mode == "constant":
        out = np.empty((batch, top + height + bottom, left + width + right,
                        channels), dtype=np.uint8)
        out[...] = np.asarray(fill, dtype=np.uint8)  # broadcast over channels
        out[:, top:top + height, left:left + width] = images
        return out
    if mode == "reflect" and (max(top, bottom) >= height or
                              max(left, right) >= width):
        raise ValueError("pad: reflect padding {} needs an image larger than the "
                         "padding, got H, W = {}, {}".format(
                             (left, top, right, bottom), height, width))
    return np.pad(images, ((0, 0), (top, bottom), (left, right), (0, 0)),
                  mode=mode)


def crop(images, top, left, height, width):
    """Crop each image b to rows top[b]:top[b]+height, cols left[b]:left[b]+width.

    `top`, `left`: ints or int arrays (B,). Returns (B, height, width, C).
    """
    _check_uint8_batch(images, "crop")
    batch, full_height, full_width, _ = images.shape
    top = np.broadcast_to(np.asarray(top, dtype=np.int64), (batch,))
    left = np.broadcast_to(np.asarray(left, dtype=np.int64), (batch,))
    if height > full_height or width > full_width:
        raise ValueError("crop: crop size ({}, {}) is larger than the images "
                         "({}, {})".format(height, width, full_height, full_width))
    if batch and (top.min() < 0 or left.min() < 0 or
                  top.max() > full_height - height or
                  left.max() > full_width - width):
        raise ValueError("crop: offsets out of range for a ({}, {}) crop of "
                         "({}, {}) images".format(height, width, full_height,
                                                  full_width))
    # A strided view of every (height, width) window, shape
    # (B, H - height + 1, W - width + 1, C, height, width), no copy made;
    # one fancy index then picks one window per image.
    windows = np.lib.stride_tricks.sliding_window_view(
        images, (height, width), axis=(1, 2))
    chosen = windows[np.arange(batch), top, left]        # (B, C, height, width)
    return np.ascontiguousarray(chosen.transpose(0, 2, 3, 1))


def hflip(images):
    """Mirror every image left-right: (B, H, W, C) -> (B, H, W, C)."""
    _check_uint8_batch(images, "hflip")
    return images[:, :, ::-1].copy()


def _resize_weights(out_size, in_size, start, length, antialias):
    """(out_size, in_size) float32 weights of a bilinear (triangle) filter
    mapping the window [start, start + length) of an axis to `out_size`
    samples, as torchvision/PyTorch compute them (``align_corners=False``).

    Output sample i sits at ``start + (i + 0.5) * scale`` in input pixel
    units (pixel j's centre is at j + 0.5), ``scale = length / out_size``.
    Plain bilinear weighs the two nearest pixels, w(d) = max(0, 1 - |d|)
    for the distance d between centres. With `antialias` and a shrinking
    scale > 1, the triangle is stretched to ``max(0, 1 - |d| / scale)``, so
    each output averages every input it covers (as PIL and torchvision's
    ``antialias=True``). Weights of pixels outside the window are dropped
    and the rest renormalised, which is the edge clamping of both.
    """
    scale = length / out_size
    support = max(scale, 1.0) if antialias else 1.0
    centres = start + (np.arange(out_size, dtype=np.float64) + 0.5) * scale
    pixels = np.arange(in_size, dtype=np.float64) + 0.5
    distance = np.abs(pixels[None, :] - centres[:, None]) / support
    weights = np.maximum(0.0, 1.0 - distance)
    weights *= (pixels >= start) & (pixels < start + length)  # the window only
    total = weights.sum(axis=1, keepdims=True)
    return (weights / np.where(total > 0, total, 1.0)).astype(np.float32)


def _nearest_indices(out_size, start, length, in_size):
    """torchvision's 'nearest': source index floor(i * length / out_size)."""
    scale = length / out_size
    index = start + np.floor(np.arange(out_size) * scale).astype(np.int64)
    return np.clip(index, 0, in_size - 1)


_RESIZE_MODES = ("nearest", "bilinear")


def _resize_mode(interpolation, name):
    mode = getattr(interpolation, "value", interpolation)  # InterpolationMode
    if mode not in _RESIZE_MODES:
        raise ValueError(f"{name}: interpolation must be one of "
                         f"{_RESIZE_MODES}, got {interpolation!r}")
    return mode


def resized_crop(images, top, left, height, width, size,
                 interpolation="bilinear", antialias=True):
    """Crop each image b to the window (top[b], left[b], height[b],
    width[b]) and resize it to `size` (out_height, out_width), as
    torchvision's ``resized_crop``; (B, H, W, C) uint8 -> (B, oh, ow, C).

    The window may differ per image: each gets its own weight matrices
    (B, oh, H) and (B, ow, W) (see :func:`_resize_weights`), and one einsum
    applies both, so the batch needs no Python loop over pixels. A window
    must lie inside the image.
    """
    _check_uint8_batch(images, "resized_crop")
    mode = _resize_mode(interpolation, "resized_crop")
    batch, full_height, full_width, _ = images.shape
    out_height, out_width = size
    params = [np.broadcast_to(np.asarray(v, dtype=np.int64), (batch,))
              for v in (top, left, height, width)]
    if batch and (params[2].min() < 1 or params[3].min() < 1):
        raise ValueError("resized_crop: crop height and width must be positive")
    if batch and (params[0].min() < 0 or params[1].min() < 0 or
                  (params[0] + params[2]).max() > full_height or
                  (params[1] + params[3]).max() > full_width):
        raise ValueError(f"resized_crop: a window reaches outside the "
                         f"({full_height}, {full_width}) images")
    if mode == "nearest":
        rows = np.stack([_nearest_indices(out_height, t, h, full_height)
                         for t, h in zip(params[0], params[2])])
        cols = np.stack([_nearest_indices(out_width, left, w, full_width)
                         for left, w in zip(params[1], params[3])])
        return images[np.arange(batch)[:, None, None], rows[:, :, None],
                      cols[:, None, :]]
    row_weights = np.stack([_resize_weights(out_height, full_height, t, h,
                                            antialias)
                            for t, h in zip(params[0], params[2])])
    col_weights = np.stack([_resize_weights(out_width, full_width, left, w,
                                            antialias)
                            for left, w in zip(params[1], params[3])])
    out = np.einsum("boh,bhwc,bpw->bopc", row_weights,
                    images.astype(np.float32), col_weights, optimize=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def resize(images, size, interpolation="bilinear", antialias=True):
    """Resize a uint8 batch (B, H, W, C) to `size` (out_height, out_width):
    bilinear (``align_corners=False``; with `antialias`, shrinking averages
    every covered pixel, as torchvision's default ``antialias=True``) or
    torchvision's 'nearest'."""
    _check_uint8_batch(images, "resize")
    _, height, width, _ = images.shape
    return resized_crop(images, 0, 0, height, width, size, interpolation,
                        antialias)


def resized_shape(height, width, size, max_size=None):
    """torchvision's Resize size rule. `size` (h, w): exactly that. An int
    (or a 1-sequence): the shorter edge becomes `size` and the longer one
    ``int(size * long / short)``, then, with `max_size`, both are scaled
    down so the longer edge is at most `max_size`."""
    if isinstance(size, (tuple, list)) and len(size) == 2:
        if max_size is not None:
            raise ValueError(f"Resize: max_size applies only when size is one "
                             f"number, got size={size!r}")
        return int(size[0]), int(size[1])
    if isinstance(size, (tuple, list)) and len(size) == 1:
        size = size[0]
    if not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"Resize: size must be a positive int or (height, "
                         f"width), got {size!r}")
    short, long = (height, width) if height <= width else (width, height)
    new_short, new_long = int(size), int(size * long / short)
    if max_size is not None:
        if max_size <= new_short:
            raise ValueError(f"Resize: max_size {max_size} must be larger than "
                             f"size {size}")
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_short, new_long) if height <= width else (new_long, new_short)


def _interpolation_name(interpolation):
    # Accept torchvision's InterpolationMode too (its .value is the name).
    name = getattr(interpolation, "value", interpolation)
    if name not in ("nearest", "bilinear"):
        raise ValueError("rotate: interpolation must be 'nearest' or 'bilinear', "
                         "got {!r}".format(interpolation))
    return name


def _gather(images, rows, cols, fill):
    """images[b, rows[b, i, j], cols[b, i, j]], and `fill` where the
    coordinate falls outside the image. rows, cols: int (B, H, W)."""
    batch, height, width, _ = images.shape
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    values = images[np.arange(batch)[:, None, None],
                    np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1)]
    fill = np.asarray(fill, dtype=images.dtype)
    return np.where(inside[..., None], values, fill), inside


def rotate(images, angles, interpolation="nearest", fill=0):
    """Rotate each image b counter-clockwise by angles[b] degrees about its
    centre, keeping its size (as torchvision's ``rotate``).

    Output pixel (y, x) takes the input at the inverse-rotated coordinate
    (c = centre, d = offset from it, t = angle)::

        x_in = cx + cos(t) * dx - sin(t) * dy
        y_in = cy + sin(t) * dx + cos(t) * dy

    computed for the whole batch as one (B, H, W) coordinate map.
    'nearest' rounds it; 'bilinear' mixes the 4 neighbours. Coordinates
    outside the image read `fill`. (B, H, W, C) uint8 -> same.
    """
    _check_uint8_batch(images, "rotate")
    interpolation = _interpolation_name(interpolation)
    batch, height, width, _ = images.shape
    angles = np.broadcast_to(np.asarray(angles, dtype=np.float64), (batch,))
    theta = np.deg2rad(angles).astype(np.float32)[:, None, None]
    cos, sin = np.cos(theta), np.sin(theta)
    center_y, center_x = (height - 1) / 2, (width - 1) / 2
    dy = (np.arange(height, dtype=np.float32) - center_y)[None, :, None]
    dx = (np.arange(width, dtype=np.float32) - center_x)[None, None, :]
    x_in = center_x + cos * dx - sin * dy                  # (B, H, W)
    y_in = center_y + sin * dx + cos * dy

    if interpolation == "nearest":
        rows = np.rint(y_in).astype(np.int64)
        cols = np.rint(x_in).astype(np.int64)
        return _gather(images, rows, cols, fill)[0]

    row0 = np.floor(y_in)
    col0 = np.floor(x_in)
    frac_y = (y_in - row0)[..., None]                      # (B, H, W, 1)
    frac_x = (x_in - col0)[..., None]
    row0, col0 = row0.astype(np.int64), col0.astype(np.int64)
    total = np.zeros(images.shape, dtype=np.float32)
    # The four neighbours, each weighted by its share of the unit square.
    for step_y, weight_y in ((0, 1 - frac_y), (1, frac_y)):
        for step_x, weight_x in ((0, 1 - frac_x), (1, frac_x)):
            values, _ = _gather(images, row0 + step_y, col0 + step_x, fill)
            total += weight_y * weight_x * values
    return np.clip(np.rint(total), 0, 255).astype(np.uint8)


def _factors(factors, batch):
    """Per-image factors as (B, 1, 1, 1) float32, for broadcasting."""
    factors = np.broadcast_to(np.asarray(factors, dtype=np.float32), (batch,))
    if (factors < 0).any():
        raise ValueError("colour factors must be non-negative, got {}".format(
            factors))
    return factors.reshape(batch, 1, 1, 1)


def _blend(images, other, ratio):
    """ratio * images + (1 - ratio) * other, clipped to [0, 255] and cut to
    uint8 (truncation, as torchvision does for uint8 tensors)."""
    mixed = ratio * images.astype(np.float32) + (1 - ratio) * other
    return np.clip(mixed, 0, 255).astype(np.uint8)


def rgb_to_grayscale(images):
    """Luma 0.2989 R + 0.587 G + 0.114 B: (B, H, W, 3) -> (B, H, W, 1) uint8."""
    _check_uint8_batch(images, "rgb_to_grayscale")
    if images.shape[-1] != 3:
        raise ValueError("rgb_to_grayscale: expected 3 channels, got shape {}"
                         .format(images.shape))
    weights = np.array([0.2989, 0.587, 0.114], dtype=np.float32)
    luma = images.astype(np.float32) @ weights
    return luma.astype(np.uint8)[..., None]


def adjust_brightness(images, factors):
    """Scale by factor per image (0: black, 1: unchanged). uint8 -> uint8."""
    _check_uint8_batch(images, "adjust_brightness")
    return _blend(images, np.float32(0), _factors(factors, len(images)))


def adjust_contrast(images, factors):
    """Blend each image with its mean grey level (0: flat grey, 1: unchanged)."""
    _check_uint8_batch(images, "adjust_contrast")
    if images.shape[-1] == 3:
        grey = rgb_to_grayscale(images)
    else:
        grey = images
    mean = grey.astype(np.float32).mean(axis=(1, 2, 3), keepdims=True)
    return _blend(images, mean, _factors(factors, len(images)))


def adjust_saturation(images, factors):
    """Blend each image with its grey version (0: grey, 1: unchanged)."""
    _check_uint8_batch(images, "adjust_saturation")
    if images.shape[-1] == 1:
        return images.copy()
    grey = rgb_to_grayscale(images).astype(np.float32)
    return _blend(images, grey, _factors(factors, len(images)))


# ---------------------------------------------------------------------------
# Transform classes
# ---------------------------------------------------------------------------

class Transform:
    """Base: ``transform(images, rng=None)``; subclasses define ``apply``,
    which gets a batch (B, ...). ``batched = True``: the loader hands it
    whole batches (see the module's notes).

    A single image (3 dimensions) is run as a batch of one.
    """
    seed = None
    batched = True

    def __call__(self, images, rng=None):
        if rng is None:
            rng = self._own_generator()
        single = getattr(images, "ndim", None) == 3
        if single:
            images = images[None]
        out = self.apply(images, rng)
        return out[0] if single else out

    def apply(self, images, rng):
        raise NotImplementedError

    def _own_generator(self):
        if self.seed is None:
            return minidl_random.generator()
        if getattr(self, "_generator", None) is None:
            self._generator = np.random.default_rng(self.seed)
        return self._generator

    def __repr__(self):
        fields = ", ".join("{}={!r}".format(k, v) for k, v in vars(self).items()
                           if not k.startswith("_"))
        return "{}({})".format(type(self).__name__, fields)


def _pair(size, name):
    if isinstance(size, numbers.Integral):
        return int(size), int(size)
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError("{}: size must be an int or (height, width), got {!r}"
                     .format(name, size))


class RandomCrop(Transform):
    """Pad (optionally), then crop a random (height, width) window per image.

    As torchvision's RandomCrop: `padding` int / 2-tuple / 4-tuple,
    `padding_mode` 'constant' (with `fill`), 'edge', 'reflect' or
    'symmetric'; `pad_if_needed` pads images smaller than `size`. The
    offsets are uniform over every position the window fits in.
    """

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0,
                 padding_mode="constant", seed=None):
        self.size = _pair(size, "RandomCrop")
        self.padding = padding
        if padding is not None:
            _parse_padding(padding, "RandomCrop")
        if padding_mode not in _PAD_MODES:
            raise ValueError("RandomCrop: padding_mode must be one of {}, got "
                             "{!r}".format(sorted(_PAD_MODES), padding_mode))
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode
        self.seed = seed

    def apply(self, images, rng):
        _check_uint8_batch(images, "RandomCrop")
        if self.padding is not None:
            images = pad(images, self.padding, self.padding_mode, self.fill)
        height, width = self.size
        if self.pad_if_needed and images.shape[2] < width:
            extra = width - images.shape[2]
            images = pad(images, (extra, 0), self.padding_mode, self.fill)
        if self.pad_if_needed and images.shape[1] < height:
            extra = height - images.shape[1]
            images = pad(images, (0, extra), self.padding_mode, self.fill)
        batch, full_height, full_width, _ = images.shape
        if full_height < height or full_width < width:
            raise ValueError("RandomCrop: crop size {} is larger than the padded "
                             "images ({}, {})".format(self.size, full_height,
                                                      full_width))
        top = rng.integers(0, full_height - height + 1, size=batch)
        left = rng.integers(0, full_width - width + 1, size=batch)
        return crop(images, top, left, height, width)


class CenterCrop(Transform):
    """Crop the central (height, width) window (no randomness), as
    torchvision: the offsets are ``int(round((H - height) / 2))`` and
    likewise for the width; an image smaller than the window is first
    padded with zeros (the extra pixel of an odd difference at the bottom
    and right)."""

    def __init__(self, size):
        self.size = _pair(size, "CenterCrop")

    def apply(self, images, rng):
        _check_uint8_batch(images, "CenterCrop")
        height, width = self.size
        _, full_height, full_width, _ = images.shape
        if height > full_height or width > full_width:
            extra_h = max(height - full_height, 0)
            extra_w = max(width - full_width, 0)
            images = pad(images, (extra_w // 2, extra_h // 2,
                                  (extra_w + 1) // 2, (extra_h + 1) // 2))
        top = int(round((images.shape[1] - height) / 2))
        left = int(round((images.shape[2] - width) / 2))
        return crop(images, top, left, height, width)


class Resize(Transform):
    """Resize to `size`, as torchvision's Resize: (height, width) exactly,
    or an int for the shorter edge, keeping the aspect ratio (see
    :func:`resized_shape`; `max_size` caps the longer edge).
    `interpolation`: 'bilinear' (the default) or 'nearest' (also
    torchvision's InterpolationMode); `antialias` (default True, as
    torchvision) averages every covered pixel when shrinking."""

    def __init__(self, size, interpolation="bilinear", max_size=None,
                 antialias=True):
        resized_shape(1, 1, size, max_size)  # check the arguments now
        self.size = size
        self.interpolation = _resize_mode(interpolation, "Resize")
        self.max_size = max_size
        self.antialias = bool(antialias)

    def apply(self, images, rng):
        _check_uint8_batch(images, "Resize")
        shape = resized_shape(images.shape[1], images.shape[2], self.size,
                              self.max_size)
        return resize(images, shape, self.interpolation, self.antialias)


class RandomResizedCrop(Transform):
    """A random window of each image, resized to `size`, as torchvision's
    RandomResizedCrop: the window's area is a share of the image uniform in
    `scale`, its aspect ratio (width / height) log-uniform in `ratio`; up
    to 10 draws are tried for a window that fits, else the central window
    with the ratio clamped into `ratio` (torchvision's fallback). Each
    image of a batch gets its own window; `interpolation` and `antialias`
    as for :class:`Resize`."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                 interpolation="bilinear", antialias=True, seed=None):
        self.size = _pair(size, "RandomResizedCrop")
        if len(scale) != 2 or not 0 < scale[0] <= scale[1]:
            raise ValueError(f"RandomResizedCrop: scale must be (min, max) "
                             f"with 0 < min <= max, got {scale!r}")
        if len(ratio) != 2 or not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"RandomResizedCrop: ratio must be (min, max) "
                             f"with 0 < min <= max, got {ratio!r}")
        self.scale = (float(scale[0]), float(scale[1]))
        self.ratio = (float(ratio[0]), float(ratio[1]))
        self.interpolation = _resize_mode(interpolation, "RandomResizedCrop")
        self.antialias = bool(antialias)
        self.seed = seed

    def get_params(self, height, width, rng):
        """(top, left, crop height, crop width) of one window."""
        area = height * width
        log_ratio = np.log(self.ratio)
        for _ in range(10):
            target_area = area * rng.uniform(*self.scale)
            aspect = np.exp(rng.uniform(*log_ratio))
            crop_w = int(round(np.sqrt(target_area * aspect)))
            crop_h = int(round(np.sqrt(target_area / aspect)))
            if 0 < crop_w <= width and 0 < crop_h <= height:
                top = int(rng.integers(0, height - crop_h + 1))
                left = int(rng.integers(0, width - crop_w + 1))
                return top, left, crop_h, crop_w
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            crop_w, crop_h = width, int(round(width / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            crop_h, crop_w = height, int(round(height * self.ratio[1]))
        else:
            crop_w, crop_h = width, height
        return (height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w

    def apply(self, images, rng):
        _check_uint8_batch(images, "RandomResizedCrop")
        _, height, width, _ = images.shape
        windows = np.array([self.get_params(height, width, rng)
                            for _ in range(len(images))],
                           dtype=np.int64).reshape(-1, 4)
        return resized_crop(images, windows[:, 0], windows[:, 1],
                            windows[:, 2], windows[:, 3], self.size,
                            self.interpolation, self.antialias)


class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability p."""

    def __init__(self, p=0.5, seed=None):
        if not 0 <= p <= 1:
            raise ValueError("RandomHorizontalFlip: p must be in [0, 1], got {}"
                             .format(p))
        self.p = p
        self.seed = seed

    def apply(self, images, rng):
        _check_uint8_batch(images, "RandomHorizontalFlip")
        flip = rng.random(len(images)) < self.p
        out = images.copy()
        out[flip] = images[flip, :, ::-1]
        return out


class RandomRotation(Transform):
    """Rotate each image by its own angle, uniform in [-degrees, degrees]
    (or in [min, max] when `degrees` is a pair), counter-clockwise.

    `interpolation`: 'nearest' or 'bilinear'; corners uncovered by the
    rotated image take `fill`.
    """

    def __init__(self, degrees, interpolation="nearest", fill=0, seed=None):
        if isinstance(degrees, numbers.Real):
            if degrees < 0:
                raise ValueError("RandomRotation: degrees must be non-negative "
                                 "when a single number, got {}".format(degrees))
            degrees = (-degrees, degrees)
        if len(degrees) != 2:
            raise ValueError("RandomRotation: degrees must be a number or "
                             "(min, max), got {!r}".format(degrees))
        self.degrees = (float(degrees[0]), float(degrees[1]))
        self.interpolation = _interpolation_name(interpolation)
        self.fill = fill
        self.seed = seed

    def apply(self, images, rng):
        _check_uint8_batch(images, "RandomRotation")
        angles = rng.uniform(self.degrees[0], self.degrees[1], size=len(images))
        return rotate(images, angles, self.interpolation, self.fill)


def _jitter_range(value, name):
    """torchvision's ColorJitter ranges: v -> [max(0, 1 - v), 1 + v]."""
    if isinstance(value, numbers.Real):
        if value < 0:
            raise ValueError("ColorJitter: {} must be non-negative, got {}".format(
                name, value))
        value = (max(0.0, 1.0 - value), 1.0 + value)
    if len(value) != 2 or not 0 <= value[0] <= value[1]:
        raise ValueError("ColorJitter: {} must be a number or (min, max) with "
                         "0 <= min <= max, got {!r}".format(name, value))
    if value[0] == value[1] == 1:
        return None  # no change: skip this adjustment
    return float(value[0]), float(value[1])


_ADJUSTMENTS = {"brightness": adjust_brightness, "contrast": adjust_contrast,
                "saturation": adjust_saturation}


class ColorJitter(Transform):
    """Random brightness, contrast and saturation, with torchvision's meaning.

    Each argument v gives a factor uniform in [max(0, 1 - v), 1 + v] (or a
    (min, max) pair), drawn per image; each image gets the adjustments in
    its own random order, as torchvision does. Hue is not supported.
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0, seed=None):
        if hue:
            raise NotImplementedError("ColorJitter: hue jitter is not supported; "
                                      "use brightness, contrast and saturation")
        self.ranges = {}
        for name, value in (("brightness", brightness), ("contrast", contrast),
                            ("saturation", saturation)):
            parsed = _jitter_range(value, name)
            if parsed is not None:
                self.ranges[name] = parsed
        self.seed = seed

    def apply(self, images, rng):
        _check_uint8_batch(images, "ColorJitter")
        names = list(self.ranges)
        if not names or len(images) == 0:
            return images.copy()
        batch = len(images)
        factors = {name: rng.uniform(*self.ranges[name], size=batch)
                   for name in names}
        # A random order per image (argsort of uniform keys); the images that
        # share an order (at most 3! = 6 groups) are processed together.
        orders = np.argsort(rng.random((batch, len(names))), axis=1)
        out = np.empty_like(images)
        for order in np.unique(orders, axis=0):
            chosen = np.all(orders == order, axis=1)
            group = images[chosen]
            for position in order:
                name = names[position]
                group = _ADJUSTMENTS[name](group, factors[name][chosen])
            out[chosen] = group
        return out


class ToTensor(Transform):
    """uint8 (B, H, W, C) -> float32 (B, C, H, W) in [0, 1] (divided by 255).

    Returns a NumPy array; the DataLoader makes the minidl Tensor.
    """

    def apply(self, images, rng):
        _check_uint8_batch(images, "ToTensor")
        out = images.transpose(0, 3, 1, 2).astype(np.float32)
        out /= np.float32(255)
        return out


ToFloat = ToTensor


class Normalize(Transform):
    """(x - mean[c]) / std[c] per channel on float (B, C, H, W); dtype kept."""

    def __init__(self, mean, std):
        self.mean = tuple(float(m) for m in np.atleast_1d(mean))
        self.std = tuple(float(s) for s in np.atleast_1d(std))
        if len(self.mean) != len(self.std):
            raise ValueError("Normalize: mean and std need the same length, got "
                             "{} and {}".format(len(self.mean), len(self.std)))
        if any(s == 0 for s in self.std):
            raise ValueError("Normalize: std must be non-zero, got {}".format(
                self.std))

    def apply(self, images, rng):
        if images.ndim != 4 or images.dtype.kind != "f":
            raise ValueError("Normalize: expected a float batch (B, C, H, W), got "
                             "{} of shape {}; put ToTensor before Normalize"
                             .format(images.dtype, images.shape))
        channels = images.shape[1]
        if len(self.mean) not in (1, channels):
            raise ValueError("Normalize: {} means for {} channels (shape {})"
                             .format(len(self.mean), channels, images.shape))
        mean = np.asarray(self.mean, dtype=images.dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=images.dtype).reshape(-1, 1, 1)
        return (images - mean) / std


def is_batched(transform):
    """True when `transform` may be handed a whole batch: it says
    ``batched = True`` (every minidl Transform does; a Compose does when all
    its steps do)."""
    return getattr(transform, "batched", False) is True


def _takes_rng(transform):
    if isinstance(transform, Transform):
        return True
    try:
        return "rng" in inspect.signature(transform).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False


def call_one(transform, image, rng):
    """Run `transform` on what it is given as it is (one image, or a batch
    for a batched transform), passing `rng` when it takes one."""
    return transform(image, rng=rng) if _takes_rng(transform) \
        else transform(image)


def _stack(results, name):
    arrays = [array_of(r) for r in results]
    shapes = {tuple(a.shape) for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"{name}: a per-image transform returned images of "
                         f"different shapes {sorted(shapes)}; they cannot "
                         f"form one batch")
    return np.stack(arrays)


def call_transform(transform, images, rng):
    """Run `transform` on the batch `images` (B, ...): whole, when it is
    batched (:func:`is_batched`), else one image at a time, the results
    stacked into a batch. `rng` is passed when the transform takes one
    (the per-image calls share it, drawing in image order)."""
    if isinstance(transform, Compose):
        return transform.apply_batch(images, rng)
    if is_batched(transform):
        return call_one(transform, images, rng)
    if len(images) == 0:
        return images
    name = getattr(transform, "__name__", type(transform).__name__)
    return _stack([call_one(transform, image, rng) for image in images], name)


class Lambda(Transform):
    """A function of one image as a transform, as torchvision's Lambda:
    ``Lambda(lambda image: 255 - image)``. It is called image by image;
    with ``batched=True`` it is handed whole batches instead (write it for
    (B, ...) arrays then)."""

    def __init__(self, function, batched=False):
        if not callable(function):
            raise TypeError(f"Lambda: expected a callable, got "
                            f"{type(function).__name__}")
        self.function = function
        self.batched = bool(batched)

    def __call__(self, images, rng=None):
        return call_one(self.function, images, rng)

    def __repr__(self):
        return f"Lambda({self.function!r}, batched={self.batched})"


class Compose(Transform):
    """Apply `transforms` in order, passing each the same generator.

    Called on one image (3 dimensions, or not an array), every step gets
    that image. Called on a batch (4 dimensions), or by the loader, each
    step runs the way it supports (:func:`call_transform`): batched steps
    on the whole batch, per-image functions image by image. ``batched`` is
    True when every step is batched.
    """

    def __init__(self, transforms):
        self.transforms = list(transforms)

    @property
    def batched(self):
        return all(is_batched(t) for t in self.transforms)

    def __call__(self, images, rng=None):
        if getattr(images, "ndim", None) == 4:
            return self.apply_batch(images, rng)
        for transform in self.transforms:
            images = call_one(transform, images, rng)
        return images

    def apply_batch(self, images, rng=None):
        """The pipeline on a batch (B, ...), each step as it supports."""
        for transform in self.transforms:
            images = call_transform(transform, images, rng)
        return images

    def __repr__(self):
        inner = "".join("\n    {!r},".format(t) for t in self.transforms)
        return "Compose([{}\n])".format(inner)
