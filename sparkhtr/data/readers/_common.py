"""What every dataset reader shares: namespace-blind XML access, finding page images, lazy line loaders, skip reports.

Each corpus format differs in where the text and the line box live, but they all end the same way: a line id, a
normalised text, a split and a zero-argument loader that reads (and, for page formats, crops) the image only when
asked. Keeping that tail here means every reader reports skips, names failures and crops boxes the same way; the page
formats (RIMES, PAGE, READ 2016, ALTO) hand each line they find to one ``PageLines``, which keeps it or reports why not.

Skip reports (all readers): a reader takes ``report: list[str] | None``. When a list is given it appends one line
per skipped item, ``"<reason>: <item> (<file>)"`` optionally followed by ``": <detail>"``. ``<reason>`` is one of
``REASONS``; ``skip_counts(report)`` turns the list into ``{reason: count}``. Malformed XML files are skipped with a
``ReaderWarning`` and a ``bad-xml`` report line, so one broken file never stops the others from being read.
"""

from __future__ import annotations

import math
import os
import re
import threading
import warnings
import xml.etree.ElementTree as ET
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from PIL import Image, UnidentifiedImageError

from sparkhtr.data.sample import LineSample
from sparkhtr.io.image import IMAGE_SUFFIXES, MIN_SIDE, ImageError, ImageLimits, load_image
from sparkhtr.text.charset import normalize_text

__all__ = [
    "REASONS",
    "SPLITS",
    "check_split",
    "xml_files",
    "ReaderWarning",
    "Skips",
    "skip_counts",
    "local_name",
    "children",
    "child",
    "descendants",
    "parse_xml",
    "clean_text",
    "UniqueIds",
    "ImageResolver",
    "LineFile",
    "PageCrop",
    "PageChecker",
    "PageLines",
    "Box",
    "polygon_box",
    "parse_points",
    "finite",
    "check_box",
    "fit_box",
    "probe_image",
    "PAGE_LIMITS",
    "IMAGE_SUFFIXES",
]

# Why an item was skipped: the first word of every report line.
REASONS = (
    "empty-text",  # the transcription is empty (after dropping characters and normalising)
    "missing-text",  # the transcription source was asked for but has no entry for the line
    "missing-image",  # the image file does not exist
    "bad-image",  # the image file exists but cannot be read (format, size limits)
    "bad-box",  # the line has no usable box, or the box lies outside its page
    "bad-xml",  # the XML file is malformed (also warned about)
    "not-format",  # an XML file whose root is not the expected format (e.g. a METS file next to PAGE files)
    "bad-line",  # a malformed line in a text listing (IAM lines.txt)
    "no-split",  # the line belongs to no split
)

# The splits a reader can put a line in; readers that take one ``split`` for all their lines check it is one of these.
SPLITS = ("train", "val", "test")

# Page scans are larger than line images; a 600 dpi A3 colour scan is ~70 M pixels.
PAGE_LIMITS = ImageLimits(max_pixels=150_000_000)

Box = tuple[float, float, float, float]  # left, top, right, bottom; right/bottom exclusive


class ReaderWarning(UserWarning):
    """A dataset file was skipped (e.g. malformed XML); the reader went on with the others."""


class Skips:
    """Collects report lines for one reader call; ``report`` may be None (then only the count is kept)."""

    def __init__(self, report: list[str] | None) -> None:
        self.report = report
        self.count = 0

    def add(self, reason: str, item: str, source: Path | str | None, detail: str = "") -> None:
        assert reason in REASONS, reason
        self.count += 1
        if self.report is not None:
            line = f"{reason}: {item}" + (f" ({source})" if source is not None else "")
            self.report.append(line + (f": {detail}" if detail else ""))

    def bad_xml(self, path: Path, exc: Exception) -> None:
        warnings.warn(f"{path}: malformed XML, file skipped ({exc})", ReaderWarning, stacklevel=3)
        self.add("bad-xml", path.name, path, str(exc))


