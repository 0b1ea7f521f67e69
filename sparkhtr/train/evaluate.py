"""Evaluate a recognizer on a labelled dataset: per-line results, CER/WER summary, worst lines.

CER and WER follow SPAN (see ``sparkhtr.text.metrics``); unreadable lines are reported by id,
counted and left out of the scores.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from sparkhtr.data.sample import LineSample
from sparkhtr.inference.recognizer import Recognizer
from sparkhtr.io.image import ImageError
from sparkhtr.text.metrics import char_errors, corpus_scores

__all__ = ["Evaluation", "evaluate", "write_evaluation"]

CHUNK = 256  # lines decoded at a time, so memory stays flat on large sets


@dataclass
class Evaluation:
    lines: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def evaluate(
    recognizer: Recognizer, samples: Sequence[LineSample], batch_size: int | None = None, progress: bool = False
) -> Evaluation:
    result = Evaluation()
    bar = tqdm(total=len(samples), disable=not progress, unit="line", desc="evaluate")
    for start in range(0, len(samples), CHUNK):
        chunk, images = [], []
        for sample in samples[start : start + CHUNK]:
            try:
                images.append(sample.image())
                chunk.append(sample)
            except ImageError as exc:
                result.skipped.append(f"{sample.id}: {exc}")
        outputs = recognizer.recognize(images, batch_size=batch_size, on_error="return") if images else []
        for sample, output in zip(chunk, outputs):
            if output.error:
                result.skipped.append(f"{sample.id}: {output.error}")
                continue
            result.lines.append(
                {
                    "id": sample.id,
                    "reference": sample.text,
                    "prediction": output.text,
                    "char_errors": char_errors(sample.text, output.text),
                    "confidence": round(output.confidence, 4),
                    "source": str(sample.source) if sample.source else None,
                }
            )
        bar.update(len(samples[start : start + CHUNK]))
    bar.close()
    scores = corpus_scores((line["reference"], line["prediction"]) for line in result.lines)
    result.summary = {**scores, "lines": len(result.lines), "skipped": len(result.skipped),
                      **recognizer.decoder.settings(), "letter_case": recognizer.letter_case}
    return result


def write_evaluation(
    evaluation: Evaluation, out_dir: str | Path, samples: Sequence[LineSample], worst: int = 12
) -> None:
    """``lines.jsonl``, ``summary.json`` and ``worst_lines.png`` in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "lines.jsonl").open("w", encoding="utf-8") as handle:
        for line in evaluation.lines:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    summary = {**evaluation.summary, "skipped_lines": evaluation.skipped}
    (out_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1) + "\n", "utf-8")
    by_id = {s.id: s for s in samples}
    ranked = sorted(evaluation.lines, key=lambda x: x["char_errors"] / max(1, len(x["reference"])), reverse=True)
    from sparkhtr.train.pictures import lines_with_text

    picked = ranked[:worst]
    lines_with_text(
        [by_id[line["id"]].image() for line in picked],
        [(f"ref:  {line['reference']}", f"pred: {line['prediction']}") for line in picked],
        out_dir / "worst_lines.png",
    )
