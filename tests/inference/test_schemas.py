"""PAGE XML and ALTO output validated against the published schemas (PAGE 2019-07-15, ALTO 4.4,
vendored in tests/fixtures/schemas with their sources): real recognized paragraphs, a real page's
found lines with polygons and baselines, empty and hostile results. Valid files are what
Transkribus, eScriptorium and OCR-D accept without repair."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from lxml import etree

from sparkhtr import Recognizer
from sparkhtr.inference.recognizer import CharResult, ParagraphLine, ParagraphResult, RecognitionResult
from sparkhtr.inference.xml_export import ALTO_NS, PAGE_NS, alto_xml, baseline, page_xml
from sparkhtr.io.image import PAGE_LIMITS, load_image
from sparkhtr.layout import LineBox, find_lines, find_page_lines
from sparkhtr.layout.lines import _ink_mask

SCHEMAS = Path(__file__).resolve().parents[1] / "fixtures" / "schemas"
XLINK_URL = "http://www.loc.gov/standards/xlink/xlink.xsd"  # what alto-4-4.xsd imports


class _LocalXlink(etree.Resolver):
    """ALTO imports LoC's xlink.xsd by URL; tests have no network, so it is read from the vendored copy."""

    def resolve(self, url, pubid, context):
        if url == XLINK_URL:
            return self.resolve_filename(str(SCHEMAS / "xlink.xsd"), context)
        return None


@pytest.fixture(scope="module")
def schemas() -> dict[str, etree.XMLSchema]:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalXlink())
    return {
        "page": etree.XMLSchema(etree.parse(str(SCHEMAS / "pagecontent.xsd"), parser)),
        "alto": etree.XMLSchema(etree.parse(str(SCHEMAS / "alto-4-4.xsd"), parser)),
    }


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer.pretrained(decoder="greedy")


@pytest.fixture(scope="module")
def paragraph(make_paragraph, recognizer):
    """A 4-line paragraph image of real Copiste lines and what the bundled model read in it."""
    image, _, _ = make_paragraph(4, 6)
    return image, recognizer.recognize_paragraph(image)


def _assert_valid(schema: etree.XMLSchema, xml: str) -> etree._Element:
    root = etree.fromstring(xml.encode("utf-8"))
    if not schema.validate(root):
        pytest.fail("\n".join(str(error) for error in schema.error_log))
    return root


@pytest.mark.parametrize("kind", ["page", "alto"])
def test_recognized_paragraph_is_valid(schemas, paragraph, kind):
    image, result = paragraph
    assert len(result.lines) == 4 and all(line.result.text for line in result.lines)
    write = page_xml if kind == "page" else alto_xml
    _assert_valid(schemas[kind], write(result, "page.png", image.width, image.height))


def _hostile(result: ParagraphResult) -> ParagraphResult:
    """``result`` with control characters, a lone surrogate, U+FFFF and a NaN confidence in one
    line's text, and a line read as nothing (a blank strip): the cases writers must still keep valid."""
    first = result.lines[0]
    text = "a\x01b\x0b c\ud800d\uffff"
    step = (first.box.x1 - first.box.x0) / len(text)
    chars = [CharResult(c, 0.9, k * step, (k + 1) * step) for k, c in enumerate(text)]
    odd = ParagraphLine(first.box, RecognitionResult(text, float("nan"), chars))
    blank = ParagraphLine(result.lines[-1].box, RecognitionResult("", 0.0, [], note="nothing readable"))
    return ParagraphResult(result.source, [odd, *result.lines[1:-1], blank])


@pytest.mark.parametrize("kind", ["page", "alto"])
def test_control_characters_and_empty_lines_stay_valid(schemas, paragraph, kind):
    image, result = paragraph
    write = page_xml if kind == "page" else alto_xml
    root = _assert_valid(schemas[kind], write(_hostile(result), "p\x07q\x00.png", image.width, image.height))
    text = etree.tostring(root, encoding="unicode")
    assert "p\ufffdq\ufffd.png" in text and "a\ufffdb\ufffd" in text


