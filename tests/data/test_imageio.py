"""Image files: Unicode paths, RGB in memory, truncated and foreign files refused."""

import numpy as np
import pytest

from minilpr.data import imageio

from tests.data.files import jpeg, png


def test_imwrite_imread_unicode_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (24, 94, 3), dtype=np.uint8)
    path = tmp_path / "京A12345_2.png"
    imageio.imwrite(path, image)
    np.testing.assert_array_equal(imageio.imread(path), image)
    gray = imageio.imread(path, grayscale=True)
    assert gray.shape == (24, 94) and gray.dtype == np.uint8



@pytest.mark.parametrize("name, data, problem", [
    ("empty.png", b"", "empty file"),
    ("cut.jpg", "half a JPEG", "truncated JPEG"),
    ("cut.png", "half a PNG", "truncated PNG"),
    ("text.jpg", b"hello, not an image", "not a JPEG file"),
    ("text.png", b"hello, not an image", "not a PNG file"),
])
def test_imread_refuses_broken_files_naming_them(tmp_path, name, data, problem):
    image = np.full((16, 24, 3), 200, np.uint8)
    if data == "half a JPEG":
        data = jpeg(image)[:len(jpeg(image)) // 2]
    elif data == "half a PNG":
        data = png(image)[:len(png(image)) // 2]
    (tmp_path / name).write_bytes(data)
    with pytest.raises(ValueError, match=f"{name}: {problem}"):
        imageio.imread(tmp_path / name)


def test_imwrite_refuses_what_is_not_an_image(tmp_path):
    with pytest.raises(ValueError, match="expected .* uint8"):
        imageio.imwrite(tmp_path / "a.png", np.zeros((4, 4), np.float32))
