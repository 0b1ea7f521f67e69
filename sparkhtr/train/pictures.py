"""Pictures people would rather see than read: lines with their texts, training curves."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from sparkhtr.layout.draw import caption_font

__all__ = ["lines_with_text", "training_curve"]


def lines_with_text(
    images: Sequence[Image.Image],
    captions: Sequence[Sequence[str]],
    path: str | Path,
    width: int = 1200,
    line_height: int = 64,
) -> Path:
    """A PNG stacking each line image (scaled to ``line_height``) above its caption rows."""
    font = caption_font()
    rows = []
    for image, caption in zip(images, captions):
        image = image.convert("RGB")
        scale = min(line_height / image.height, width / image.width)
        image = image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))))
        block = Image.new("RGB", (width, image.height + 20 * len(caption) + 12), "white")
        block.paste(image, (0, 0))
        draw = ImageDraw.Draw(block)
        for k, text in enumerate(caption):
            draw.text((4, image.height + 4 + 20 * k), text, fill=(180, 0, 0) if k else (0, 0, 120), font=font)
        rows.append(block)
    canvas = Image.new("RGB", (width, max(1, sum(r.height for r in rows))), "white")
    y = 0
    for row in rows:
        canvas.paste(row, (0, y))
        y += row.height
    canvas.save(path)
    return Path(path)


def training_curve(log_path: str | Path, path: str | Path) -> Path | None:
    """Training loss and validation CER against steps, from the JSONL log; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    records = [json.loads(line) for line in Path(log_path).read_text("utf-8").splitlines() if line.strip()]
    train = [r for r in records if r.get("kind") == "train"]
    val = [r for r in records if r.get("kind") == "val"]
    fig, loss_axis = plt.subplots(figsize=(8, 4.5))
    loss_axis.plot([r["step"] for r in train], [r["loss"] for r in train], color="tab:blue", alpha=0.7)
    loss_axis.set_xlabel("step")
    loss_axis.set_ylabel("CTC loss per line", color="tab:blue")
    loss_axis.set_yscale("log")
    if val:
        cer_axis = loss_axis.twinx()
        cer_axis.plot([r["step"] for r in val], [100 * r["cer"] for r in val], "o-", color="tab:red")
        cer_axis.set_ylabel("validation CER %", color="tab:red")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
