"""ALTO reader: v2/v4/no namespace, polygon vs HPOS box, String/SP/HYP text, units, image lookup, skips, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from sparkhtr.data.datasets import read_dataset
from sparkhtr.data.readers import ReaderWarning, read_alto, skip_counts
from sparkhtr.io.image import ImageError
from sparkhtr.layout.line_crop import LINE_PAD

NS_V2 = "http://www.loc.gov/standards/alto/ns-v2#"
NS_V4 = "http://www.loc.gov/standards/alto/ns-v4#"
PAGE_SIZE = (600, 400)
# Painted rectangles: (left, top, right, bottom), right/bottom exclusive.
BOXES = [(50, 40, 450, 90), (30, 120, 330, 170), (60, 220, 560, 260)]


def _page_image(path: Path, size: tuple[int, int] = PAGE_SIZE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    sx, sy = size[0] / PAGE_SIZE[0], size[1] / PAGE_SIZE[1]
    for i, (left, top, right, bottom) in enumerate(BOXES):
        draw.rectangle([left * sx, top * sy, right * sx - 1, bottom * sy - 1], fill=50 + 40 * i)
    image.save(path)


def _alto(path: Path, ns: str | None, lines: str, filename: str | None = "page.png", unit: str = "pixel") -> None:
    xmlns = f' xmlns="{ns}"' if ns else ""
    source = f"<sourceImageInformation><fileName>{filename}</fileName></sourceImageInformation>" if filename else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<alto{xmlns} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<Description><MeasurementUnit>{unit}</MeasurementUnit>{source}</Description>"
        f'<Layout><Page ID="p1" WIDTH="{PAGE_SIZE[0]}" HEIGHT="{PAGE_SIZE[1]}" PHYSICAL_IMG_NR="1">'
        f'<PrintSpace HPOS="0" VPOS="0" WIDTH="{PAGE_SIZE[0]}" HEIGHT="{PAGE_SIZE[1]}">'
        f'<TextBlock ID="b1">{lines}</TextBlock></PrintSpace></Page></Layout></alto>\n',
        encoding="utf-8",
    )


def _box_attrs(box: tuple[float, float, float, float]) -> str:
    left, top, right, bottom = box
    return f'HPOS="{left:g}" VPOS="{top:g}" WIDTH="{right - left:g}" HEIGHT="{bottom - top:g}"'


LINES = (
    # Line 1: HPOS/VPOS box, words with SP between them and a hyphenated word at the end.
    f'<TextLine ID="l1" {_box_attrs(BOXES[0])}>'
    '<String CONTENT="Dear" HPOS="50" VPOS="40" WIDTH="60" HEIGHT="50"/><SP WIDTH="10"/>'
    '<String CONTENT="Sir," HPOS="120" VPOS="40" WIDTH="60" HEIGHT="50"/><SP/>'
    '<String CONTENT="respect" SUBS_TYPE="HypPart1" SUBS_CONTENT="respectfully"/><HYP CONTENT="-"/></TextLine>'
    # Line 2: a polygon (in "x,y" pairs) and a box that disagrees with it: the polygon wins.
    '<TextLine ID="l2" HPOS="0" VPOS="0" WIDTH="10" HEIGHT="10">'
    '<Shape><Polygon POINTS="30,125 329,120 325,169 31,165"/></Shape>'
    '<String CONTENT="fully"/><String CONTENT="yours"/></TextLine>'
    # Line 3: a polygon in "x y x y" form; no String elements, the line's own CONTENT.
    '<TextLine ID="l3" CONTENT="  own   content ">'
    '<Shape><Polygon POINTS="60 220 559 220 559 259 60 259"/></Shape></TextLine>'
    # Line 4: no text at all -> skipped.
    f'<TextLine ID="l4" {_box_attrs((10, 300, 100, 330))}><String CONTENT=""/></TextLine>'
)


@pytest.mark.parametrize("ns", [NS_V2, NS_V4, None], ids=["v2", "v4", "no-namespace"])
def test_lines_texts_and_crops(tmp_path: Path, ns: str | None) -> None:
    _page_image(tmp_path / "page.png")
    _alto(tmp_path / "page.xml", ns, LINES)
    report: list[str] = []
    samples = read_alto(tmp_path, report=report)
    assert [s.id for s in samples] == ["page_l1", "page_l2", "page_l3"]
    assert [s.text for s in samples] == ["Dear Sir, respect-", "fully yours", "own content"]
    assert {s.split for s in samples} == {"train"}
    assert samples[0].source == tmp_path / "page.xml"
    for i, sample in enumerate(samples):
        left, top, right, bottom = BOXES[i]
        # Every line is cut by its outline with LINE_PAD around it; line 1's outline is its HPOS/VPOS
        # rectangle, whose corners count as pixels (one more column and row than WIDTH and HEIGHT).
        extra = 1 if i == 0 else 0
        crop = sample.load()
        assert crop.size == (right - left + extra + 2 * LINE_PAD, bottom - top + extra + 2 * LINE_PAD)
        inner = crop.crop((LINE_PAD, LINE_PAD, LINE_PAD + right - left, LINE_PAD + bottom - top))
        assert inner.getextrema() == (50 + 40 * i, 50 + 40 * i)  # exactly the painted box
        assert crop.getextrema() == (50 + 40 * i, 255)  # and the paper around it
    assert skip_counts(report) == {"empty-text": 1}
    assert report[0].startswith("empty-text: page_l4")


def test_mm10_units_are_scaled_to_the_image(tmp_path: Path) -> None:
    _page_image(tmp_path / "scan.png", size=(1200, 800))  # the image is twice the Page WIDTH/HEIGHT
    _alto(tmp_path / "scan.xml", NS_V4, LINES, filename="scan.png", unit="mm10")
    samples = read_alto(tmp_path / "scan.xml")
    left, top, right, bottom = BOXES[0]
    crop = samples[0].load()
    assert crop.size == (2 * (right - left) + 1 + 2 * LINE_PAD, 2 * (bottom - top) + 1 + 2 * LINE_PAD)
    inner = (LINE_PAD, LINE_PAD, LINE_PAD + 2 * (right - left), LINE_PAD + 2 * (bottom - top))
    assert crop.crop(inner).getextrema() == (50, 50)
    # A polygon's points are scaled too: x 30..329 and y 120..169 become 60..658 and 240..338.
    assert samples[1].load().size == (658 - 60 + 1 + 2 * LINE_PAD, 338 - 240 + 1 + 2 * LINE_PAD)


def test_image_lookup_drop_chars_and_split(tmp_path: Path) -> None:
    images = tmp_path / "images"
    _page_image(images / "a.png")
    _page_image(tmp_path / "alto" / "b.png")
    hyphen = f'<TextLine ID="x" {_box_attrs(BOXES[0])}><String CONTENT="Ver"/><HYP CONTENT="¬"/></TextLine>'
    _alto(tmp_path / "alto" / "a.xml", NS_V4, hyphen, filename=str(images / "a.png"))  # absolute path
    _alto(tmp_path / "alto" / "b.xml", NS_V2, hyphen, filename=None)  # no fileName: the image with the stem
    samples = read_dataset("alto", tmp_path / "alto", split="val", drop_chars="¬")
    assert [(s.id, s.text, s.split) for s in samples] == [("a_x", "Ver", "val"), ("b_x", "Ver", "val")]
    assert all(s.load().size == (401 + 2 * LINE_PAD, 51 + 2 * LINE_PAD) for s in samples)  # BOXES[0], cut with its pad
    with pytest.raises(ValueError, match="split"):
        read_alto(tmp_path / "alto", split="training")


def test_missing_image_reported_or_raises_naming_it(tmp_path: Path) -> None:
    _alto(tmp_path / "page.xml", NS_V4, LINES, filename="missing.tif")
    report: list[str] = []
    assert read_alto(tmp_path, report=report) == []
    assert skip_counts(report) == {"missing-image": 3, "empty-text": 1}
    lazy = read_alto(tmp_path, check_images=False)
    with pytest.raises(ImageError) as info:
        lazy[0].load()
    assert "page_l1" in str(info.value) and str(tmp_path / "missing.tif") in str(info.value)


def test_bad_boxes_and_units_without_page_size(tmp_path: Path) -> None:
    _page_image(tmp_path / "page.png")
    lines = (
        '<TextLine ID="nobox"><String CONTENT="no box"/></TextLine>'
        f'<TextLine ID="off" {_box_attrs((700, 500, 800, 550))}><String CONTENT="off page"/></TextLine>'
        f'<TextLine ID="ok" {_box_attrs(BOXES[1])}><String CONTENT="fine"/></TextLine>'
    )
    _alto(tmp_path / "page.xml", NS_V4, lines)
    report: list[str] = []
    assert [s.text for s in read_alto(tmp_path, report=report)] == ["fine"]
    assert skip_counts(report) == {"bad-box": 2}
    # inch1200 without Page WIDTH/HEIGHT cannot be mapped to pixels.
    xml = tmp_path / "page.xml"
    xml.write_text(
        xml.read_text(encoding="utf-8").replace("pixel", "inch1200").replace(f'WIDTH="{PAGE_SIZE[0]}" HEIGHT', "X"),
        encoding="utf-8",
    )
    report = []
    assert read_alto(tmp_path, report=report) == []
    assert skip_counts(report) == {"bad-box": 3}


def test_malformed_and_foreign_files_do_not_stop_others(tmp_path: Path) -> None:
    _page_image(tmp_path / "page.png")
    _alto(tmp_path / "page.xml", NS_V4, LINES)
    (tmp_path / "cut.xml").write_text(f'<alto xmlns="{NS_V4}"><Layout><Page>', encoding="utf-8")
    (tmp_path / "page_2019.xml").write_text(
        '<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"/>', encoding="utf-8"
    )
    report: list[str] = []
    with pytest.warns(ReaderWarning, match="cut.xml"):
        samples = read_alto(tmp_path, report=report)
    assert len(samples) == 3
    assert skip_counts(report) == {"bad-xml": 1, "not-format": 1, "empty-text": 1}


def test_an_outline_off_the_page_is_an_image_error_naming_the_line(tmp_path: Path) -> None:
    """A box that lands on the page while its scaled outline does not (a wrong Page WIDTH/HEIGHT)."""
    from sparkhtr.data.readers.line_images import PageCrop

    _page_image(tmp_path / "page.png")
    crop = PageCrop(tmp_path / "page.png", (0.0, 0.0, 120.0, 1.0), "page_l9", (20.0, 20.0),
                    ((110.0, 0.2), (119.0, 0.2), (119.0, 0.5)))
    with pytest.raises(ImageError, match="page_l9.*outside"):
        crop()
