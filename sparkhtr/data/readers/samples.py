"""From the lines a reader finds to ``LineSample`` objects: ids unique within a reader call, and
``PageLines``, which keeps or reports each line of a page format the same way for every format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sparkhtr.data.readers.line_images import PageChecker, PageCrop
from sparkhtr.data.readers.skips import Skips
from sparkhtr.data.sample import LineSample
from sparkhtr.layout.geometry import Box, Outline, check_box

__all__ = ["UniqueIds", "PageLines"]


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
        box: Callable[[], Box | Outline | str],
        image: Path,
        xml_path: Path,
        split: str,
        ref_size: tuple[float, float] | None = None,
    ) -> None:
        """Keep one line as a ``LineSample`` cropped from ``image``, or report it as skipped.

        ``text`` is already cleaned; an empty one is skipped. ``box`` returns the line's box or its outline (in
        ``ref_size`` coordinates if given, see ``PageCrop``; a line with an outline is cut by it), or why it has no
        usable one, for the ``bad-box`` report line. It is
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
        polygon: tuple[tuple[float, float], ...] = ()
        if isinstance(line_box, Outline):
            line_box, polygon = line_box.box, line_box.points
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
        crop = PageCrop(image, line_box, sample_id, ref_size, polygon)
        self.samples.append(LineSample(sample_id, text, split, crop, xml_path))
