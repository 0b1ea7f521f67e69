import io

import numpy as np
import pytest
from PIL import Image

from sparkhtr.io.image import ImageError, ImageLimits, load_image


def _encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture
def line(val_lines):
    return Image.open(val_lines[0])


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "CMYK", "1", "LA", "I;16", "I"])
def test_every_pillow_mode_becomes_8bit_gray_or_rgb(line, mode):
    converted = line.convert(mode) if mode != "I;16" else Image.fromarray(np.asarray(line).astype(np.uint16) * 257)
    image = load_image(_encode(converted, "TIFF" if mode in ("CMYK", "I") else "PNG"))
    assert image.mode in ("L", "RGB")
    assert image.size == line.size
    gray = np.asarray(image.convert("L"), dtype=np.int16)
    assert np.abs(gray - np.asarray(line, dtype=np.int16)).mean() < 3 or mode == "1"


def test_transparent_background_becomes_white():
    rgba = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    rgba.putpixel((5, 5), (0, 0, 0, 255))
    image = load_image(rgba)
    assert image.getpixel((0, 0)) in (255, (255, 255, 255))
    assert image.getpixel((5, 5)) in (0, (0, 0, 0))


def test_exif_rotation_is_applied(line):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    data = _encode(line.convert("RGB"), "JPEG", exif=exif)
    assert load_image(data).size == (line.height, line.width)


def test_paths_arrays_and_bytes_agree(val_lines):
    from_path = np.asarray(load_image(val_lines[0]))
    assert np.array_equal(np.asarray(load_image(val_lines[0].read_bytes())), from_path)
    assert np.array_equal(np.asarray(load_image(from_path)), from_path)
    assert np.array_equal(np.asarray(load_image(from_path.astype(np.float32) / 255)), from_path)


@pytest.mark.parametrize(
    "source, message",
    [(b"", "empty file"), (b"definitely not an image", "not a readable image"), ("/no/such/file.png", "no such file")],
)
def test_bad_input_names_itself(source, message):
    with pytest.raises(ImageError, match=message):
        load_image(source, name="row-7" if isinstance(source, bytes) else None)


def test_truncated_png_is_reported(line):
    data = _encode(line)
    with pytest.raises(ImageError, match="cannot decode"):
        load_image(data[: len(data) // 2], name="half.png")


def test_size_limits():
    with pytest.raises(ImageError, match="too small"):
        load_image(Image.new("L", (1, 1)), name="dot.png")
    with pytest.raises(ImageError, match="over the 1,000-pixel limit"):
        load_image(Image.new("L", (100, 20)), ImageLimits(max_pixels=1000), name="big.png")
