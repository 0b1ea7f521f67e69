"""IAM handwriting database, line level: ``lines.txt`` + the ``lines/`` image tree, with the RWTH Aachen split.

Layout expected under the dataset root (as unpacked from the FKI downloads)::

    lines.txt  or  ascii/lines.txt        "a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop|Mr.|Gaitskell|from"
    lines/a01/a01-000u/a01-000u-00.png    one PNG per line
    xml/a01-000u.xml                      optional: per-form XML with the untokenised line text
    train.uttlist validation.uttlist test.uttlist   (or .txt/.lst lists; here, in splits/ or in ``split_dir``)

Text. ``lines.txt`` is tokenised: words are joined by ``|`` and punctuation and clitics are separate words, so
"MPs tomorrow." reads "M|Ps|tomorrow|.". SPAN trains and scores on the untokenised line text of the IAM XML, so with
``text_source="auto"`` (default) the text comes from ``xml/<form>.xml`` when that file exists and from ``lines.txt``
(``|`` -> space, HTML entities such as ``&quot;`` decoded) otherwise. ``"xml"`` requires the XML, ``"lines"``
ignores it. Segmentation-"err" lines are kept (the flag concerns word boxes, not the line), as SPAN does.

Split. Lists of form ids (``a01-000u``) or line ids (``a01-000u-00``), one per line, ``#`` comments allowed. Given
by ``splits={"train": [...], "val": [...], "test": [...]}``, else read from files in ``split_dir``, else looked for in
the root and ``root/splits``. If no list is found every line is "train"; if any is found, lines in no list are
skipped (``no-split``). A line listed twice goes to test before val before train.

Skips are reported as described in ``sparkhtr.data.readers.skips``: pass ``report=[]`` to get one line per
skipped item. With ``check_images=True`` (default) each line image's header is read now, and lines whose image is
missing or unreadable are skipped; with False the samples are listed without touching the images, and ``load()``
raises ``ImageError`` naming the line id and file.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from pathlib import Path

from sparkhtr.data.readers.files import parse_xml
from sparkhtr.data.readers.line_images import LineFile, probe_image
from sparkhtr.data.readers.samples import UniqueIds
from sparkhtr.data.readers.skips import Skips
from sparkhtr.data.sample import LineSample
from sparkhtr.io.xml import descendants
from sparkhtr.text.charset import clean_text

__all__ = ["read_iam", "AACHEN_SPLIT_FILES", "read_id_list"]

# Looked for in this order; the first existing file of each split is used.
AACHEN_SPLIT_FILES: dict[str, tuple[str, ...]] = {
    "train": ("train.uttlist", "train.txt", "train.lst", "trainset.txt", "tr.lst"),
    "val": (
        "validation.uttlist",
        "validation.txt",
        "valid.txt",
        "val.txt",
        "validation.lst",
        "valid.lst",
        "val.lst",
        "va.lst",
    ),
    "test": ("test.uttlist", "test.txt", "test.lst", "testset.txt", "te.lst"),
}
_SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                  "test": "test"}  # fmt: skip
_PRIORITY = ("test", "val", "train")
TEXT_SOURCES = ("auto", "xml", "lines")


def read_id_list(path: Path) -> set[str]:
    """Ids from a split list: first whitespace-separated field of each non-empty, non-``#`` line, minus extension."""
    ids: set[str] = set()
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        entry = Path(line.split()[0]).name
        if entry.lower().endswith((".png", ".tif", ".jpg")):
            entry = entry.rsplit(".", 1)[0]
        ids.add(entry)
    return ids


def _find_lines_file(root: Path) -> Path:
    for candidate in (root / "lines.txt", root / "ascii" / "lines.txt"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"IAM: no lines.txt in {root} or {root / 'ascii'}")


def _load_splits(
    root: Path, split_dir: Path | None, splits: Mapping[str, Iterable[str]] | None
) -> dict[str, set[str]] | None:
    if splits is not None:
        out: dict[str, set[str]] = {}
        for name, ids in splits.items():
            key = _SPLIT_ALIASES.get(name.lower())
            if key is None:
                raise ValueError(f"IAM: unknown split {name!r}; use train, val or test")
            out.setdefault(key, set()).update(str(i).strip() for i in ids)
        return out
    folders = [split_dir] if split_dir is not None else [root, root / "splits"]
    for folder in folders:
        found = {}
        for name, filenames in AACHEN_SPLIT_FILES.items():
            for filename in filenames:
                if (folder / filename).is_file():
                    found[name] = read_id_list(folder / filename)
                    break
        if found:
            return found
    if split_dir is not None:
        raise FileNotFoundError(f"IAM: no split lists in {split_dir} (looked for {AACHEN_SPLIT_FILES})")
    return None