def skip_counts(report: Iterable[str]) -> dict[str, int]:
    """``{reason: number of skipped items}`` from a reader's report list."""
    return dict(Counter(line.split(":", 1)[0] for line in report))


# --- arguments --------------------------------------------------------------------------------------------------------


def check_split(split: str, reader: str) -> None:
    """ValueError, prefixed with the ``reader``'s name, unless ``split`` is one of ``SPLITS``."""
    if split not in SPLITS:
        raise ValueError(f"{reader}: split must be one of {SPLITS}, got {split!r}")


def xml_files(path: Path, reader: str) -> list[Path]:
    """The XML files to read: ``path`` itself, or every ``*.xml`` below the folder, sorted; raises if there are none."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path} does not exist")
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() == ".xml" and p.is_file())
    if not files:
        raise FileNotFoundError(f"{reader}: no .xml files under {path}")
    return files


# --- XML, matched by local name so every namespace version (or none) reads the same -------------------------------


def local_name(element: ET.Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    return tag.rsplit("}", 1)[-1]


def children(element: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in element if local_name(c) == name]


def child(element: ET.Element, name: str) -> ET.Element | None:
    for c in element:
        if local_name(c) == name:
            return c
    return None


def descendants(element: ET.Element, name: str) -> Iterator[ET.Element]:
    """Elements named ``name`` below ``element`` (not itself), in document order."""
    for e in element.iter():
        if e is not element and local_name(e) == name:
            yield e


def parse_xml(path: Path, skips: Skips) -> ET.Element | None:
    """The root element, or None after a warning and a ``bad-xml`` report line."""
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        skips.bad_xml(path, exc)
    except OSError as exc:
        skips.bad_xml(path, exc)
    return None


def clean_text(text: str | None, drop_chars: str | Iterable[str] = "") -> str:
    """Drop the given characters, then ``normalize_text`` (NFC, one line, single spaces)."""
    if not text:
        return ""
    drop = set(drop_chars)
    if drop:
        text = "".join(c for c in text if c not in drop)
    return normalize_text(text)


class UniqueIds:
    """Hands out ids unique within one reader call: a repeated id gets ``#2``, ``#3``..."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def __call__(self, wanted: str) -> str:
        n = self._seen.get(wanted, 0) + 1
        self._seen[wanted] = n
        if n == 1:
            return wanted
        candidate = f"{wanted}#{n}"
        while candidate in self._seen:
            n += 1
            candidate = f"{wanted}#{n}"
        self._seen[wanted] = n
        self._seen[candidate] = 1
        return candidate


# --- boxes ------------------------------------------------------------------------------------------------------------


_SEPARATORS = re.compile(r"[\s,]+")


def finite(value: str) -> float:
    """One coordinate: a finite number, else ValueError naming the text (``nan``, ``1e999``, ``12px``)."""
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"coordinate {value[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"coordinate {value[:40]!r} is not a finite number")
    return number


def parse_points(text: str) -> list[tuple[float, float]]:
    """Points of a PAGE ``points`` / ALTO ``POINTS`` string, ``"x,y x,y"`` or ``"x y x y"``.

    Every token must be a finite number and they must pair up: a ``nan`` or a stray word in the list
    raises ValueError (the line is then skipped as ``bad-box``) instead of shifting the pairs and
    keeping a wrong crop."""
    tokens = [t for t in _SEPARATORS.split(text.strip()) if t]
    numbers = [finite(t) for t in tokens]
    if len(numbers) % 2:
        raise ValueError(f"odd number of coordinates ({len(numbers)}) in the points list")
    return list(zip(numbers[0::2], numbers[1::2], strict=True))


