"""Any plate image in, the recogniser's input out: made the way the synthetic training inputs are.

The model learns from ``PlateGenerator.batch`` (``minilpr.data.synth``), so a real crop must
reach it through the same steps, or it sees a kind of picture it never saw in training:

1. **gray** with the weights 0.299 R + 0.587 G + 0.114 B (OpenCV's ``COLOR_BGR2GRAY``, which
   the generator's ``LUMA`` and its ``COLOR_RGB2GRAY`` are); colour crops keep RGB order, the
   generator's order for ``color=True``;
2. **resized** to (H, W) in the image's own integer type: shrinking with ``INTER_AREA`` (the
   generator shrinks its supersampled canvas that way), growing with ``INTER_LINEAR`` (the way its
   lost-resolution augmentation grows a small crop back, and a 94 × 24 real crop is grown to
   220 × 32). When one axis shrinks and the other grows, the shrink is done first, then the
   growth, each with its own interpolation;
3. **scaled** to [0, 1] float32 by one multiplication by ``1/255`` (``1/65535`` for uint16).
"""

from __future__ import annotations

import cv2
import numpy as np

ORDERS = ("bgr", "rgb")
_SCALE = {np.dtype(np.uint8): np.float32(1 / 255), np.dtype(np.uint16): np.float32(1 / 65535)}
_TO_GRAY = {("bgr", 3): cv2.COLOR_BGR2GRAY, ("rgb", 3): cv2.COLOR_RGB2GRAY,
            ("bgr", 4): cv2.COLOR_BGRA2GRAY, ("rgb", 4): cv2.COLOR_RGBA2GRAY}
_TO_RGB = {("bgr", 3): cv2.COLOR_BGR2RGB, ("bgr", 4): cv2.COLOR_BGRA2RGB,
           ("rgb", 4): cv2.COLOR_RGBA2RGB}


def _check(image: np.ndarray, size, channels: int, order: str) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype not in _SCALE:
        raise TypeError(f"recognizer_input: expected a uint8 or uint16 image, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]  # (H, W, 1) -> (H, W)
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
        raise ValueError(f"recognizer_input: expected an (H, W), (H, W, 3) or (H, W, 4) image, "
                         f"got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"recognizer_input: the image is empty, shape {image.shape}")
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"recognizer_input: size must be (H, W) of positive ints, got {size}")
    if channels not in (1, 3):
        raise ValueError(f"recognizer_input: channels must be 1 or 3, got {channels}")
    if order not in ORDERS:
        raise ValueError(f"recognizer_input: order must be one of {ORDERS}, got {order!r}")
    return image


def _colour(image: np.ndarray, channels: int, order: str) -> np.ndarray:
    """(H, W[, 3|4]) -> (H, W) gray for ``channels=1``, (H, W, 3) RGB for ``channels=3``."""
    if image.ndim == 2:
        return image if channels == 1 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    key = (order, image.shape[2])
    if channels == 1:
        return cv2.cvtColor(image, _TO_GRAY[key])
    return cv2.cvtColor(image, _TO_RGB[key]) if key in _TO_RGB else image


def resize_like_training(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` (h, w[, C]) resized to ``size`` = (H, W): ``INTER_AREA`` along an axis that
    shrinks, ``INTER_LINEAR`` along one that grows (the shrink first when both happen).

    Returns
    -------
    (H, W[, C]), the dtype of ``image``
    """
    (h, w), (H, W) = image.shape[:2], (int(size[0]), int(size[1]))
    if (h, w) == (H, W):
        return image
    if H <= h and W <= w:
        return cv2.resize(image, (W, H), interpolation=cv2.INTER_AREA)
    if H >= h and W >= w:
        return cv2.resize(image, (W, H), interpolation=cv2.INTER_LINEAR)
    shrunk = (min(h, H), min(w, W))
    image = cv2.resize(image, shrunk[::-1], interpolation=cv2.INTER_AREA)
    return cv2.resize(image, (W, H), interpolation=cv2.INTER_LINEAR)


def recognizer_input(image: np.ndarray, size: tuple[int, int] = (32, 220), channels: int = 1,
                     order: str = "bgr") -> np.ndarray:
    """One plate image as the recogniser's input, made like ``PlateGenerator.batch`` makes it.

    Parameters
    ----------
    image : (h, w), (h, w, 1), (h, w, 3) or (h, w, 4) uint8 or uint16
        Any size; gray, or colour in ``order`` (alpha is dropped).
    size : (H, W)
        The model's input size; (32, 220) is the patent's.
    channels : {1, 3}
        1 for gray, 3 for RGB.
    order : {"bgr", "rgb"}
        Channel order of a colour ``image``: "bgr" as ``cv2.imread`` gives it, "rgb" as
        ``minilpr.data.datasets.imread`` and the generator give it.

    Returns
    -------
    x : (C, H, W) float32 in [0, 1]
        C = ``channels``.

    Raises
    ------
    TypeError
        For an image that is not uint8 or uint16.
    ValueError
        For any other shape, an empty image, or bad ``size``, ``channels`` or ``order``.
    """
    image = _check(image, size, channels, order)
    scale = _SCALE[image.dtype]
    pixels = resize_like_training(_colour(image, channels, order), size)
    pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)  # (C, H, W)
    return np.multiply(pixels, scale, dtype=np.float32)


def recognizer_batch(images, size: tuple[int, int] = (32, 220), channels: int = 1,
                     order: str = "bgr") -> np.ndarray:
    """``recognizer_input`` of each image, stacked.

    Parameters
    ----------
    images : sequence of N images, each as ``recognizer_input`` takes it (sizes may differ)

    Returns
    -------
    x : (N, C, H, W) float32 in [0, 1]
    """
    out = np.empty((len(images), channels, int(size[0]), int(size[1])), np.float32)
    for n, image in enumerate(images):
        out[n] = recognizer_input(image, size, channels, order)
    return out
