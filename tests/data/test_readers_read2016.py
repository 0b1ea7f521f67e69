"""READ 2016 reader on a miniature of the ICFHR 2016 release: split folders, page/ XML, JPEG pages, ``¬`` marks."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from sparkhtr.data.datasets import read_dataset
from sparkhtr.data.readers import read_read2016, skip_counts
from sparkhtr.data.readers.read2016 import split_from_folder
from sparkhtr.io.image import ImageError
from sparkhtr.layout.line_crop import LINE_PAD

NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15"
PAGE_SIZE = (640, 480)


def _page(folder: Path, name: str, lines: list[tuple[str, str, str]]) -> None:
    """An RGB JPEG page ``folder/name.JPG`` and its PAGE file ``folder/page/name.xml``; lines: (id, points, text)."""
    folder.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", PAGE_SIZE, (236, 226, 200))
    draw = ImageDraw.Draw(image)
    for n in range(6):
        draw.rectangle([30, 30 + 60 * n, 600, 60 + 60 * n], fill=(60, 40, 20))
    image.save(folder / f"{name}.JPG", quality=90)
    text_lines = "".join(
        f'<TextLine id="{line_id}" custom="readingOrder {{index:{i};}}"><Coords points="{points}"/>'
        f'<Baseline points="{points.split()[0]}"/>'
        f"<TextEquiv><Unicode>{text}</Unicode></TextEquiv></TextLine>"
        for i, (line_id, points, text) in enumerate(lines)
    )
    (folder / "page").mkdir(exist_ok=True)
    (folder / "page" / f"{name}.xml").write_text(
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<PcGts xmlns="{NS}">'
        "<Metadata><Creator>PRImA Research Lab</Creator><Created>2016-01-01T00:00:00</Created></Metadata>"
        f'<Page imageFilename="{name}.JPG" imageWidth="{PAGE_SIZE[0]}" imageHeight="{PAGE_SIZE[1]}">'
        f'<TextRegion id="r1" type="paragraph"><Coords points="0,0 639,0 639,479 0,479"/>{text_lines}'
        "<TextEquiv><Unicode>region text is not used</Unicode></TextEquiv></TextRegion></Page></PcGts>\n",
        encoding="utf-8",
    )


def _build(root: Path) -> Path:
    public = root / "PublicData"
    _page(
        public / "Training",
        "Seite0001",
        [
            ("r1l1", "30,30 600,30 600,60 30,60", "Item der Rath hat beschlos¬"),
            ("r1l2", "30,90 600,90 600,120 30,120", "sen das man"),
            ("r1l3", "30,150 600,150 600,180 30,180", ""),
            ("r1l4", "30,210 400,205 410,245 28,240", "¬ Wein  und Brot"),
        ],
    )
    _page(public / "Training", "Seite0002", [("r1l1", "30,30 600,30 600,60 30,60", "Zweite Seite")])
    _page(public / "Validation", "Seite0101", [("r1l1", "30,30 600,30 600,60 30,60", "valide Zeile")])
    _page(root / "Test-ICFHR-2016", "Seite0201", [("r1l1", "30,30 600,30 600,60 30,60", "Prüfung¬")])
    return root


def test_splits_texts_and_crops(tmp_path: Path) -> None:
    root = _build(tmp_path)
    report: list[str] = []
    samples = read_read2016(root, report=report)
    by_id = {s.id: s for s in samples}
    assert sorted(by_id) == [
        "Seite0001_r1l1",
        "Seite0001_r1l2",
        "Seite0001_r1l4",
        "Seite0002_r1l1",
        "Seite0101_r1l1",
        "Seite0201_r1l1",
    ]
    assert by_id["Seite0001_r1l1"].text == "Item der Rath hat beschlos"
    assert by_id["Seite0001_r1l4"].text == "Wein und Brot"
    assert by_id["Seite0201_r1l1"].text == "Prüfung"
    assert {s.split for s in samples if s.id.startswith(("Seite0001", "Seite0002"))} == {"train"}
    assert by_id["Seite0101_r1l1"].split == "val"
    assert by_id["Seite0201_r1l1"].split == "test"
    crop = by_id["Seite0001_r1l1"].load()
    # Cut by their polygons: the box and LINE_PAD around it.
    assert crop.mode == "RGB" and crop.size == (571 + 2 * LINE_PAD, 31 + 2 * LINE_PAD)
    assert by_id["Seite0001_r1l4"].load().size == (410 - 28 + 1 + 2 * LINE_PAD, 245 - 205 + 1 + 2 * LINE_PAD)
    assert report == [f"empty-text: Seite0001_r1l3 ({root / 'PublicData' / 'Training' / 'page' / 'Seite0001.xml'})"]
    assert all("¬" not in s.text for s in samples)


def test_one_set_folder_keep_marks_and_registry(tmp_path: Path) -> None:
    root = _build(tmp_path)
    samples = read_dataset("read2016", root / "Test-ICFHR-2016", drop_chars="")
    assert [(s.text, s.split) for s in samples] == [("Prüfung¬", "test")]


def test_files_outside_split_folders_are_reported(tmp_path: Path) -> None:
    root = _build(tmp_path)
    _page(root / "extras", "Loose", [("r1l1", "30,30 600,30 600,60 30,60", "lose")])
    report: list[str] = []
    samples = read_read2016(root, report=report)
    assert not any(s.id.startswith("Loose") for s in samples)
    assert skip_counts(report) == {"no-split": 1, "empty-text": 1}


def test_split_from_folder_names(tmp_path: Path) -> None:
    root = tmp_path
    assert split_from_folder(root / "PublicData" / "Training" / "page" / "a.xml", root) == "train"
    assert split_from_folder(root / "PublicData" / "Validation" / "page" / "a.xml", root) == "val"
    assert split_from_folder(root / "Test-ICFHR-2016" / "page" / "a.xml", root) == "test"
    assert split_from_folder(root / "valid" / "a.xml", root) == "val"
    assert split_from_folder(root / "other" / "page" / "a.xml", root) is None


def test_missing_page_image_raises_naming_it(tmp_path: Path) -> None:
    root = _build(tmp_path)
    jpeg = root / "PublicData" / "Validation" / "Seite0101.JPG"
    jpeg.unlink()
    report: list[str] = []
    assert not any(s.split == "val" for s in read_read2016(root, report=report))
    assert skip_counts(report)["missing-image"] == 1
    lazy = {s.id: s for s in read_read2016(root, check_images=False)}
    with pytest.raises(ImageError) as info:
        lazy["Seite0101_r1l1"].load()
    assert "Seite0101_r1l1" in str(info.value) and "Seite0101.JPG" in str(info.value)


def test_root_name_counts_only_for_a_set_folder(tmp_path: Path) -> None:
    root = tmp_path / "test_runs"
    assert split_from_folder(root / "page" / "a.xml", root) == "test"
    assert split_from_folder(root / "a.xml", root) == "test"
    assert split_from_folder(root / "other" / "page" / "a.xml", root) is None
    assert split_from_folder(root / "Training" / "page" / "a.xml", root) == "train"
