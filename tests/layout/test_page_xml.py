"""PAGE XML and ALTO written from a real page's found lines carry their polygons and baselines,
and sparkhtr's readers cut the same line images back out of them."""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sparkhtr.data.datasets import open_dataset
from sparkhtr.inference.recognizer import CharResult, ParagraphLine, ParagraphResult, RecognitionResult
from sparkhtr.inference.xml_export import alto_xml, page_xml
from sparkhtr.io.image import PAGE_LIMITS, load_image
from sparkhtr.io.xml import descendants
from sparkhtr.layout import find_page_lines
from sparkhtr.layout.geometry import parse_points

PAGE = Path(os.environ["SPARKHTR_SHARED"]) / "data" / "pages_cremma_mss19_fr" / "pages" / (
    "lettre-soeur-marie__01R_P1S3SS2P118_002.jpg"
)


def _read(text: str) -> RecognitionResult:
    chars = [CharResult(c, 0.9, 10.0 * k, 10.0 * (k + 1)) for k, c in enumerate(text)]
    return RecognitionResult(text, 0.9, chars)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("page_xml")
    shutil.copy(PAGE, folder / PAGE.name)
    image = load_image(PAGE, PAGE_LIMITS)
    lines = find_page_lines(image)
    result = ParagraphResult(str(PAGE), [ParagraphLine(line, _read(f"ligne {k}")) for k, line in enumerate(lines)])
    for kind, write in (("page", page_xml), ("alto", alto_xml)):
        (folder / kind).mkdir()
        shutil.copy(PAGE, folder / kind / PAGE.name)
        (folder / kind / f"{PAGE.stem}.xml").write_text(write(result, PAGE.name, image.width, image.height))
    return folder, image, lines


@pytest.mark.parametrize("kind", ["page", "alto"])
def test_readers_cut_the_same_lines_back(written, kind):
    folder, image, lines = written
    samples = open_dataset(f"{kind}:{folder / kind / (PAGE.stem + '.xml')}")
    assert [s.text for s in samples] == [f"ligne {k}" for k in range(len(lines))]
    for sample, line in zip(samples, lines):
        assert sample.image().tobytes() == line.crop(image).tobytes()  # the same pixels: cut by the same polygon


def test_polygons_and_baselines_are_written(written):
    folder, _, lines = written
    page_root = ET.parse(folder / "page" / f"{PAGE.stem}.xml").getroot()
    coords = [c for line in descendants(page_root, "TextLine") for c in line if c.tag.endswith("Coords")]
    baselines = list(descendants(page_root, "Baseline"))
    assert [tuple(map(round, p)) for p in parse_points(coords[0].attrib["points"])] == list(lines[0].polygon)
    assert len(baselines) == len(lines)
    alto_root = ET.parse(folder / "alto" / f"{PAGE.stem}.xml").getroot()
    alto_lines = list(descendants(alto_root, "TextLine"))
    polygon = next(descendants(alto_lines[1], "Polygon")).attrib["POINTS"]
    assert [tuple(map(round, p)) for p in parse_points(polygon)] == list(lines[1].polygon)
    assert [tuple(map(round, p)) for p in parse_points(alto_lines[1].attrib["BASELINE"])] == list(lines[1].baseline)
