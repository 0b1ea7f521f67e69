"""Corrected transcriptions for lines whose dataset label is wrong, kept beside the dataset.

Public datasets carry a few wrong labels (a line given its neighbour's text, say); one such line
can cost as many errors as ten well-read lines, so an evaluation should be able to say "with
these labels fixed" without editing the dataset itself. A corrections file is UTF-8 text, one
``<line id>\\t<correct transcription>`` per line; blank lines and lines starting with ``#`` (say
why each label is wrong there) are skipped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from sparkhtr.data.sample import LineSample
from sparkhtr.text.charset import normalize_text

__all__ = ["read_corrections", "apply_corrections"]


def read_corrections(path: str | Path) -> dict[str, str]:
    """``{line id: corrected text}`` from a corrections file; a malformed line raises a ValueError
    naming the file and the line number."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{path}: no such corrections file") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: a corrections file must be UTF-8 text ({exc})") from exc
    corrections: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        line_id, tab, text = line.partition("\t")
        line_id, text = line_id.strip(), normalize_text(text)
        if not tab or not line_id or not text:
            raise ValueError(f"{path}:{number}: expected '<line id><TAB><transcription>', got {line!r}")
        if line_id in corrections:
            raise ValueError(f"{path}:{number}: line {line_id!r} is corrected twice")
        corrections[line_id] = text
    return corrections


def apply_corrections(
    samples: Sequence[LineSample], corrections: dict[str, str]
) -> tuple[list[LineSample], list[str], list[str]]:
    """``samples`` with the corrected texts, the ids corrected, and the ids of corrections that
    matched no sample (another split's lines, or a typo: the caller reports them)."""
    found = {sample.id for sample in samples}
    corrected = [sample.id for sample in samples if sample.id in corrections]
    unmatched = sorted(set(corrections) - found)
    fixed = [
        dataclasses.replace(sample, text=corrections[sample.id]) if sample.id in corrections else sample
        for sample in samples
    ]
    return fixed, corrected, unmatched
