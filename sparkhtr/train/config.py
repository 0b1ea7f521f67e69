"""Training configuration: the one place defaults live. A YAML/TOML file fills it; flags override."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["DataSource", "TrainConfig", "load_train_config"]


@dataclass
class DataSource:
    """A dataset spec (see ``sparkhtr.data.datasets``) or ``synthetic:FONTS_DIR``, with a mixing weight."""

    spec: str
    weight: float = 1.0
    split: str | None = "train"


@dataclass
class TrainConfig:
    out: str = "runs/model"
    train: list[DataSource] = field(default_factory=list)
    val: str | list[str] | None = None  # dataset spec(s); their ``val_split`` lines are used
    val_split: str = "val"
    splits: str | None = None  # a split map or a folder of them (sparkhtr.data.splits), for every real dataset
    val_limit: int | None = None  # validate on at most this many lines (None: all)
    architecture: str = "span_small"
    line_height: int = 64
    min_ink_share: float | None = None  # crop loose lines so their ink fills this share (PreprocessingConfig)
    dropout: float | None = None  # MixDropout rate; None: the architecture's (SPAN: 0.5)
    charset: list[str] | str | None = "latin"  # "latin", "data" (from the training texts) or a list
    init_from: str | None = None
    steps: int = 2000
    batch_size: int = 8
    lr: float = 1e-3
    warmup_steps: int = 200
    min_lr_ratio: float = 0.05  # cosine decay ends at lr * this
    augment_p: float = 0.2
    writer_augment_p: float = 0.0  # slant, letter width, stroke weight (augment.writer_style_augmentation)
    ema_decay: float | None = None  # validate and save a moving average of the weights (e.g. 0.999; 0/None: off)
    synthetic_size: int = 1_000_000
    synthetic_caps_ratio: float = 0.03  # synthetic lines in ALL CAPS (real sets have few; some writers use them)
    eval_every: int = 500
    checkpoint_every: int = 250
    seed: int = 0
    device: str = "cpu"
    precision: str = "bf16"  # "bf16" autocast or "fp32"
    threads: int | None = None
    workers: int = 1  # data-loading processes (rendering + augmentation)
    max_minutes: float | None = None  # stop (and save) after this much time, counted by ``clock``
    # "wall" (elapsed time) or "cpu" (this process's CPU time: a fair budget for comparing runs that
    # share cores with other work; give workers: 0 so data loading is counted too)
    clock: str = "wall"

    def __post_init__(self) -> None:
        if self.clock not in ("wall", "cpu"):
            raise ValueError(f"clock must be 'wall' or 'cpu', not {self.clock!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_train_config(path: str | Path | None, **overrides: Any) -> TrainConfig:
    """A config from a .yaml/.yml/.toml file (or defaults), then non-None ``overrides`` on top."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        text = path.read_text("utf-8")
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        else:
            import yaml  # the train extra's: only training reads YAML

            data = yaml.safe_load(text) or {}
    known = {f.name for f in fields(TrainConfig)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{path}: unknown training settings: {', '.join(sorted(unknown))}")
    data.update({k: v for k, v in overrides.items() if v is not None})
    data["train"] = [s if isinstance(s, DataSource) else _source(s) for s in data.get("train", [])]
    return TrainConfig(**data)


def _source(item: str | dict[str, Any]) -> DataSource:
    if isinstance(item, str):  # "SPEC" or "SPEC@WEIGHT"
        spec, _, weight = item.rpartition("@") if "@" in item else (item, "", "1")
        return DataSource(spec, float(weight))
    return DataSource(**item)
