"""Hostile PAGE / ALTO files and the XML writers (issue #21, cases 2 to 4): a bad coordinate skips
its line with a report, never the file or the dataset; written files are always well-formed, read
back by sparkhtr's own readers, and never overwrite each other."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from sparkhtr.cli.main import main
from sparkhtr.data.datasets import open_dataset
from sparkhtr.data.readers import read_alto, read_pagexml, skip_counts
from sparkhtr.inference.recognizer import CharResult, ParagraphLine, ParagraphResult, RecognitionResult
from sparkhtr.inference.xml_export import alto_xml, output_stems, page_xml, xml_safe
from sparkhtr.layout import LineBox
from sparkhtr.layout.line_crop import LINE_PAD

PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"


@pytest.fixture()
def page_dir(make_paragraph, tmp_path) -> tuple[Path, list[tuple[int, int]], list[str], int]:
    """A real page (three Copiste val lines stacked) saved as page.png; its line spans and texts."""
    image, spans, texts = make_paragraph(3, 12)
    image.save(tmp_path / "page.png")
    return tmp_path, spans, texts, image.width


def _page_file(path: Path, lines: list[tuple[str, str, str]]) -> None:
    body = "".join(
        f'<TextLine id="{i}"><Coords points="{points}"/><TextEquiv><Unicode>{text}</Unicode></TextEquiv></TextLine>'
        for i, points, text in lines
    )
    path.write_text(
        f'<PcGts xmlns="{PAGE_NS}"><Page imageFilename="page.png" imageWidth="1" imageHeight="1">'
        f'<TextRegion id="r">{body}</TextRegion></Page></PcGts>',
        "utf-8",
    )


def _rect(x0: int, y0: int, x1: int, y1: int) -> str:
    return f"{x0},{y0} {x1},{y0} {x1},{y1} {x0},{y1}"


@pytest.mark.parametrize("bad", ["1e999", "nan", "-inf", "12px"])
def test_page_bad_coordinate_skips_the_line_and_keeps_the_file(page_dir, bad):
    root, spans, texts, width = page_dir
    (y0, y1), (z0, z1) = spans[0], spans[2]
    lines = [("good", _rect(0, y0, width - 1, y1 - 1), texts[0]), ("bad", f"0,{y0} {bad},{y0} 30,{z1}", "x"),
             ("also", _rect(0, z0, width - 1, z1 - 1), texts[2])]
    _page_file(root / "a.xml", lines)
    _page_file(root / "b.xml", [lines[0]])
    report: list[str] = []
    samples = read_pagexml(root, report=report)
    assert [s.id for s in samples] == ["a_good", "a_also", "b_good"]
    assert skip_counts(report) == {"bad-box": 1} and "a_bad" in report[0] and bad in report[0]
    assert samples[0].image().size == (width, y1 - y0 + 2 * LINE_PAD)  # cut by its polygon, pad clipped at the sides


def test_nan_inside_a_points_list_no_longer_shifts_the_pairs(page_dir):
    """Before: "nan" was not matched, so "10,nan 50,20 ..." paired 10 with 50 and kept a wrong crop."""
    root, spans, texts, width = page_dir
    _page_file(root / "a.xml", [("l", f"10,nan 50,{spans[0][0]} 60,{spans[0][1]} 10,{spans[0][1]}", texts[0])])
    report: list[str] = []
    assert read_pagexml(root, report=report) == []
    assert skip_counts(report) == {"bad-box": 1} and "'nan'" in report[0]


def test_page_2009_points_with_bad_values_are_reported(page_dir):
    root, spans, texts, _ = page_dir
    (root / "a.xml").write_text(
        f'<PcGts xmlns="{PAGE_NS}"><Page imageFilename="page.png"><TextLine id="l"><Coords>'
        '<Point x="0" y="0"/><Point x="inf" y="40"/></Coords><TextEquiv><Unicode>ab</Unicode></TextEquiv>'
        "</TextLine></Page></PcGts>",
        "utf-8",
    )
    report: list[str] = []
    assert read_pagexml(root, report=report) == [] and skip_counts(report) == {"bad-box": 1}


@pytest.mark.parametrize(
    "attributes",
    ['HPOS="0" VPOS="1e999" WIDTH="100" HEIGHT="30"', 'HPOS="nan" VPOS="0" WIDTH="100" HEIGHT="30"',
     'HPOS="1e308" VPOS="0" WIDTH="1e308" HEIGHT="30"'],
)
def test_alto_bad_coordinates_skip_the_line_and_the_dataset_goes_on(page_dir, attributes):
    root, spans, texts, width = page_dir
    y0, y1 = spans[1]
    good = f'HPOS="0" VPOS="{y0}" WIDTH="{width}" HEIGHT="{y1 - y0}"'
    (root / "a.xml").write_text(
        '<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#"><Description><MeasurementUnit>pixel</MeasurementUnit>'
        "<sourceImageInformation><fileName>page.png</fileName></sourceImageInformation></Description>"
        f'<Layout><Page WIDTH="{width}" HEIGHT="9"><PrintSpace><TextBlock>'
        f'<TextLine ID="bad" {attributes}><String CONTENT="x"/></TextLine>'
        f'<TextLine ID="good" {good}><String CONTENT="{texts[1]}"/></TextLine>'
        f'<TextLine ID="poly"><Shape><Polygon POINTS="0 0 nan 5 9 9"/></Shape><String CONTENT="y"/></TextLine>'
        "</TextBlock></PrintSpace></Page></Layout></alto>",
        "utf-8",
    )
    report: list[str] = []
    samples = open_dataset(f"alto:{root}", report=report)  # what `evaluate` and `train` open
    assert [s.id for s in samples] == ["a_good"]
    assert samples[0].image().size == (width, y1 - y0 + 1 + 2 * LINE_PAD)  # its rectangle, cut with the pad
    assert skip_counts(report) == {"bad-box": 2}


def test_alto_infinite_page_size_in_mm10_is_a_bad_box(page_dir):
    root, _, _, _ = page_dir
    (root / "a.xml").write_text(
        "<alto><Description><MeasurementUnit>mm10</MeasurementUnit><sourceImageInformation><fileName>page.png"
        '</fileName></sourceImageInformation></Description><Layout><Page WIDTH="inf" HEIGHT="nan"><PrintSpace>'
        '<TextLine ID="l" HPOS="1" VPOS="1" WIDTH="50" HEIGHT="20"><String CONTENT="ab"/></TextLine>'
        "</PrintSpace></Page></Layout></alto>",
        "utf-8",
    )
    report: list[str] = []
    assert read_alto(root, report=report) == [] and skip_counts(report) == {"bad-box": 1}


def _hostile_result() -> ParagraphResult:
    text = "a\x01b\x0b c\ud800d\ufffe"
    chars = [CharResult(c, 0.9, 3.0 * i, 3.0 * i + 3) for i, c in enumerate(text)]
    line = ParagraphLine(LineBox(0, 5, 60, 40), RecognitionResult(text, float("nan"), chars))
    return ParagraphResult("x", [line])


@pytest.mark.parametrize("write", [page_xml, alto_xml])
def test_writers_replace_what_xml_cannot_hold(write, tmp_path):
    image = Image.new("L", (80, 50), 255)
    image.save(tmp_path / "p\x07q.png")
    xml = write(_hostile_result(), "p\x07q.png", 80, 50)
    ET.fromstring(xml.encode("utf-8"))  # well-formed: a parser accepts it
    assert "\x01" not in xml and "\x07" not in xml and "p\ufffdq.png" in xml and "a\ufffdb\ufffd" in xml
    (tmp_path / "out.xml").write_text(xml, "utf-8")
    reader = read_pagexml if write is page_xml else read_alto
    report: list[str] = []
    reader(tmp_path / "out.xml", report=report, check_images=False)  # sparkhtr's own readers parse it
    assert not any(line.startswith("bad-xml") for line in report)


def test_xml_safe_keeps_what_xml_holds():
    assert xml_safe("tab\there\nnew é 😀") == "tab\there\nnew é 😀"
    assert xml_safe("\x00\x1f\ud834\uffff") == "\ufffd" * 4


def test_output_stems_never_collide():
    names = ["a.png", "sub/a.png", "a.jpg", "A.png", "b.png", "b.png", "c"]
    stems = output_stems(names)
    assert len({s.lower() for s in stems}) == len(stems)
    assert stems[1] == "sub/a" and stems[4] == "b.png" and stems[5] == "b.png~2" and stems[6] == "c"
    assert stems[0] == "a.png" and stems[2] == "a.jpg" and stems[3] == "A.png~2"


def test_cli_writes_one_file_per_image_named_by_its_relative_path(make_paragraph, tmp_path, capsys):
    scans = tmp_path / "scans"
    (scans / "sub").mkdir(parents=True)
    pages = [make_paragraph(2, 14)[0], make_paragraph(3, 10)[0], make_paragraph(2, 30)[0]]
    pages[0].save(scans / "a.png")
    pages[1].convert("RGB").save(scans / "a.jpg", quality=95)
    pages[2].save(scans / "sub" / "a.png")
    weird = scans / "c\x01d.png"
    pages[0].save(weird)
    page_out, alto_out = tmp_path / "page", tmp_path / "alto"
    code = main(["recognize", "--paragraph", "--decoder", "greedy", "--format", "tsv", str(scans),
                 "--page-xml", str(page_out), "--alto", str(alto_out)])
    out = capsys.readouterr().out
    assert code == 0
    expected = {"a.jpg.xml": "a.jpg", "a.png.xml": "a.png", "sub/a.xml": "sub/a.png", "c\x01d.xml": "c\ufffdd.png"}
    for folder in (page_out, alto_out):
        written = {p.relative_to(folder).as_posix() for p in folder.rglob("*.xml")}
        assert written == set(expected)
    for name, image_name in expected.items():
        root = ET.parse(page_out / name).getroot()
        assert root.find(f"{{{PAGE_NS}}}Page").get("imageFilename") == image_name
    assert "c\\x01d" not in out and "\t" in out
    # Read back: each XML finds its own image (sub/a.xml the one under sub/), every line kept.
    samples = read_pagexml(page_out, image_dir=scans)
    by_file = {}
    for sample in samples:
        by_file.setdefault(Path(sample.source).relative_to(page_out).as_posix(), []).append(sample)
    assert len(by_file["sub/a.xml"]) == 2 and len(by_file["a.jpg.xml"]) == 3
    assert by_file["sub/a.xml"][0].load.path == scans / "sub" / "a.png"


def test_cli_tsv_escapes_tabs_and_newlines_in_names(val_lines, tmp_path, capsys):
    odd = tmp_path / "tab\there\nnew.png"
    odd.write_bytes(val_lines[0].read_bytes())
    not_utf8 = tmp_path / os.fsdecode(b"latin\xe9.png")
    not_utf8.write_bytes(val_lines[1].read_bytes())
    assert main(["recognize", "--decoder", "greedy", "--format", "tsv", str(odd), str(not_utf8)]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert len(rows) == 2 and all(len(row.split("\t")) == 4 for row in rows)
    assert rows[0].startswith(str(tmp_path) + "/tab\\there\\nnew.png\t") and "latin\ufffd.png" in rows[1]
    assert main(["recognize", "--decoder", "greedy", "--format", "jsonl", str(not_utf8)]) == 0
    assert "latin\ufffd.png" in capsys.readouterr().out


def test_cli_empty_folder_is_reported_and_the_other_arguments_read(val_lines, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(["recognize", "--decoder", "greedy", str(empty), str(val_lines[0])])
    out, err = capsys.readouterr()
    assert code == 1 and out.strip() and "empty: no image files under this folder" in err
