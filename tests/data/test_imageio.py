"""Image files: Unicode paths, RGB in memory, and one line naming the file for every bad one."""

import os
import struct

import cv2
import numpy as np
import pytest

from minilpr.data import imageio
from minilpr.data.image_header import read_header

from tests.data.files import jpeg, png

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def refused(path, error, problem, grayscale=False):
    with pytest.raises(error, match=problem) as info:
        imageio.imread(path, grayscale)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and "\n" not in text
    return text


def test_imwrite_imread_unicode_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (24, 94, 3), dtype=np.uint8)
    path = tmp_path / "京A12345_2.png"
    imageio.imwrite(path, image)
    np.testing.assert_array_equal(imageio.imread(path), image)
    gray = imageio.imread(path, grayscale=True)
    assert gray.shape == (24, 94) and gray.dtype == np.uint8


def test_a_chinese_folder_and_file_name(tmp_path):
    folder = tmp_path / "车牌 照片"
    folder.mkdir()
    image = np.full((8, 8, 3), (200, 10, 30), np.uint8)
    imageio.imwrite(folder / "京A12345.png", image)
    np.testing.assert_array_equal(imageio.imread(folder / "京A12345.png"), image)
    refused(folder / "粤B00000.png", FileNotFoundError, "粤B00000.png: no such file")


@pytest.mark.parametrize("name, data, problem", [
    ("empty.png", b"", "empty file"),
    ("cut.jpg", "half a JPEG", "truncated JPEG"),
    ("cut.png", "half a PNG", "truncated PNG"),
    ("text.jpg", b"hello, not an image", "not a JPEG file \\(no JPEG signature; it starts "
                                         "with b'hello, n'\\)"),
    ("text.png", b"hello, not an image", "not a PNG file"),
    ("text.bmp", b"hello, not an image", "not a BMP file"),
    ("notes.txt", b"hello, not an image", "not an image \\(OpenCV reads no format"),
    ("junk.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF", "truncated JPEG"),
    ("zero.png", b"\x00" * 100, "not a PNG file"),
])
def test_imread_refuses_broken_files_naming_them(tmp_path, name, data, problem):
    image = np.full((16, 24, 3), 200, np.uint8)
    if data == "half a JPEG":
        data = jpeg(image)[:len(jpeg(image)) // 2]
    elif data == "half a PNG":
        data = png(image)[:len(png(image)) // 2]
    (tmp_path / name).write_bytes(data)
    refused(tmp_path / name, ValueError, f"{name}: {problem}")


def test_missing_file_folder_and_broken_link(tmp_path):
    assert issubclass(FileNotFoundError, OSError)
    refused(tmp_path / "nope.jpg", FileNotFoundError, "no such file")
    refused(tmp_path, IsADirectoryError, "is a folder, not an image file")
    (tmp_path / "link.jpg").symlink_to(tmp_path / "gone.jpg")
    refused(tmp_path / "link.jpg", FileNotFoundError, "broken symbolic link")


@pytest.mark.skipif(ROOT, reason="root reads files whatever their permissions")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.png"
    path.write_bytes(png(np.zeros((4, 4), np.uint8)))
    path.chmod(0)
    refused(path, PermissionError, "permission denied")


def test_unreadable_file_message(tmp_path, monkeypatch):
    def denied(path, mode):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(imageio, "open", denied, raising=False)
    refused(tmp_path / "secret.png", PermissionError,
            "secret.png: permission denied \\(cannot read the file\\)")


def test_the_format_is_told_by_content_not_extension(tmp_path):
    image = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    (tmp_path / "really_a_png.jpg").write_bytes(png(image[..., ::-1]))
    np.testing.assert_array_equal(imageio.imread(tmp_path / "really_a_png.jpg"), image)


def test_grayscale_file_comes_back_rgb(tmp_path):
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8) * 3
    (tmp_path / "g.png").write_bytes(png(gray))
    rgb = imageio.imread(tmp_path / "g.png")
    assert rgb.shape == (8, 8, 3) and rgb.dtype == np.uint8
    for c in range(3):
        np.testing.assert_array_equal(rgb[..., c], gray)
    np.testing.assert_array_equal(imageio.imread(tmp_path / "g.png", grayscale=True), gray)


def test_rgba_drops_alpha_and_keeps_the_colour_in_rgb_order(tmp_path):
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., :3] = (10, 120, 250)
    rgba[..., 3] = [[0, 128, 255], [255, 0, 7]]
    (tmp_path / "a.png").write_bytes(png(rgba[..., [2, 1, 0, 3]]))  # cv2 writes BGRA
    rgb = imageio.imread(tmp_path / "a.png")
    assert rgb.shape == (2, 3, 3)
    np.testing.assert_array_equal(rgb, rgba[..., :3])


def test_16_bit_png_is_scaled_not_cut_clipped_or_wrapped(tmp_path):
    values = np.array([0, 128, 129, 255, 256, 257, 1000, 32767, 32768, 65280, 65407, 65535],
                      np.uint16)
    expected = np.array([0, 0, 1, 1, 1, 1, 4, 127, 128, 254, 255, 255], np.uint8)
    np.testing.assert_array_equal(expected, np.round(values / 65535 * 255).astype(np.uint8))
    rgb16 = np.stack([values, values[::-1], np.full_like(values, 1000)], -1)[None]  # (1, 12, 3)
    (tmp_path / "deep.png").write_bytes(png(rgb16[..., ::-1]))
    assert read_header((tmp_path / "deep.png").read_bytes()).bit_depth == 16
    rgb = imageio.imread(tmp_path / "deep.png")
    assert rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[0, :, 0], expected)
    np.testing.assert_array_equal(rgb[0, :, 1], expected[::-1])
    assert (rgb[0, :, 2] == 4).all()
    (tmp_path / "deep_gray.png").write_bytes(png(values[None]))
    np.testing.assert_array_equal(imageio.imread(tmp_path / "deep_gray.png", True)[0], expected)


