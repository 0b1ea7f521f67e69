"""A folder of line images with transcriptions: ``DIR/lines/<id>.png`` + ``<id>.txt`` (or both
directly in ``DIR``), with an optional ``manifest.tsv`` whose ``id`` and ``split`` columns name each
line's split. This is the layout of ``shared/data/*`` and the easiest one for users' own data."""

from __future__ import annotations

import csv
from pathlib import Path

from sparkhtr.data.sample import LineSample
from sparkhtr.io.image import IMAGE_SUFFIXES, load_image
from sparkhtr.text.charset import normalize_text

__all__ = ["read_folder"]


def _read_manifest(root: Path) -> dict[str, tuple[str, str | None]]:
    """Each line id's split and group (None where the manifest has no ``group`` column)."""
    manifest = root / "manifest.tsv"
    if not manifest.is_file():
        return {}
    with manifest.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        if not reader.fieldnames or "id" not in reader.fieldnames or "split" not in reader.fieldnames:
            raise ValueError(f"{manifest}: needs 'id' and 'split' columns")
        return {row["id"]: (row["split"], row.get("group") or None) for row in reader}


def read_folder(path: str | Path, report: list[str] | None = None) -> list[LineSample]:
    """Every ``<id>.<image>`` with a ``<id>.txt`` beside it. Lines without a split get "train".

    Lines whose transcription is missing or empty are skipped and named in ``report``.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such dataset folder")
    images_dir = root / "lines" if (root / "lines").is_dir() else root
    manifest = _read_manifest(root)
    samples = []
    for image_path in sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        line_id = image_path.stem
        text_path = image_path.with_suffix(".txt")
        text = normalize_text(text_path.read_text("utf-8")) if text_path.is_file() else ""
        if not text:
            if report is not None:
                report.append(f"{line_id}: {'empty' if text_path.is_file() else 'no'} transcription, skipped")
            continue
        split, group = manifest.get(line_id, ("train", None))
        samples.append(
            LineSample(
                id=line_id,
                text=text,
                split=split,
                load=lambda p=image_path, i=line_id: load_image(p, name=f"{i} ({p})"),
                source=image_path,
                group=group,
            )
        )
    return samples
