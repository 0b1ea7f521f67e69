"""RIMES 2011 (ICDAR 2011 line competition): line boxes in one XML per set, cropped from gray page images.

Files expected under the dataset root, as released by A2iA::

    training_2011.xml        + the pages of training_2011_gray.tar
    eval_2011_annotated.xml  + the pages of eval_2011_gray.tar

Each XML is ``<DocumentList><SinglePage FileName="..."><Paragraph ...><Line Top= Bottom= Left= Right= Value=/>``.
A line's crop is ``[Left, Right) x [Top, Bottom)`` of its page (clamped to the page), its text the ``Value``.
``FileName`` is resolved relative to the XML, then ``image_dir``, then by file name anywhere under the root, so
the tar files can be unpacked where convenient.

Split (SPAN's): the eval XML is "test"; of the training XML, the last ``val_pages`` pages in document order
(100 by default) are "val" and the rest "train". Line ids are ``<page file stem>-<line number on the page>``
(two digits, from 00, counting lines across the page's paragraphs).

Skips follow ``sparkhtr.data.readers.skips``: ``report=[]`` collects one line per skipped item (empty text, bad
box, missing or unreadable page); a malformed XML is skipped with a ``ReaderWarning``. With ``check_images=True``
(default) each page header is read once now; with False, ``load()`` raises ``ImageError`` naming the line and file.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from sparkhtr.data.readers.files import ImageResolver, parse_xml
from sparkhtr.data.readers.samples import PageLines
from sparkhtr.data.readers.skips import Skips
from sparkhtr.data.sample import LineSample
from sparkhtr.io.xml import descendants, local_name
from sparkhtr.layout.geometry import Box
from sparkhtr.text.charset import clean_text

__all__ = ["read_rimes", "TRAIN_XML_NAMES", "TEST_XML_NAMES"]

TRAIN_XML_NAMES = ("training_2011.xml", "*train*.xml")
TEST_XML_NAMES = ("eval_2011_annotated.xml", "eval_2011.xml", "*eval*.xml", "*test*.xml")


def _find(root: Path, patterns: tuple[str, ...]) -> Path | None:
    for pattern in patterns:
        matches = sorted(root.glob(pattern))
        if len(matches) == 1 or (matches and "*" not in pattern):
            return matches[0]
    return None


def _box_or_why(line_attrib: dict[str, str]) -> Box | str:
    """The line's box, or the ``bad-box`` detail when its attributes give none."""
    why = "missing or invalid Left/Top/Right/Bottom"
    try:
        left, top = float(line_attrib["Left"]), float(line_attrib["Top"])
        right, bottom = float(line_attrib["Right"]), float(line_attrib["Bottom"])
    except (KeyError, ValueError):
        return why
    if right <= left or bottom <= top:
        return why
    return (left, top, right, bottom)


def _read_set(
    xml_path: Path,
    set_name: str,
    val_pages: int,
    resolver: ImageResolver,
    lines: PageLines,
    skips: Skips,
) -> None:
    root = parse_xml(xml_path, skips)
    if root is None:
        return
    pages = [e for e in root.iter() if local_name(e) == "SinglePage"]
    if not pages:
        skips.add("not-format", xml_path.name, xml_path, "no <SinglePage> element")
        return
    first_val = len(pages) - val_pages if set_name == "train" else len(pages)
    for index, page in enumerate(pages):
        split = "test" if set_name == "test" else ("val" if index >= first_val else "train")
        filename = page.attrib.get("FileName", "")
        image = resolver.resolve(filename, xml_path)
        stem = Path(filename.replace("\\", "/")).stem or f"{xml_path.stem}-page{index}"
        for number, line in enumerate(descendants(page, "Line")):
            line_id = f"{stem}-{number:02d}"
            text = clean_text(line.attrib.get("Value"))
            lines.add(line_id, text, partial(_box_or_why, line.attrib), image, xml_path, split)


def read_rimes(
    path: str | Path,
    *,
    train_xml: str | Path | None = None,
    test_xml: str | Path | None = None,
    image_dir: str | Path | None = None,
    val_pages: int = 100,
    check_images: bool = True,
    report: list[str] | None = None,
) -> list[LineSample]:
    """RIMES 2011 lines under ``path`` (the folder holding the XML files): train, then val, then test."""
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"RIMES: {root} is not a folder")
    if val_pages < 0:
        raise ValueError("RIMES: val_pages must be >= 0")
    train = Path(train_xml) if train_xml is not None else _find(root, TRAIN_XML_NAMES)
    test = Path(test_xml) if test_xml is not None else _find(root, TEST_XML_NAMES)
    for given, name in ((train_xml, train), (test_xml, test)):
        if given is not None and name is not None and not name.is_file():
            raise FileNotFoundError(f"RIMES: {name} does not exist")
    if train is None and test is None:
        raise FileNotFoundError(f"RIMES: neither {TRAIN_XML_NAMES[0]} nor {TEST_XML_NAMES[0]} in {root}")

    xml_folders = [x.parent for x in (train, test) if x is not None]
    resolver = ImageResolver([root, *xml_folders], Path(image_dir) if image_dir is not None else None)
    skips = Skips(report)
    lines = PageLines(skips, check_images)
    if train is not None:
        _read_set(train, "train", val_pages, resolver, lines, skips)
    if test is not None and test != train:
        _read_set(test, "test", 0, resolver, lines, skips)
    order = {"train": 0, "val": 1, "test": 2}
    return sorted(lines.samples, key=lambda s: order[s.split])  # stable: document order within each split
