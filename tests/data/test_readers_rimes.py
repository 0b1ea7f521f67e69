"""RIMES 2011 reader on small page images and XML in the 2011 release format."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from PIL import Image, ImageDraw

from sparkhtr.data.readers import ReaderWarning, read_rimes, skip_counts
from sparkhtr.io.image import ImageError

PAGE_SIZE = (400, 300)


def _page(path: Path, boxes: list[tuple[int, int, int, int]]) -> None:
    """White page; box i (left, top, right, bottom; right/bottom exclusive) filled with gray 30 + 20 i."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("L", PAGE_SIZE, 255)
    draw = ImageDraw.Draw(image)
    for i, (left, top, right, bottom) in enumerate(boxes):
        draw.rectangle([max(left, 0), max(top, 0), right - 1, bottom - 1], fill=30 + 20 * i)
    image.save(path)


def _xml(path: Path, pages: list[tuple[str, list[list[tuple[tuple[int, int, int, int], str]]]]]) -> None:
    """pages: (FileName, paragraphs of (box, value)) -> a RIMES 2011 DocumentList."""
    out = ['<?xml version="1.0" encoding="utf-8"?>', "<DocumentList>"]
    for filename, paragraphs in pages:
        out.append(f'  <SinglePage FileName="{filename}">')
        out.append("    <WriterID>w0001</WriterID>")
        for paragraph in paragraphs:
            out.append('    <Paragraph Top="0" Bottom="300" Left="0" Right="400" Value="">')
            for (left, top, right, bottom), value in paragraph:
                box = f'Bottom="{bottom}" Left="{left}" Right="{right}" Top="{top}"'
                out.append(f"      <Line {box} Value={quoteattr(value)}/>")
            out.append("    </Paragraph>")
        out.append("  </SinglePage>")
    out.append("</DocumentList>")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


BOXES = [(20, 10, 380, 50), (-5, 60, 200, 100), (30, 120, 300, 170)]


def _build(root: Path, train_pages: int = 3) -> Path:
    pages = []
    for n in range(train_pages):
        _page(root / "images_gray" / f"train2011-{n}.png", BOXES)
        pages.append(
            (
                f"images_gray/train2011-{n}.png",
                [
                    [(BOXES[0], f"Madame, Monsieur {n},"), (BOXES[1], "Je vous  écris\npour")],
                    [(BOXES[2], "Veuillez agréer")],
                ],
            )
        )
    _xml(root / "training_2011.xml", pages)
    _page(root / "eval_gray" / "eval2011-0.png", BOXES[:2])
    _xml(root / "eval_2011_annotated.xml", [("eval2011-0.png", [[(BOXES[0], "Objet : résiliation"), (BOXES[1], "")]])])
    return root


def test_ids_texts_splits_and_crops(tmp_path: Path) -> None:
    root = _build(tmp_path)
    report: list[str] = []
    samples = read_rimes(root, val_pages=1, report=report)
    by_id = {s.id: s for s in samples}
    assert [s.id for s in samples][:3] == ["train2011-0-00", "train2011-0-01", "train2011-0-02"]
    assert [s.split for s in samples] == ["train"] * 6 + ["val"] * 3 + ["test"]
    assert by_id["train2011-2-00"].split == "val"
    assert by_id["train2011-1-00"].text == "Madame, Monsieur 1,"
    assert by_id["train2011-0-01"].text == "Je vous écris pour"  # newline and double space normalised
    assert by_id["eval2011-0-00"].text == "Objet : résiliation" and by_id["eval2011-0-00"].split == "test"
    assert by_id["train2011-0-00"].source == root / "training_2011.xml"
    # The crop is exactly the box: the right size and only the box's gray.
    for i, (left, top, right, bottom) in enumerate(BOXES):
        crop = by_id[f"train2011-1-{i:02d}"].load()
        assert crop.size == (right - max(left, 0), bottom - top)  # negative Left clamped to the page
        assert crop.getextrema() == (30 + 20 * i, 30 + 20 * i)
    # The eval page's image is found by name although FileName has no folder.
    assert by_id["eval2011-0-00"].load().size == (360, 40)
    assert skip_counts(report) == {"empty-text": 1}
    assert report[0].startswith("empty-text: eval2011-0-01 (")


def test_default_validation_is_last_100_pages(tmp_path: Path) -> None:
    root = _build(tmp_path, train_pages=3)
    splits = {s.split for s in read_rimes(root) if s.id.startswith("train")}
    assert splits == {"val"}  # SPAN's rule: page index >= n_pages - 100
    assert {s.split for s in read_rimes(root, val_pages=0) if s.id.startswith("train")} == {"train"}
    with pytest.raises(ValueError):
        read_rimes(root, val_pages=-1)


def test_missing_page_image(tmp_path: Path) -> None:
    root = _build(tmp_path)
    page = root / "images_gray" / "train2011-1.png"
    page.unlink()
    report: list[str] = []
    samples = read_rimes(root, report=report)
    assert not any(s.id.startswith("train2011-1-") for s in samples)
    assert skip_counts(report) == {"missing-image": 3, "empty-text": 1}
    lazy = {s.id: s for s in read_rimes(root, check_images=False)}
    with pytest.raises(ImageError) as info:
        lazy["train2011-1-02"].load()
    assert "train2011-1-02" in str(info.value) and "train2011-1.png" in str(info.value)


def test_bad_boxes_are_skipped(tmp_path: Path) -> None:
    root = tmp_path
    _page(root / "p.png", [])
    _xml(
        root / "training_2011.xml",
        [("p.png", [[((10, 10, 100, 40), "ok"), ((500, 10, 600, 40), "off the page"), ((50, 40, 40, 60), "flip")]])],
    )
    report: list[str] = []
    samples = read_rimes(root, val_pages=0, report=report)
    assert [s.text for s in samples] == ["ok"]
    assert skip_counts(report) == {"bad-box": 2}
    lazy = read_rimes(root, val_pages=0, check_images=False)
    assert [s.text for s in lazy] == ["ok", "off the page"]
    with pytest.raises(ImageError, match="p-01.*outside"):
        lazy[1].load()


def test_malformed_test_xml_does_not_stop_training_xml(tmp_path: Path) -> None:
    root = _build(tmp_path)
    (root / "eval_2011_annotated.xml").write_text("<DocumentList><SinglePage FileName='x'>", encoding="utf-8")
    report: list[str] = []
    with pytest.warns(ReaderWarning, match="eval_2011_annotated.xml"):
        samples = read_rimes(root, report=report)
    assert len(samples) == 9 and {s.split for s in samples} == {"val"}
    assert skip_counts(report) == {"bad-xml": 1}


def test_explicit_files_and_missing_dataset(tmp_path: Path) -> None:
    root = _build(tmp_path / "rimes")
    other = tmp_path / "elsewhere"
    other.mkdir()
    (root / "training_2011.xml").rename(other / "lines_train.xml")
    samples = read_rimes(other, train_xml=other / "lines_train.xml", test_xml=root / "eval_2011_annotated.xml",
                         image_dir=root / "images_gray", val_pages=0)  # fmt: skip
    assert len(samples) == 10
    with pytest.raises(FileNotFoundError):
        read_rimes(tmp_path / "empty_dir_that_is_missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="training_2011.xml"):
        read_rimes(tmp_path / "empty")
