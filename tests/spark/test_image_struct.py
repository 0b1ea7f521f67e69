"""The image struct conversions, without Spark: every layout both ways, and every way a struct can be wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sparkhtr.io.image import ImageError, ImageLimits, load_image
from sparkhtr.spark.image_struct import ImageType, encode_image, invalid_image, struct_to_image


@pytest.fixture()
def rgb_image() -> Image.Image:
    rng = np.random.default_rng(1)
    return Image.fromarray(rng.integers(0, 256, (7, 11, 3), dtype=np.uint8), "RGB")


def test_bgr_struct_holds_the_pixels_in_bgr_order(rgb_image: Image.Image) -> None:
    struct = encode_image(rgb_image, "file:/x.png", ImageType.TYPE_3BYTE_BGR)
    assert (struct["height"], struct["width"], struct["nChannels"], struct["mode"]) == (7, 11, 3, 5)
    assert struct["data"] == np.asarray(rgb_image)[:, :, ::-1].tobytes()
    assert np.array_equal(np.asarray(struct_to_image(struct)), np.asarray(rgb_image))


def test_abgr_struct_is_opaque_and_round_trips(rgb_image: Image.Image) -> None:
    struct = encode_image(rgb_image, None, ImageType.TYPE_4BYTE_ABGR)
    pixels = np.frombuffer(struct["data"], np.uint8).reshape(7, 11, 4)
    assert struct["mode"] == 6 and struct["nChannels"] == 4
    assert (pixels[:, :, 0] == 255).all()
    assert np.array_equal(pixels[:, :, 1:], np.asarray(rgb_image)[:, :, ::-1])
    assert np.array_equal(np.asarray(struct_to_image(struct)), np.asarray(rgb_image))


def test_gray_and_binary_structs(rgb_image: Image.Image) -> None:
    gray = np.asarray(rgb_image.convert("L"))
    struct = encode_image(rgb_image, None, ImageType.TYPE_BYTE_GRAY)
    assert (struct["mode"], struct["nChannels"], struct["data"]) == (10, 1, gray.tobytes())
    assert np.array_equal(np.asarray(struct_to_image(struct)), gray)
    binary = encode_image(rgb_image, None, ImageType.TYPE_BYTE_BINARY)
    assert binary["mode"] == 12
    assert set(np.frombuffer(binary["data"], np.uint8)) <= {0, 255}
    assert np.array_equal(np.asarray(struct_to_image(binary)), np.where(gray >= 128, 255, 0))


def test_packed_binary_data_is_unpacked() -> None:
    bits = np.array([[1, 0, 1, 1, 0, 0, 0, 0, 1, 1], [0, 1, 0, 0, 1, 1, 1, 1, 0, 0]], dtype=np.uint8)
    packed = np.packbits(bits, axis=1).tobytes()  # 2 bytes per 10-pixel row
    struct = {"origin": "o", "height": 2, "width": 10, "nChannels": 1, "mode": 12, "data": packed}
    assert np.array_equal(np.asarray(struct_to_image(struct)), bits * 255)


def test_spark_image_source_modes_are_read_as_bgr(rgb_image: Image.Image) -> None:
    """Spark's image source: OpenCV types 0 / 16 / 24, BGR(A) order, no resolution field."""
    rgb = np.asarray(rgb_image)
    bgr = {"origin": "file:///x.png", "height": 7, "width": 11, "nChannels": 3, "mode": 16,
           "data": rgb[:, :, ::-1].tobytes()}
    assert np.array_equal(np.asarray(struct_to_image(bgr)), rgb)
    bgra = np.concatenate([rgb[:, :, ::-1], np.full((7, 11, 1), 255, np.uint8)], axis=2)
    assert np.array_equal(np.asarray(struct_to_image({**bgr, "nChannels": 4, "mode": 24, "data": bgra.tobytes()})), rgb)
    gray = np.asarray(rgb_image.convert("L"))
    assert np.array_equal(np.asarray(struct_to_image({**bgr, "nChannels": 1, "mode": 0, "data": gray.tobytes()})), gray)