def polygon_box(points: Iterable[tuple[float, float]]) -> Box | None:
    """Axis-aligned box of a polygon whose points are pixel positions: the max pixel is included."""
    pts = list(points)
    if not pts:
        return None
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    if not all(math.isfinite(v) for v in xs + ys):
        raise ValueError("a point has a coordinate that is not a finite number")
    return (math.floor(min(xs)), math.floor(min(ys)), math.floor(max(xs)) + 1, math.floor(max(ys)) + 1)


def check_box(box: Box) -> str | None:
    """Why ``box`` is unusable (a coordinate that is not finite, an empty or inverted box), or None."""
    if len(box) != 4 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in box):
        return f"box {box} has a coordinate that is not a finite number"
    if box[2] <= box[0] or box[3] <= box[1]:
        return f"box {box} is empty or inverted"
    return None


def fit_box(
    box: Box, image_size: tuple[int, int], ref_size: tuple[float, float] | None = None
) -> tuple[int, int, int, int] | None:
    """Integer crop box inside the image, scaled from ``ref_size`` coordinates if given; None if too small."""
    if check_box(box) is not None:
        return None
    left, top, right, bottom = box
    width, height = image_size
    if ref_size is not None and all(math.isfinite(v) and v > 0 for v in ref_size):
        sx, sy = width / ref_size[0], height / ref_size[1]
        left, right, top, bottom = left * sx, right * sx, top * sy, bottom * sy
        if not all(math.isfinite(v) for v in (left, right, top, bottom)):
            return None
    crop = (
        max(0, math.floor(left)),
        max(0, math.floor(top)),
        min(width, math.ceil(right)),
        min(height, math.ceil(bottom)),
    )
    if crop[2] - crop[0] < MIN_SIDE or crop[3] - crop[1] < MIN_SIDE:
        return None
    return crop


# --- images -----------------------------------------------------------------------------------------------------------


def probe_image(path: Path, limits: ImageLimits = ImageLimits()) -> tuple[int, int] | str:
    """Upright (width, height) from the header alone, or why ``load_image`` would refuse the file."""
    try:
        if not path.is_file():
            return "no such file"
        if path.stat().st_size == 0:
            return "empty file (0 bytes)"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                orientation = image.getexif().get(0x0112, 1)
    except Image.DecompressionBombError:
        return "image is over the pixel limit"
    except UnidentifiedImageError:
        return "not a readable image (unknown format)"
    except (OSError, ValueError, SyntaxError) as exc:
        return f"cannot read image header: {exc}"
    if orientation in (5, 6, 7, 8):  # EXIF rotations by 90 degrees: load_image turns the image upright
        width, height = height, width
    if width * height > limits.max_pixels:
        return f"{width}x{height} image is over the {limits.max_pixels:,}-pixel limit"
    if min(width, height) < limits.min_side:
        return f"{width}x{height} image is too small"
    return (width, height)


