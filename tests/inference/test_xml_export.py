"""PAGE XML and ALTO output, read back by sparkhtr's own readers (the round trip users rely on to
correct output and train on it)."""

import shutil

import pytest
from PIL import Image

from sparkhtr import Recognizer
from sparkhtr.cli.main import main
from sparkhtr.data.datasets import open_dataset
from sparkhtr.io.image import PAGE_LIMITS, load_image
from sparkhtr.layout.line_crop import LINE_PAD
from sparkhtr.text.charset import normalize_text


@pytest.fixture(scope="module")
def read_page(make_paragraph, tmp_path_factory):
    """A 4-line paragraph image, what the bundled model read in it, and a folder holding the image."""
    folder = tmp_path_factory.mktemp("xml")
    page, _, _ = make_paragraph(4, 2)
    page.save(folder / "page.png")
    return Recognizer.pretrained(decoder="greedy").recognize_paragraph(folder / "page.png"), folder


@pytest.mark.parametrize("kind", ["page", "alto"])
def test_written_xml_reads_back_as_the_same_lines(read_page, kind, tmp_path, capsys):
    result, folder = read_page
    out = tmp_path / kind
    out.mkdir()
    shutil.copy(folder / "page.png", out / "page.png")
    flag = "--page-xml" if kind == "page" else "--alto"
    args = ["recognize", "--paragraph", "--decoder", "greedy", flag, str(out), str(out / "page.png")]
    assert main(args) == 0
    assert capsys.readouterr().out.rstrip("\n") == result.text
    samples = open_dataset(f"{kind}:{out / 'page.xml'}")
    assert [s.text for s in samples] == [normalize_text(line.result.text) for line in result.lines if line.result.text]
    image = load_image(out / "page.png", PAGE_LIMITS)
    for sample, line in zip(samples, result.lines):
        assert sample.image().tobytes() == line.box.crop(image).tobytes()  # cut by the same polygon, same pixels


def test_alto_words_carry_boxes_inside_their_line(read_page):
    import xml.etree.ElementTree as ET

    from sparkhtr.inference.xml_export import ALTO_NS, alto_xml

    result, folder = read_page
    width, height = Image.open(folder / "page.png").size
    root = ET.fromstring(alto_xml(result, "page.png", width, height))
    lines = root.findall(f".//{{{ALTO_NS}}}TextLine")
    assert len(lines) == len(result.lines)
    for element, line in zip(lines, result.lines):
        words = element.findall(f"{{{ALTO_NS}}}String")
        assert " ".join(w.get("CONTENT") for w in words) == " ".join(line.result.text.split())
        for word in words:
            x, w = int(word.get("HPOS")), int(word.get("WIDTH"))
            assert line.box.x0 <= x and x + w <= line.box.x1 and 0 < float(word.get("WC")) <= 1
        lefts = [int(word.get("HPOS")) for word in words]
        assert lefts == sorted(lefts)


def test_empty_paragraph_writes_a_valid_empty_page(tmp_path):
    from sparkhtr.inference.recognizer import ParagraphResult
    from sparkhtr.inference.xml_export import alto_xml, page_xml

    Image.new("L", (200, 100), 255).save(tmp_path / "blank.png")
    for write, kind in ((page_xml, "page"), (alto_xml, "alto")):
        (tmp_path / "blank.xml").write_text(write(ParagraphResult("blank.png", []), "blank.png", 200, 100), "utf-8")
        assert open_dataset(f"{kind}:{tmp_path / 'blank.xml'}") == []


def test_character_positions_are_placed_in_the_line_box(read_page):
    """Each line is read from a crop that begins LINE_PAD left of its box (less at the page's edge):
    its characters' x ranges are moved by as much, so they stay relative to the box."""
    result, folder = read_page
    image = load_image(folder / "page.png", PAGE_LIMITS)
    recognizer = Recognizer.pretrained(decoder="greedy")
    shifts = []
    for line in result.lines:
        alone = recognizer.recognize(line.box.crop(image))
        shift = line.box.crop_left(image.size) - line.box.x0
        assert -LINE_PAD <= shift <= 0 and alone.text == line.result.text
        assert [c.x0 + shift for c in alone.chars] == pytest.approx([c.x0 for c in line.result.chars])
        shifts.append(shift)
    assert min(shifts) < 0  # some line was moved
