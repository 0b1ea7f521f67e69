"""IAM reader on a small on-disk copy of the real layout: lines.txt, lines/ tree, form XML, Aachen split lists."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from sparkhtr.data.datasets import read_dataset
from sparkhtr.data.readers import read_iam, skip_counts
from sparkhtr.io.image import ImageError

HEADER = """#--- lines.txt ---------------------------------------------------------------#
#
# iam database line information
#
# format: a01-000u-00 ok 154 19 408 746 1663 91 A|MOVE|to|stop|Mr.|Gaitskell|from
#
#     a01-000u-00  -> line id for form a01-000u
#     ok              -> result of word segmentation
#
"""

# id, status, transcription, image size (w, h)
LINES = [
    ("a01-000u-00", "ok", "A|MOVE|to|stop|Mr.|Gaitskell|from", (300, 40)),
    ("a01-000u-01", "err", "nominating|any|more|Labour|life|Peers", (280, 44)),
    ("a01-003-00", "ok", "M|Ps|tomorrow|.|&quot;|Mr.|Foot", (250, 38)),
    ("b02-010-00", "ok", "the|cast|were|well|chosen|,", (220, 36)),
    ("b02-010-01", "ok", "not|in|the|test|list", (200, 30)),
    ("c03-000-00", "ok", "in|no|list|at|all", (210, 35)),
]


def _png(path: Path, size: tuple[int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).rectangle([5, 5, size[0] // 2, size[1] - 6], fill=20)
    image.save(path)


def _image_path(root: Path, line_id: str) -> Path:
    form = line_id.rsplit("-", 1)[0]
    return root / "lines" / line_id.split("-")[0] / form / f"{line_id}.png"


def _build(root: Path, lines=LINES, *, splits: bool = True, ascii_dir: bool = True) -> Path:
    rows = [f"{i} {status} 154 19 408 746 1661 89 {text}" for i, status, text, _ in lines]
    listing = root / "ascii" / "lines.txt" if ascii_dir else root / "lines.txt"
    listing.parent.mkdir(parents=True, exist_ok=True)
    listing.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    for line_id, _, _, size in lines:
        _png(_image_path(root, line_id), size)
    if splits:
        (root / "train.uttlist").write_text("a01-000u\n", encoding="utf-8")
        (root / "validation.uttlist").write_text("# forms\na01-003\n\n", encoding="utf-8")
        (root / "test.uttlist").write_text("b02-010-00\n", encoding="utf-8")  # a line id, not a form id
    return root


def test_ids_texts_splits_and_images(tmp_path: Path) -> None:
    root = _build(tmp_path)
    report: list[str] = []
    samples = read_iam(root, report=report)
    by_id = {s.id: s for s in samples}
    assert [s.id for s in samples] == ["a01-000u-00", "a01-000u-01", "a01-003-00", "b02-010-00"]
    assert by_id["a01-000u-00"].text == "A MOVE to stop Mr. Gaitskell from"
    assert by_id["a01-003-00"].text == 'M Ps tomorrow . " Mr. Foot'  # entity decoded, tokenised text kept
    assert by_id["a01-000u-01"].split == "train"  # the "err" line is kept
    assert by_id["a01-003-00"].split == "val"
    assert by_id["b02-010-00"].split == "test"
    assert by_id["a01-000u-00"].source == _image_path(root, "a01-000u-00")
    image = by_id["a01-000u-01"].load()
    assert image.size == (280, 44) and image.mode == "L"
    assert by_id["a01-000u-01"].image().getpixel((10, 10)) == 20
    # Lines in no list are skipped and reported once each.
    assert sorted(line.split(":")[1].split()[0] for line in report) == ["b02-010-01", "c03-000-00"]
    assert skip_counts(report) == {"no-split": 2}


def test_without_split_lists_everything_is_train(tmp_path: Path) -> None:
    root = _build(tmp_path, splits=False, ascii_dir=False)
    samples = read_iam(root)
    assert len(samples) == len(LINES)
    assert {s.split for s in samples} == {"train"}


def test_split_dir_with_txt_lists_and_lines_file_path(tmp_path: Path) -> None:
    root = _build(tmp_path / "iam", splits=False)
    split_dir = tmp_path / "aachen"
    split_dir.mkdir()
    (split_dir / "train.txt").write_text("a01-000u\nc03-000\n", encoding="utf-8")
    (split_dir / "test.txt").write_text("b02-010\n", encoding="utf-8")
    samples = read_iam(root / "ascii" / "lines.txt", split_dir=split_dir)
    splits = {s.id: s.split for s in samples}
    assert splits == {
        "a01-000u-00": "train",
        "a01-000u-01": "train",
        "b02-010-00": "test",
        "b02-010-01": "test",
        "c03-000-00": "train",
    }
    with pytest.raises(FileNotFoundError, match="no split lists"):
        read_iam(root, split_dir=tmp_path / "empty")


def test_splits_mapping_and_priority(tmp_path: Path) -> None:
    root = _build(tmp_path, splits=False)
    samples = read_iam(root, splits={"train": ["a01-000u", "b02-010"], "valid": ["b02-010-01"], "test": []})
    splits = {s.id: s.split for s in samples}
    assert splits == {"a01-000u-00": "train", "a01-000u-01": "train", "b02-010-00": "train", "b02-010-01": "val"}
    with pytest.raises(ValueError, match="unknown split"):
        read_iam(root, splits={"dev2": []})


def test_form_xml_gives_untokenised_text(tmp_path: Path) -> None:
    root = _build(tmp_path)
    xml = root / "xml"
    xml.mkdir()
    (xml / "a01-003.xml").write_text(
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<form id="a01-003"><handwritten-part>'
        '<line id="a01-003-00" text="MPs tomorrow. &quot;Mr. Foot"><word id="a01-003-00-00" text="M"/></line>'
        "</handwritten-part></form>\n",
        encoding="latin-1",
    )
    auto = {s.id: s.text for s in read_iam(root)}
    assert auto["a01-003-00"] == 'MPs tomorrow. "Mr. Foot'
    assert auto["a01-000u-00"] == "A MOVE to stop Mr. Gaitskell from"  # no XML for this form: lines.txt
    lines_only = {s.id: s.text for s in read_iam(root, text_source="lines")}
    assert lines_only["a01-003-00"] == 'M Ps tomorrow . " Mr. Foot'
    report: list[str] = []
    xml_only = read_iam(root, text_source="xml", report=report)
    assert [s.id for s in xml_only] == ["a01-003-00"]
    assert skip_counts(report) == {"no-split": 2, "missing-text": 3}
    with pytest.raises(ValueError, match="text_source"):
        read_iam(root, text_source="words")


def test_malformed_form_xml_warns_and_falls_back(tmp_path: Path) -> None:
    root = _build(tmp_path)
    (root / "xml").mkdir()
    (root / "xml" / "a01-003.xml").write_text("<form><line id='a01-003-00' text='x'>", encoding="utf-8")
    report: list[str] = []
    with pytest.warns(UserWarning, match="a01-003.xml"):
        samples = read_iam(root, report=report)
    assert {s.id: s.text for s in samples}["a01-003-00"] == 'M Ps tomorrow . " Mr. Foot'
    assert skip_counts(report)["bad-xml"] == 1


def test_bad_rows_and_empty_text_are_reported(tmp_path: Path) -> None:
    root = _build(tmp_path, splits=False)
    listing = root / "ascii" / "lines.txt"
    listing.write_text(
        listing.read_text(encoding="utf-8")
        + "a01-000u-05 ok 154 19 408 746 1661 89 |\n"  # empty transcription
        + "a01-000u-06 ok 154\n",  # truncated row
        encoding="utf-8",
    )
    _png(_image_path(root, "a01-000u-05"), (100, 30))
    report: list[str] = []
    samples = read_iam(root, report=report)
    assert len(samples) == len(LINES)
    assert skip_counts(report) == {"empty-text": 1, "bad-line": 1}
    assert any(line.startswith("empty-text: a01-000u-05") for line in report)
    assert any(line.startswith("bad-line: a01-000u-06") for line in report)


def test_missing_and_corrupt_images(tmp_path: Path) -> None:
    root = _build(tmp_path, splits=False)
    missing = _image_path(root, "a01-000u-01")
    missing.unlink()
    corrupt = _image_path(root, "a01-003-00")
    corrupt.write_bytes(b"not a png at all")

    report: list[str] = []
    checked = read_iam(root, report=report)
    assert {s.id for s in checked} == {"a01-000u-00", "b02-010-00", "b02-010-01", "c03-000-00"}
    assert skip_counts(report) == {"missing-image": 1, "bad-image": 1}
    assert any("a01-000u-01" in line and str(missing) in line for line in report)

    unchecked = {s.id: s for s in read_iam(root, check_images=False)}
    assert len(unchecked) == len(LINES)
    with pytest.raises(ImageError) as info:
        unchecked["a01-000u-01"].load()
    assert "a01-000u-01" in str(info.value) and str(missing) in str(info.value)
    with pytest.raises(ImageError, match="a01-003-00"):
        unchecked["a01-003-00"].load()


def test_image_deleted_after_listing_raises_image_error(tmp_path: Path) -> None:
    root = _build(tmp_path, splits=False)
    sample = read_iam(root)[0]
    Path(sample.source).unlink()
    with pytest.raises(ImageError, match=r"a01-000u-00.*no such file"):
        sample.load()


def test_loaders_pickle_and_registry(tmp_path: Path) -> None:
    root = _build(tmp_path)
    sample = read_dataset("IAM", root)[0]
    clone = pickle.loads(pickle.dumps(sample))
    assert clone.id == sample.id and clone.load().size == sample.load().size
    with pytest.raises(FileNotFoundError, match="lines.txt"):
        read_iam(tmp_path / "lines")
    with pytest.raises(FileNotFoundError):
        read_iam(tmp_path / "nowhere")
