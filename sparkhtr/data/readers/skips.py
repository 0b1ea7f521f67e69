"""Skip reports, the same in every dataset reader: why each left-out item was left out.

A reader takes ``report: list[str] | None``. When a list is given it appends one line per skipped
item, ``"<reason>: <item> (<file>)"`` optionally followed by ``": <detail>"``. ``<reason>`` is one
of ``REASONS``; ``skip_counts(report)`` turns the list into ``{reason: count}``. Malformed XML
files are skipped with a ``ReaderWarning`` and a ``bad-xml`` report line, so one broken file never
stops the others from being read.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

__all__ = ["REASONS", "ReaderWarning", "Skips", "skip_counts"]

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
