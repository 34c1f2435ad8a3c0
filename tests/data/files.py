"""Image files as bytes, for tests that write good and broken files into a folder."""

import cv2
import numpy as np


def png(image: np.ndarray) -> bytes:
    """``image`` (RGB or gray uint8) encoded as a PNG file."""
    return cv2.imencode(".png", image)[1].tobytes()


def jpeg(image: np.ndarray) -> bytes:
    """``image`` (RGB or gray uint8) encoded as a JPEG file."""
    return cv2.imencode(".jpg", image)[1].tobytes()
