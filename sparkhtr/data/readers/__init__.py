"""Dataset readers: public HTR corpora (IAM, RIMES 2011, READ 2016) and users' own PAGE / ALTO ground truth.

Every reader is ``read_<kind>(path, **options) -> list[LineSample]`` (``sparkhtr.data.datasets.KINDS``, the one
registry of dataset kinds, names them for ``KIND:PATH`` specs) and lists lines without decoding images:
each sample has an ``id`` unique within the call, its text normalised by ``normalize_text``, a ``split``
("train", "val" or "test"), a lazy ``load`` that returns the (cropped) line as a PIL image, and ``source``: the
file that defines the line -- the line image for IAM, the XML file for RIMES, PAGE, READ 2016 and ALTO.
``load`` objects are small picklable callables, so sample lists can be handed to DataLoader workers.

Common options and conventions (same in every reader):

* ``report: list[str] | None`` -- give a list to learn what was skipped: one line per skipped item,
  ``"<reason>: <id or file> (<file>): <detail>"``; ``skip_counts(report)`` gives ``{reason: count}``.
  Reasons are listed in ``REASONS`` (empty-text, missing-image, bad-image, bad-box, bad-xml, no-split, ...).
* Malformed XML: the file is skipped with a ``ReaderWarning`` and a ``bad-xml`` report line; other files are
  still read. A missing dataset (no ``lines.txt``, no XML at all) raises ``FileNotFoundError``.
* ``check_images=True`` (default): image headers are read now (once per page) and lines whose image is missing,
  unreadable or whose box is off the page are skipped and reported. With ``False`` nothing is touched until
  ``load()``, which then raises ``sparkhtr.io.image.ImageError`` naming the sample id and the file.
"""

from __future__ import annotations

from sparkhtr.data.readers.alto import read_alto
from sparkhtr.data.readers.iam import read_iam
from sparkhtr.data.readers.pagexml import read_pagexml
from sparkhtr.data.readers.read2016 import read_read2016
from sparkhtr.data.readers.rimes import read_rimes
from sparkhtr.data.readers.skips import REASONS, ReaderWarning, skip_counts

__all__ = [
    "REASONS",
    "ReaderWarning",
    "read_alto",
    "read_iam",
    "read_pagexml",
    "read_read2016",
    "read_rimes",
    "skip_counts",
]