@pytest.mark.parametrize("kind", ["page", "alto"])
def test_empty_paragraph_is_valid(schemas, kind):
    write = page_xml if kind == "page" else alto_xml
    _assert_valid(schemas[kind], write(ParagraphResult("blank.png", []), "blank.png", 200, 100))


def test_page_baselines_follow_each_lines_lower_ink_edge(schemas, make_paragraph, recognizer):
    """A find_lines box (no baseline of its own) gets a level baseline on its lowest ink row: ink on
    that row, none below it in the box (lines 30 px apart, so no box reaches its neighbour's ink)."""
    image, _, _ = make_paragraph(3, 30)
    boxes = find_lines(image)
    result = ParagraphResult("page.png", [ParagraphLine(b, r) for b, r in zip(boxes, recognizer.recognize(
        [box.crop(image) for box in boxes]))])
    root = _assert_valid(schemas["page"], page_xml(result, "page.png", image.width, image.height))
    ink = _ink_mask(np.asarray(image.convert("L")))
    lines = root.findall(f".//{{{PAGE_NS}}}TextLine")
    assert len(lines) == len(result.lines)
    for element, line in zip(lines, result.lines):
        points = [tuple(map(int, p.split(","))) for p in element.find(f"{{{PAGE_NS}}}Baseline").get("points").split()]
        box = line.box
        assert points == list(baseline(box)) and points[0][0] == box.x0 and points[-1][0] == box.x1 - 1
        y = points[0][1]
        assert points[0][1] == points[-1][1] and box.y0 <= y < box.y1
        assert ink[y, box.x0 : box.x1].any() and not ink[y + 1 : box.y1, box.x0 : box.x1].any()


@pytest.fixture(scope="module")
def page_lines(recognizer):
    """The first four lines find_page_lines finds on a real CREMMA page, read by the bundled model."""
    path = Path(os.environ["SPARKHTR_SHARED"]) / "data" / "pages_cremma_mss19_fr" / "pages" / (
        "lettre-soeur-marie__01R_P1S3SS2P118_002.jpg"
    )
    image = load_image(path, PAGE_LIMITS)
    lines = find_page_lines(image)[:4]
    read = recognizer.recognize([line.crop(image) for line in lines])
    return image, ParagraphResult(str(path), [ParagraphLine(box, r) for box, r in zip(lines, read)])


@pytest.mark.parametrize("kind", ["page", "alto"])
def test_page_lines_with_polygons_and_baselines_are_valid(schemas, page_lines, kind):
    image, result = page_lines
    write = page_xml if kind == "page" else alto_xml
    root = _assert_valid(schemas[kind], write(result, "page.jpg", image.width, image.height))
    if kind == "page":
        written = [b.get("points") for b in root.iter(f"{{{PAGE_NS}}}Baseline")]
        assert written == [" ".join(f"{x},{y}" for x, y in line.box.baseline) for line in result.lines]
    else:
        written = [t.get("BASELINE") for t in root.iter(f"{{{ALTO_NS}}}TextLine")]
        assert written == [" ".join(f"{x} {y}" for x, y in line.box.baseline) for line in result.lines]


def test_schema_rejects_what_it_should(schemas):
    """The vendored schemas really constrain: a TextLine without a String, or a baseline point with a
    negative coordinate, is refused (so a passing test means something)."""
    line = ParagraphLine(LineBox(0, 0, 50, 20), RecognitionResult("ab", 0.9, [CharResult("a", 0.9, 0, 9)]))
    alto = alto_xml(ParagraphResult("x", [line]), "x.png", 50, 20).replace("<String ", "<Foo ")
    assert not schemas["alto"].validate(etree.fromstring(alto.encode()))
    page = page_xml(ParagraphResult("x", [line]), "x.png", 50, 20).replace('points="0,15', 'points="-1,15')
    assert not schemas["page"].validate(etree.fromstring(page.encode()))