def test_a_tiny_image_is_returned(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    imageio.imwrite(tmp_path / "tiny.png", image)
    np.testing.assert_array_equal(imageio.imread(tmp_path / "tiny.png"), image)
    imageio.imwrite(tmp_path / "one.bmp", image[:1, :1])
    np.testing.assert_array_equal(imageio.imread(tmp_path / "one.bmp"), image[:1, :1])


@pytest.mark.parametrize("suffix", [".webp", ".tif", ".tiff"])
def test_webp_and_tiff_are_read_losslessly_as_rgb(tmp_path, suffix):
    image = np.random.default_rng(1).integers(0, 256, (9, 13, 3), dtype=np.uint8)
    params = [cv2.IMWRITE_WEBP_QUALITY, 101] if suffix == ".webp" else []  # 101: lossless
    path = tmp_path / f"photo 照片{suffix}"
    path.write_bytes(cv2.imencode(suffix, image[..., ::-1], params)[1].tobytes())  # BGR file
    assert suffix in imageio.IMAGE_EXTENSIONS
    np.testing.assert_array_equal(imageio.imread(path), image)
    (tmp_path / f"cut{suffix}").write_bytes(path.read_bytes()[:20])
    kind = "WebP" if suffix == ".webp" else "TIFF"
    with pytest.raises(ValueError, match=f"cut{suffix}: cut off or corrupt {kind} "):
        imageio.imread(tmp_path / f"cut{suffix}")


def png_claiming(height, width):
    """A valid 4×4 PNG whose IHDR says ``height`` × ``width`` (its CRC left stale)."""
    data = bytearray(png(np.zeros((4, 4), np.uint8)))
    data[16:24] = struct.pack(">II", width, height)
    return bytes(data)


def jpeg_claiming(height, width):
    """A valid 16×16 JPEG whose start-of-frame segment says ``height`` × ``width``."""
    data = bytearray(jpeg(np.zeros((16, 16, 3), np.uint8)))
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize("name, make", [("huge.png", png_claiming),
                                        ("huge.jpg", jpeg_claiming)])
def test_a_huge_image_is_refused_from_its_header_before_decoding(tmp_path, monkeypatch,
                                                                 name, make):
    (tmp_path / name).write_bytes(make(10_000, 10_000))

    def no_decoding(*args):
        raise AssertionError("decoded a 100-megapixel image")

    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    text = refused(tmp_path / name, ValueError, "image is 10000×10000 \\(100.0 megapixels\\), "
                                                "above minilpr's limit of 50 megapixels")
    assert "MAX_PIXELS" in text


def test_the_pixel_limit_is_inclusive(tmp_path):
    assert imageio.MAX_PIXELS == 50_000_000
    (tmp_path / "edge.png").write_bytes(png_claiming(5_000, 10_000))
    refused(tmp_path / "edge.png", ValueError, "corrupt PNG \\(OpenCV cannot decode")
    (tmp_path / "over.png").write_bytes(png_claiming(5_000, 10_001))
    refused(tmp_path / "over.png", ValueError, "above minilpr's limit")


def test_formats_without_a_parsed_header_are_measured_after_decoding(tmp_path, monkeypatch):
    (tmp_path / "scan.tiff").write_bytes(cv2.imencode(".tiff", np.zeros((16, 16), np.uint8))[1])
    assert imageio.imread(tmp_path / "scan.tiff").shape == (16, 16, 3)
    monkeypatch.setattr(imageio, "MAX_PIXELS", 100)
    refused(tmp_path / "scan.tiff", ValueError, "image is 16×16")


def test_a_header_claiming_no_pixels(tmp_path):
    (tmp_path / "flat.png").write_bytes(png_claiming(0, 7))
    refused(tmp_path / "flat.png", ValueError, "corrupt PNG \\(its header gives a size of 7×0\\)")


def test_truncated_bmp(tmp_path):
    data = cv2.imencode(".bmp", np.zeros((10, 10, 3), np.uint8))[1].tobytes()
    (tmp_path / "cut.bmp").write_bytes(data[:-20])
    refused(tmp_path / "cut.bmp", ValueError, "truncated BMP")


def test_progressive_and_grayscale_jpegs(tmp_path):
    image = np.random.default_rng(1).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    (tmp_path / "p.jpg").write_bytes(data.tobytes())
    header = read_header(data.tobytes())
    assert (header.format, header.height, header.width) == ("jpeg", 40, 56)
    expected = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(imageio.imread(tmp_path / "p.jpg"), expected)
    (tmp_path / "p.jpg").write_bytes(data.tobytes()[:-2])
    refused(tmp_path / "p.jpg", ValueError, "truncated JPEG \\(no end-of-image marker\\)")
    (tmp_path / "g.jpg").write_bytes(jpeg(image[..., 0]))
    rgb = imageio.imread(tmp_path / "g.jpg")
    assert rgb.shape == (40, 56, 3) and (rgb[..., 0] == rgb[..., 2]).all()


def test_bytes_after_the_end_marker_are_allowed(tmp_path):
    image = np.full((16, 16, 3), 90, np.uint8)
    (tmp_path / "tail.jpg").write_bytes(jpeg(image) + b"\x00trailing data" * 200)
    assert imageio.imread(tmp_path / "tail.jpg").shape == (16, 16, 3)


def test_imwrite_refuses_what_is_not_an_image(tmp_path):
    with pytest.raises(ValueError, match="expected .* uint8"):
        imageio.imwrite(tmp_path / "a.png", np.zeros((4, 4), np.float32))
