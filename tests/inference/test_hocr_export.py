"""hOCR output: well-formed XHTML with the hOCR 1.2 classes and properties, every box inside the
page and every word inside its line, the same word boxes as ALTO, and the CLI's --hocr files named
by the same rules as --page-xml and --alto."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from sparkhtr import Recognizer
from sparkhtr.cli.main import main
from sparkhtr.inference.hocr_export import CAPABILITIES, XHTML_NS, hocr
from sparkhtr.inference.recognizer import CharResult, ParagraphLine, ParagraphResult, RecognitionResult
from sparkhtr.inference.xml_export import ALTO_NS, alto_xml
from sparkhtr.layout import LineBox

X = f"{{{XHTML_NS}}}"


def _props(element: etree._Element) -> dict[str, str]:
    """An hOCR title's properties: "bbox 1 2 3 4; x_wconf 90" -> {"bbox": "1 2 3 4", "x_wconf": "90"}
    (a quoted value may hold ';', so split only outside quotes)."""
    parts = re.findall(r'(?:[^;"]|"(?:\\.|[^"\\])*")+', element.get("title", ""))
    return dict(part.strip().split(" ", 1) for part in parts if part.strip())


def _bbox(element: etree._Element) -> tuple[int, ...]:
    return tuple(int(v) for v in _props(element)["bbox"].split())


def _inside(inner: tuple[int, ...], outer: tuple[int, ...]) -> bool:
    return outer[0] <= inner[0] < inner[2] <= outer[2] and outer[1] <= inner[1] < inner[3] <= outer[3]


def _classes(root: etree._Element, name: str) -> list[etree._Element]:
    return root.xpath(f"//*[@class='{name}']")


@pytest.fixture(scope="module")
def paragraph(make_paragraph):
    image, _, _ = make_paragraph(4, 6)
    return image, Recognizer.pretrained(decoder="greedy").recognize_paragraph(image)


def test_hocr_is_xhtml_with_the_required_classes_and_properties(paragraph):
    image, result = paragraph
    root = etree.fromstring(hocr(result, "scans/page.png", image.width, image.height).encode("utf-8"))
    assert root.tag == f"{X}html" and [child.tag for child in root] == [f"{X}head", f"{X}body"]
    meta = {m.get("name"): m.get("content") for m in root.iter(f"{X}meta") if m.get("name")}
    assert meta["ocr-system"].startswith("sparkhtr ") and meta["ocr-capabilities"] == CAPABILITIES
    used = {element.get("class") for element in root.iter() if element.get("class")}
    assert used <= set(CAPABILITIES.split())  # every class used is declared
    (page,) = _classes(root, "ocr_page")
    props = _props(page)
    assert props["image"] == '"scans/page.png"' and _bbox(page) == (0, 0, image.width, image.height)
    lines = _classes(root, "ocr_line")
    assert len(lines) == len(result.lines) and all(line.getparent().get("class") == "ocr_par" for line in lines)
    ids = [element.get("id") for element in root.iter() if element.get("id")]
    assert len(ids) == len(set(ids))  # XHTML ids are unique


def test_every_box_inside_the_page_and_words_inside_their_lines(paragraph):
    image, result = paragraph
    root = etree.fromstring(hocr(result, "page.png", image.width, image.height).encode("utf-8"))
    page_box = (0, 0, image.width, image.height)
    for element in root.xpath("//*[@title]"):
        assert _inside(_bbox(element), page_box), element.get("title")
    for element, line in zip(_classes(root, "ocr_line"), result.lines):
        assert _bbox(element) == tuple(line.box.to_list()) and _inside(_bbox(element), _bbox(element.getparent()))
        slope, offset = (float(v) for v in _props(element)["baseline"].split())
        assert abs(slope) < 0.2 and -(line.box.y1 - line.box.y0) <= offset <= 0  # on the line, above its bottom
        words = element.findall(f"{X}span")
        assert [w.get("class") for w in words] == ["ocrx_word"] * len(words)
        assert " ".join(w.text for w in words) == " ".join(line.result.text.split())
        lefts = []
        for word in words:
            assert _inside(_bbox(word), _bbox(element))
            confidence = int(_props(word)["x_wconf"])
            assert 0 <= confidence <= 100
            lefts.append(_bbox(word)[0])
        assert lefts == sorted(lefts)


def test_hocr_and_alto_place_every_word_alike(paragraph):
    """One computation (word_boxes) feeds both formats: the same boxes, the same confidences."""
    image, result = paragraph
    html = etree.fromstring(hocr(result, "page.png", image.width, image.height).encode("utf-8"))
    alto = etree.fromstring(alto_xml(result, "page.png", image.width, image.height).encode("utf-8"))
    from_hocr = [(w.text, _bbox(w), int(_props(w)["x_wconf"])) for w in _classes(html, "ocrx_word")]
    from_alto = []
    for s in alto.iter(f"{{{ALTO_NS}}}String"):
        x, y, w, h = (int(s.get(k)) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
        from_alto.append((s.get("CONTENT"), (x, y, x + w, y + h), 100 * float(s.get("WC"))))
    assert [word[:2] for word in from_hocr] == [word[:2] for word in from_alto] and len(from_hocr) > 8
    # x_wconf is the confidence in whole percent, WC to 4 decimals: the same number rounded twice
    # (0.94501 is x_wconf 95 and WC 0.9450), so they agree to half a percent.
    assert all(abs(h[2] - a[2]) <= 0.5 + 1e-6 for h, a in zip(from_hocr, from_alto))


def test_control_characters_quotes_and_nan_keep_it_well_formed():
    text = 'a\x01b "q" c\ud800d'
    chars = [CharResult(c, float("nan") if c == "q" else 0.8, 4.0 * k, 4.0 * k + 4) for k, c in enumerate(text)]
    line = ParagraphLine(LineBox(10, 5, 90, 40), RecognitionResult(text, float("nan"), chars))
    blank = ParagraphLine(LineBox(10, 50, 90, 80), RecognitionResult("", 0.0, []))
    xml = hocr(ParagraphResult("x", [line, blank]), 'we"ird;\x07name.png', 100, 100)
    root = etree.fromstring(xml.encode("utf-8"))
    assert _props(_classes(root, "ocr_page")[0])["image"] == '"we\\"ird;\ufffdname.png"'
    words = _classes(root, "ocrx_word")
    assert [w.text for w in words] == ["a\ufffdb", '"q"', "c\ufffdd"] and _props(words[1])["x_wconf"] == "0"
    assert len(_classes(root, "ocr_line")) == 2 and not _classes(root, "ocr_line")[1].findall(f"{X}span")


def test_regions_of_page_lines_become_separate_blocks():
    from sparkhtr.layout import line_from_polygon

    def read(polygon, region):
        (left, _), (right, _), (_, bottom) = polygon[:3]
        box = line_from_polygon(polygon, [(left, bottom - 5), (right, bottom - 3)], region)
        chars = [CharResult("a", 0.9, 0, 5), CharResult("b", 0.9, 5, 9)]
        return ParagraphLine(box, RecognitionResult("ab", 0.9, chars))

    lines = [read([(10, 10), (200, 10), (200, 40), (10, 40)], 0), read([(10, 50), (200, 50), (200, 80), (10, 80)], 0),
             read([(300, 10), (400, 10), (400, 40), (300, 40)], 1)]
    root = etree.fromstring(hocr(ParagraphResult("x", lines), "p.png", 500, 100).encode("utf-8"))
    areas = _classes(root, "ocr_carea")
    assert [len(a.xpath(".//*[@class='ocr_line']")) for a in areas] == [2, 1]
    first, second, third = (line.box for line in lines)
    assert _bbox(areas[0]) == (first.x0, first.y0, second.x1, second.y1) and _bbox(areas[1]) == tuple(third.to_list())
    slope, offset = (float(v) for v in _props(_classes(root, "ocr_line")[0])["baseline"].split())
    # the line finder's own baseline, from (10, 35) to (200, 37), relative to the box's bottom-left corner
    assert slope == pytest.approx(2 / 190, abs=1e-4) and offset == 35 - first.y1


def test_cli_writes_hocr_named_like_the_xml(make_paragraph, tmp_path, capsys):
    scans = tmp_path / "scans"
    (scans / "sub").mkdir(parents=True)
    page = make_paragraph(2, 14)[0]
    page.save(scans / "a.png")
    page.convert("RGB").save(scans / "a.jpg", quality=95)
    page.save(scans / "sub" / "a.png")
    page.save(scans / "c\x01d.png")
    out, alto_out = tmp_path / "hocr", tmp_path / "alto"
    code = main(["recognize", "--paragraph", "--decoder", "greedy", str(scans), "--hocr", str(out),
                 "--alto", str(alto_out)])
    capsys.readouterr()
    assert code == 0
    written = {p.relative_to(out).as_posix() for p in out.rglob("*.hocr")}
    assert written == {"a.png.hocr", "a.jpg.hocr", "sub/a.hocr", "c\x01d.hocr"}
    assert {Path(p).with_suffix(".xml").as_posix() for p in written} == {
        p.relative_to(alto_out).as_posix() for p in alto_out.rglob("*.xml")
    }
    for name, image_name in (("sub/a.hocr", "sub/a.png"), ("c\x01d.hocr", "c\ufffdd.png")):
        root = etree.parse(str(out / name)).getroot()
        assert _props(_classes(root, "ocr_page")[0])["image"] == f'"{image_name}"'
        assert len(_classes(root, "ocr_line")) >= 1


def test_cli_refuses_hocr_without_paragraph(val_lines, tmp_path, capsys):
    assert main(["recognize", str(val_lines[0]), "--hocr", str(tmp_path / "out")]) == 2
    assert "--hocr" in capsys.readouterr().err and not (tmp_path / "out").exists()
