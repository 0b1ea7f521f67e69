"""PAGE XML reader: namespace versions, polygon boxes, TextEquiv choice, image lookup, skips and errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from sparkhtr.data.datasets import read_dataset
from sparkhtr.data.readers import ReaderWarning, read_pagexml, skip_counts
from sparkhtr.io.image import ImageError
from sparkhtr.layout.line_crop import LINE_PAD

NS_2013 = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15"
NS_2019 = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
PAGE_SIZE = (500, 320)

# Inclusive pixel rectangles (x0, y0, x1, y1) painted on the page, and the polygons that outline them.
RECTS = [(10, 18, 62, 42), (100, 60, 399, 99), (40, 150, 300, 200)]
POLYGONS = [
    "10,20 60,18 62,40 12,42",  # a slanted quadrilateral: its box is (10, 18)-(62, 42)
    "100,60 399,60 399,99 100,99",
    "40,150 300,150 300,200 40,200",
]


def _page_image(path: Path, mode: str = "L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("L", PAGE_SIZE, 255)
    draw = ImageDraw.Draw(image)
    for i, rect in enumerate(RECTS):
        draw.rectangle(rect, fill=40 + 30 * i)
    (image.convert("RGB") if mode == "RGB" else image).save(path)


def _line(line_id: str, points: str, text: str | None, extra: str = "") -> str:
    equiv = "" if text is None else f"<TextEquiv><Unicode>{text}</Unicode></TextEquiv>"
    return f'<TextLine id="{line_id}"><Coords points="{points}"/>{extra}{equiv}</TextLine>'


def _page_xml(path: Path, ns: str | None, image: str, body: str) -> None:
    xmlns = f' xmlns="{ns}"' if ns else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<PcGts{xmlns}><Metadata><Creator>test</Creator></Metadata>'
        f'<Page imageFilename="{image}" imageWidth="{PAGE_SIZE[0]}" imageHeight="{PAGE_SIZE[1]}">{body}</Page>'
        "</PcGts>\n",
        encoding="utf-8",
    )


def _standard_body() -> str:
    region1 = (
        '<TextRegion id="r1"><Coords points="0,0 499,0 499,120 0,120"/>'
        + _line("r1l1", POLYGONS[0], "Ein  erster\nVersuch¬")
        + _line("r1l2", POLYGONS[1], "zweite Zeile")
        + _line("r1l3", "5,5 50,5 50,15 5,15", "")  # empty: skipped
        + "</TextRegion>"
    )
    region2 = (  # a nested region, as in tables and marginalia
        '<TextRegion id="r2"><Coords points="0,140 499,140 499,220 0,220"/>'
        '<TextRegion id="r2a"><Coords points="0,140 499,140 499,220 0,220"/>'
        + _line("r2l1", POLYGONS[2], "dritte &amp; letzte")
        + "</TextRegion></TextRegion>"
    )
    return region1 + region2


@pytest.mark.parametrize("ns", [NS_2013, NS_2019, None], ids=["2013", "2019", "no-namespace"])
def test_lines_boxes_and_texts(tmp_path: Path, ns: str | None) -> None:
    _page_image(tmp_path / "p001.png")
    _page_xml(tmp_path / "page" / "p001.xml", ns, "p001.png", _standard_body())  # image one folder up
    report: list[str] = []
    samples = read_pagexml(tmp_path, report=report)
    assert [s.id for s in samples] == ["p001_r1l1", "p001_r1l2", "p001_r2l1"]
    assert [s.text for s in samples] == ["Ein erster Versuch¬", "zweite Zeile", "dritte & letzte"]
    assert {s.split for s in samples} == {"train"}
    assert samples[0].source == tmp_path / "page" / "p001.xml"
    for i, sample in enumerate(samples):
        x0, y0, x1, y1 = RECTS[i]
        crop = sample.load()  # cut by the polygon: its box, LINE_PAD around it painted with the paper
        assert crop.size == (x1 - x0 + 1 + 2 * LINE_PAD, y1 - y0 + 1 + 2 * LINE_PAD)
        inner = crop.crop((LINE_PAD, LINE_PAD, LINE_PAD + x1 - x0 + 1, LINE_PAD + y1 - y0 + 1))
        assert inner.getextrema() == (40 + 30 * i, 40 + 30 * i)  # exactly the painted rectangle
        assert crop.getextrema() == (40 + 30 * i, 255)
    assert skip_counts(report) == {"empty-text": 1}
    assert report[0].startswith("empty-text: p001_r1l3")


def test_drop_chars_split_and_single_file(tmp_path: Path) -> None:
    _page_image(tmp_path / "p.png")
    _page_xml(tmp_path / "p.xml", NS_2019, "p.png", _standard_body())
    samples = read_pagexml(tmp_path / "p.xml", split="test", drop_chars="¬&")
    assert [s.text for s in samples] == ["Ein erster Versuch", "zweite Zeile", "dritte letzte"]
    assert {s.split for s in samples} == {"test"}
    with pytest.raises(ValueError, match="split"):
        read_pagexml(tmp_path, split="dev")


def test_text_equiv_choice_and_word_fallback(tmp_path: Path) -> None:
    _page_image(tmp_path / "p.png")
    body = (
        '<TextRegion id="r"><TextLine id="a"><Coords points="' + POLYGONS[0] + '"/>'
        '<Word id="w"><Coords points="10,18 30,42"/><TextEquiv><Unicode>word</Unicode></TextEquiv></Word>'
        '<TextEquiv index="1"><Unicode>second choice</Unicode></TextEquiv>'
        '<TextEquiv index="0"><Unicode>first choice</Unicode></TextEquiv></TextLine>'
        '<TextLine id="b"><Coords points="' + POLYGONS[1] + '"/>'
        "<TextEquiv><Unicode>plain first</Unicode></TextEquiv>"
        "<TextEquiv><Unicode>plain second</Unicode></TextEquiv></TextLine>"
        '<TextLine id="c"><Coords points="' + POLYGONS[2] + '"/>'
        "<Word><TextEquiv><Unicode>nur</Unicode></TextEquiv></Word>"
        "<Word><TextEquiv><Unicode>Wörter</Unicode></TextEquiv></Word></TextLine>"
        '<TextLine id="d"><Coords points="1,1 40,1 40,9 1,9"/><TextEquiv><PlainText>plain</PlainText></TextEquiv>'
        "</TextLine></TextRegion>"
    )
    _page_xml(tmp_path / "p.xml", NS_2013, "p.png", body)
    texts = {s.id: s.text for s in read_pagexml(tmp_path)}
    assert texts == {"p_a": "first choice", "p_b": "plain first", "p_c": "nur Wörter", "p_d": "plain"}


def test_page_2009_point_elements_and_missing_ids(tmp_path: Path) -> None:
    _page_image(tmp_path / "old.png")
    points = "".join(f'<Point x="{x}" y="{y}"/>' for x, y in [(100, 60), (399, 60), (399, 99), (100, 99)])
    body = (
        '<TextRegion id="r"><TextLine><Coords>' + points + "</Coords>"
        "<TextEquiv><Unicode>alt</Unicode></TextEquiv></TextLine>"
        "<TextLine><TextEquiv><Unicode>no coords</Unicode></TextEquiv></TextLine></TextRegion>"
    )
    _page_xml(tmp_path / "old.xml", "http://schema.primaresearch.org/PAGE/gts/pagecontent/2009-03-16", "old.png", body)
    report: list[str] = []
    samples = read_pagexml(tmp_path, report=report)
    assert [(s.id, s.text) for s in samples] == [("old_l0", "alt")]
    assert samples[0].load().size == (300 + 2 * LINE_PAD, 40 + 2 * LINE_PAD)
    assert skip_counts(report) == {"bad-box": 1}


def test_image_lookup_url_image_dir_and_stem(tmp_path: Path) -> None:
    images = tmp_path / "scans"
    for name in ("a.png", "b.png", "c.jpg", "d.png"):
        _page_image(images / name, mode="RGB")
    body = '<TextRegion id="r">' + _line("l", POLYGONS[1], "text") + "</TextRegion>"
    _page_xml(tmp_path / "xml" / "a.xml", NS_2019, (images / "a.png").as_uri(), body)  # file:// URL
    _page_xml(tmp_path / "xml" / "b.xml", NS_2019, "C:\\scans\\b.png", body)  # Windows path: found by name
    _page_xml(tmp_path / "xml" / "c.xml", NS_2019, "", body)  # no file name: the image with the XML's stem
    _page_xml(tmp_path / "xml" / "d.xml", NS_2019, "D.PNG", body)  # case differs: found by the name index
    samples = read_pagexml(tmp_path / "xml", image_dir=images)
    assert [s.id for s in samples] == ["a_l", "b_l", "c_l", "d_l"]
    assert samples[3].load.path == images / "d.png"
    _page_image(tmp_path / "layout" / "e.png")
    _page_xml(tmp_path / "layout" / "page" / "e.xml", NS_2019, "E.PNG", body)  # page/ layout, case differs
    assert read_pagexml(tmp_path / "layout" / "page" / "e.xml")[0].load.path == tmp_path / "layout" / "e.png"
    for sample in samples:
        crop = sample.load()
        assert crop.mode == "RGB" and crop.size == (300 + 2 * LINE_PAD, 40 + 2 * LINE_PAD)


def test_missing_image_is_reported_or_raises_naming_it(tmp_path: Path) -> None:
    _page_xml(tmp_path / "p.xml", NS_2013, "gone.png", _standard_body())
    report: list[str] = []
    assert read_pagexml(tmp_path, report=report) == []
    assert skip_counts(report) == {"empty-text": 1, "missing-image": 3}
    assert any(line.startswith("missing-image: p_r1l1") and "gone.png" in line for line in report)
    lazy = read_pagexml(tmp_path, check_images=False)
    assert len(lazy) == 3
    with pytest.raises(ImageError) as info:
        lazy[1].load()
    assert "p_r1l2" in str(info.value) and str(tmp_path / "gone.png") in str(info.value)


def test_unreadable_image_and_box_off_page(tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    _page_xml(tmp_path / "broken.xml", NS_2013, "broken.png", _standard_body())
    _page_image(tmp_path / "ok.png")
    off = '<TextRegion id="r">' + _line("far", "600,400 700,400 700,450 600,450", "far away") + "</TextRegion>"
    _page_xml(tmp_path / "ok.xml", NS_2013, "ok.png", off)
    report: list[str] = []
    assert read_pagexml(tmp_path, report=report) == []
    assert skip_counts(report) == {"bad-image": 3, "empty-text": 1, "bad-box": 1}
    lazy = {s.id: s for s in read_pagexml(tmp_path, check_images=False)}
    with pytest.raises(ImageError, match=r"broken_r1l1.*broken\.png"):
        lazy["broken_r1l1"].load()
    with pytest.raises(ImageError, match="ok_far.*outside"):
        lazy["ok_far"].load()


def test_malformed_and_foreign_xml_do_not_stop_others(tmp_path: Path) -> None:
    _page_image(tmp_path / "p.png")
    _page_xml(tmp_path / "p.xml", NS_2019, "p.png", _standard_body())
    (tmp_path / "broken.xml").write_text("<PcGts><Page imageFilename='p.png'><TextRegion>", encoding="utf-8")
    (tmp_path / "mets.xml").write_text('<mets:mets xmlns:mets="http://www.loc.gov/METS/"/>', encoding="utf-8")
    report: list[str] = []
    with pytest.warns(ReaderWarning, match="broken.xml"):
        samples = read_pagexml(tmp_path, report=report)
    assert len(samples) == 3
    assert skip_counts(report) == {"bad-xml": 1, "not-format": 1, "empty-text": 1}


def test_duplicate_ids_unique_pickle_and_registry(tmp_path: Path) -> None:
    _page_image(tmp_path / "p.png")
    body = '<TextRegion id="r">' + _line("x", POLYGONS[0], "one") + _line("x", POLYGONS[1], "two") + "</TextRegion>"
    _page_xml(tmp_path / "p.xml", NS_2019, "p.png", body)
    samples = read_dataset("page", tmp_path)
    assert [s.id for s in samples] == ["p_x", "p_x#2"]
    clone = pickle.loads(pickle.dumps(samples[1]))
    assert clone.load().size == samples[1].load().size == (300 + 2 * LINE_PAD, 40 + 2 * LINE_PAD)
    with pytest.raises(FileNotFoundError):
        read_pagexml(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no .xml"):
        read_pagexml(tmp_path / "empty")
    with pytest.raises(ValueError, match="unknown dataset kind"):
        read_dataset("hocr", tmp_path)