class ImageResolver:
    """Finds the image an XML file names, wherever the corpus was unpacked.

    Tried in order: the name as given (absolute, or relative to the XML's folder, its parent folder -- PAGE's usual
    ``page/`` layout -- and ``image_dir``), then the bare file name in those folders; then, ignoring case, the image
    files in those folders and in the trees under ``search_roots`` and ``image_dir`` (indexed once, on first need;
    a name must be unique there, or have one match under the folder above the XML). A missing name means "the image
    with the XML's stem".
    """

    def __init__(self, search_roots: Iterable[Path] = (), image_dir: Path | None = None) -> None:
        self.search_roots = list(dict.fromkeys(search_roots))
        self.image_dir = image_dir
        self._indexes: dict[tuple[Path, bool], dict[str, list[Path]]] = {}

    def resolve(self, name: str | None, xml_path: Path) -> Path:
        """The first existing candidate; if none exists, the most likely path (for error messages)."""
        candidates = self._candidates(name, xml_path)
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        basename = Path(self._clean(name)).name if name and name.strip() else None
        found = self._from_index(basename, xml_path)
        return found if found is not None else candidates[0]

    @staticmethod
    def _clean(name: str) -> str:
        name = name.strip()
        if name.lower().startswith("file:"):
            name = unquote(urlparse(name).path)
        return name.replace("\\", "/")

    def _dirs(self, xml_path: Path) -> list[Path]:
        dirs = [xml_path.parent, xml_path.parent.parent]
        if self.image_dir is not None:
            dirs.append(self.image_dir)
        return dirs

    def _candidates(self, name: str | None, xml_path: Path) -> list[Path]:
        dirs = self._dirs(xml_path)
        out: list[Path] = []
        if name and name.strip():
            relative = Path(self._clean(name))
            if relative.is_absolute():
                out.append(relative)
            else:
                out.extend(d / relative for d in dirs)
            out.extend(d / relative.name for d in dirs)
        else:
            stem = xml_path.stem
            out.extend(d / (stem + s) for d in dirs for s in IMAGE_SUFFIXES + tuple(x.upper() for x in IMAGE_SUFFIXES))
        seen: set[Path] = set()
        return [p for p in out if not (p in seen or seen.add(p))]

    def _index_of(self, root: Path, recursive: bool) -> dict[str, list[Path]]:
        key = (root, recursive)
        if key not in self._indexes:
            index: dict[str, list[Path]] = {}
            walk = os.walk(root) if recursive else [(str(root), [], _list_files(root))]
            for folder, _, files in walk:
                for f in files:
                    if f.lower().endswith(IMAGE_SUFFIXES):
                        index.setdefault(f.lower(), []).append(Path(folder) / f)
            self._indexes[key] = index
        return self._indexes[key]

    def _from_index(self, basename: str | None, xml_path: Path) -> Path | None:
        # Nearest first: the candidate folders themselves, then the trees under the search root and image_dir.
        roots = [(d, False) for d in self._dirs(xml_path)]
        trees = self.search_roots + ([self.image_dir] if self.image_dir is not None else [])
        roots += [(r, True) for r in trees]
        for root, recursive in roots:
            index = self._index_of(root, recursive)
            if basename is None:
                matches = [p for s in IMAGE_SUFFIXES for p in index.get(xml_path.stem.lower() + s, [])]
            else:
                matches = index.get(basename.lower(), [])
            if len(matches) == 1:
                return matches[0]
            near = [p for p in matches if xml_path.parent.parent in p.parents]
            if len(near) == 1:
                return near[0]
        return None


def _list_files(folder: Path) -> list[str]:
    try:
        return [entry.name for entry in os.scandir(folder) if entry.is_file()]
    except OSError:
        return []


# --- lazy loaders: small picklable callables, so samples can cross to DataLoader workers ------------------------------

_PAGE_CACHE: OrderedDict[tuple[str, int, int], Image.Image] = OrderedDict()
_PAGE_CACHE_SIZE = 4  # lines of one page are usually loaded together; a few decoded pages cover that
_PAGE_LOCK = threading.Lock()


def _load_page(path: Path) -> Image.Image:
    try:
        stat = path.stat()
    except OSError:
        raise ImageError(f"{path}: no such file") from None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _PAGE_LOCK:
        if key in _PAGE_CACHE:
            _PAGE_CACHE.move_to_end(key)
            return _PAGE_CACHE[key]
    page = load_image(path, PAGE_LIMITS)
    try:
        page.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{path}: cannot decode image: {exc}") from exc
    with _PAGE_LOCK:
        _PAGE_CACHE[key] = page
        while len(_PAGE_CACHE) > _PAGE_CACHE_SIZE:
            _PAGE_CACHE.popitem(last=False)
    return page


@dataclass(frozen=True)
class LineFile:
    """Loads a line that is its own image file (IAM)."""

    path: Path
    sample_id: str

    def __call__(self) -> Image.Image:
        try:
            image = load_image(self.path)
            image.load()
            return image
        except ImageError as exc:
            raise ImageError(f"{self.sample_id}: {exc}") from exc
        except (OSError, ValueError, SyntaxError) as exc:
            raise ImageError(f"{self.sample_id}: {self.path}: cannot decode image: {exc}") from exc