def test_transparent_pixels_become_white_paper() -> None:
    bgra = np.zeros((3, 4, 4), np.uint8)  # black, fully transparent
    struct = {"origin": "o", "height": 3, "width": 4, "nChannels": 4, "mode": 24, "data": bgra.tobytes()}
    assert (np.asarray(struct_to_image(struct)) == 255).all()


def test_resolution_comes_from_the_file(tmp_path: Path, rgb_image: Image.Image) -> None:
    rgb_image.save(tmp_path / "dpi.png", dpi=(300, 300))
    struct = encode_image(load_image(tmp_path / "dpi.png"), "o", ImageType.TYPE_3BYTE_BGR)
    assert struct["resolution"] == 300
    assert encode_image(rgb_image, "o", ImageType.TYPE_3BYTE_BGR)["resolution"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mode": -1, "data": None}, "no image data"),
        ({"data": b""}, "no image data"),
        ({"mode": 99}, "unsupported image mode 99"),
        ({"nChannels": 1}, "needs 3 channels"),
        ({"data": b"\0" * 10}, "expected 7x11x3"),
        ({"height": 70_000, "width": 1_000}, "pixel limit"),
    ],
)
def test_bad_structs_raise_an_error_naming_the_origin(rgb_image: Image.Image, change: dict, message: str) -> None:
    struct = {**encode_image(rgb_image, "file:/scans/p1.png", ImageType.TYPE_3BYTE_BGR), **change}
    with pytest.raises(ImageError, match=message) as info:
        struct_to_image(struct, ImageLimits(max_pixels=50_000_000))
    assert str(info.value).startswith("file:/scans/p1.png: ")


def test_invalid_struct_and_null_row() -> None:
    with pytest.raises(ImageError, match="file:/a.png: no image data"):
        struct_to_image(invalid_image("file:/a.png"))
    with pytest.raises(ImageError, match="no image in this row"):
        struct_to_image(None)


@pytest.mark.parametrize("mode", [ImageType.TYPE_3BYTE_BGR, ImageType.TYPE_4BYTE_ABGR, 16, 24])
def test_gray_pages_take_the_short_way_with_the_same_pixels(rgb_image: Image.Image, mode: int) -> None:
    """A gray page goes into a BGR struct without an RGB copy, and ``prefer_gray`` reads a struct
    whose channels are equal back as "L": the pixels the recognizer's RGB->L conversion would give."""
    gray = rgb_image.convert("L")
    struct = encode_image(gray, "o", ImageType.TYPE_3BYTE_BGR)
    assert struct["data"] == np.asarray(gray.convert("RGB"))[:, :, ::-1].tobytes()
    planes = np.frombuffer(struct["data"], np.uint8).reshape(7, 11, 3)
    if mode in (ImageType.TYPE_4BYTE_ABGR, 24):  # an opaque alpha channel, first (ABGR) or last (BGRA)
        alpha = np.full((7, 11, 1), 255, np.uint8)
        planes = np.concatenate([alpha, planes] if mode == ImageType.TYPE_4BYTE_ABGR else [planes, alpha], axis=2)
    struct = {**struct, "mode": int(mode), "nChannels": planes.shape[2], "data": planes.tobytes()}
    read = struct_to_image(struct, prefer_gray=True)
    assert read.mode == "L" and np.array_equal(np.asarray(read), np.asarray(gray))
    assert np.array_equal(np.asarray(struct_to_image(struct).convert("L")), np.asarray(gray))


def test_prefer_gray_keeps_color_and_transparency(rgb_image: Image.Image) -> None:
    struct = encode_image(rgb_image, "o", ImageType.TYPE_3BYTE_BGR)
    assert struct_to_image(struct, prefer_gray=True).mode == "RGB"  # channels differ: color kept
    bgra = np.zeros((3, 4, 4), np.uint8)  # equal color channels, but transparent: composited as before
    struct = {"origin": "o", "height": 3, "width": 4, "nChannels": 4, "mode": 24, "data": bgra.tobytes()}
    assert (np.asarray(struct_to_image(struct, prefer_gray=True)) == 255).all()