def _split_of(line_id: str, form_id: str, lists: dict[str, set[str]]) -> str | None:
    for name in _PRIORITY:
        ids = lists.get(name)
        if ids and (line_id in ids or form_id in ids):
            return name
    return None


def _form_texts(xml_path: Path, skips: Skips) -> dict[str, str] | None:
    """``{line id: text}`` from an IAM form XML (``<line id=... text=...>``), or None if absent or malformed."""
    if not xml_path.is_file():
        return None
    root = parse_xml(xml_path, skips)
    if root is None:
        return None
    texts: dict[str, str] = {}
    for line in descendants(root, "line"):
        if "id" in line.attrib:
            texts[line.attrib["id"]] = line.attrib.get("text", "")
    return texts


def _line_image(images: Path, line_id: str, form_id: str) -> Path:
    parts = line_id.split("-")
    standard = images / parts[0] / form_id / f"{line_id}.png"
    if standard.is_file():
        return standard
    for flat in (images / form_id / f"{line_id}.png", images / f"{line_id}.png"):
        if flat.is_file():
            return flat
    return standard


def read_iam(
    path: str | Path,
    *,
    split_dir: str | Path | None = None,
    splits: Mapping[str, Iterable[str]] | None = None,
    text_source: str = "auto",
    image_dir: str | Path | None = None,
    xml_dir: str | Path | None = None,
    check_images: bool = True,
    report: list[str] | None = None,
) -> list[LineSample]:
    """IAM text lines under ``path`` (the dataset root, or ``lines.txt`` itself), in ``lines.txt`` order."""
    if text_source not in TEXT_SOURCES:
        raise ValueError(f"IAM: text_source must be one of {TEXT_SOURCES}, got {text_source!r}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"IAM: {path} does not exist")
    if path.is_file():
        lines_file = path
        root = path.parent.parent if path.parent.name == "ascii" else path.parent
    else:
        root = path
        lines_file = _find_lines_file(root)
    images = Path(image_dir) if image_dir is not None else root / "lines"
    xmls = Path(xml_dir) if xml_dir is not None else root / "xml"
    lists = _load_splits(root, Path(split_dir) if split_dir is not None else None, splits)

    skips = Skips(report)
    unique = UniqueIds()
    form_cache: dict[str, dict[str, str] | None] = {}
    raw = lines_file.read_bytes()
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError:
        content = raw.decode("latin-1")

    samples: list[LineSample] = []
    for number, row in enumerate(content.splitlines(), start=1):
        if not row.strip() or row.lstrip().startswith("#"):
            continue
        fields = row.split(maxsplit=8)
        if len(fields) < 9 or fields[0].count("-") < 2:
            item = fields[0] if fields else f"line {number}"
            skips.add("bad-line", item, lines_file, f"line {number}: expected 'id status gray n x y w h text'")
            continue
        line_id, transcription = fields[0], fields[8]
        form_id = line_id.rsplit("-", 1)[0]

        split = "train" if lists is None else _split_of(line_id, form_id, lists)
        if split is None:
            skips.add("no-split", line_id, lines_file, f"form {form_id} is in no split list")
            continue

        text = None
        if text_source != "lines":
            if form_id not in form_cache:
                form_cache[form_id] = _form_texts(xmls / f"{form_id}.xml", skips)
            form = form_cache[form_id]
            if form is not None and line_id in form:
                text = form[line_id]
            elif text_source == "xml":
                skips.add("missing-text", line_id, xmls / f"{form_id}.xml", "no such line in the form XML")
                continue
        if text is None:
            text = html.unescape(transcription).replace("|", " ")
        text = clean_text(text)
        if not text:
            skips.add("empty-text", line_id, lines_file)
            continue

        image = _line_image(images, line_id, form_id)
        if check_images:
            probe = probe_image(image)
            if isinstance(probe, str):
                skips.add("missing-image" if probe == "no such file" else "bad-image", line_id, image, probe)
                continue
        sample_id = unique(line_id)
        samples.append(LineSample(sample_id, text, split, LineFile(image, sample_id), image))
    return samples