@dataclass(frozen=True)
class PageCrop:
    """Loads a page image and crops one line box out of it (RIMES, PAGE, ALTO).

    ``box`` is (left, top, right, bottom) with right/bottom exclusive, in the page's pixel coordinates, or in a
    ``ref_size`` coordinate space (ALTO in mm10/inch1200) that is scaled onto the actual image size.
    """

    path: Path
    box: Box
    sample_id: str
    ref_size: tuple[float, float] | None = None

    def __call__(self) -> Image.Image:
        try:
            page = _load_page(self.path)
        except ImageError as exc:
            raise ImageError(f"{self.sample_id}: {exc}") from exc
        crop = fit_box(self.box, page.size, self.ref_size)
        if crop is None:
            raise ImageError(
                f"{self.sample_id}: {self.path}: line box {self.box} is outside the "
                f"{page.size[0]}x{page.size[1]} page or too small"
            )
        return page.crop(crop)


class PageChecker:
    """Read-time check of page lines (``check_images=True``): probes each page header once, then each box.

    ``problem`` returns None for a usable line, else ``(reason, detail)`` for the skip report.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._probed: dict[Path, tuple[int, int] | str] = {}

    def problem(self, path: Path, box: Box, ref_size: tuple[float, float] | None = None) -> tuple[str, str] | None:
        if not self.enabled:
            return None
        if path not in self._probed:
            self._probed[path] = probe_image(path, PAGE_LIMITS)
        size = self._probed[path]
        if isinstance(size, str):
            return ("missing-image" if size == "no such file" else "bad-image", size)
        if fit_box(box, size, ref_size) is None:
            return ("bad-box", f"box {box} is outside the {size[0]}x{size[1]} page or too small")
        return None


class PageLines:
    """The lines one call of a page-format reader keeps (RIMES, PAGE, READ 2016, ALTO), in the order they are added.

    The reader finds each line's id, text, box and page image; ``add`` keeps the line or reports why not, the same
    way for every format, and makes ids unique across the whole call.
    """

    def __init__(self, skips: Skips, check_images: bool) -> None:
        self.samples: list[LineSample] = []
        self._skips = skips
        self._checker = PageChecker(check_images)
        self._unique = UniqueIds()

    def add(
        self,
        line_id: str,
        text: str,
        box: Callable[[], Box | str],
        image: Path,
        xml_path: Path,
        split: str,
        ref_size: tuple[float, float] | None = None,
    ) -> None:
        """Keep one line as a ``LineSample`` cropped from ``image``, or report it as skipped.

        ``text`` is already cleaned; an empty one is skipped. ``box`` returns the line's box (in ``ref_size``
        coordinates if given, see ``PageCrop``) or why it has no usable one, for the ``bad-box`` report line. It is
        called only for a line with text, so an empty line is reported as ``empty-text`` without its coordinates
        ever being parsed (parsing can raise, e.g. on infinite ones).
        """
        if not text:
            self._skips.add("empty-text", line_id, xml_path)
            return
        try:
            line_box = box()
        except (ValueError, OverflowError, TypeError) as exc:  # a coordinate no reader could use
            line_box = str(exc)
        if not isinstance(line_box, str):
            line_box = check_box(line_box) or line_box
        if isinstance(line_box, str):
            self._skips.add("bad-box", line_id, xml_path, line_box)
            return
        problem = self._checker.problem(image, line_box, ref_size)
        if problem is not None:
            reason, detail = problem
            self._skips.add(reason, line_id, image, detail)
            return
        sample_id = self._unique(line_id)
        crop = PageCrop(image, line_box, sample_id, ref_size)
        self.samples.append(LineSample(sample_id, text, split, crop, xml_path))
