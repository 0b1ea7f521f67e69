"""`sparkhtr train`: train a SPAN line model from a config file and/or flags."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train a line model", description=__doc__)
    p.add_argument("--config", help="YAML or TOML file with training settings (flags override it)")
    p.add_argument(
        "--train",
        action="append",
        metavar="SPEC[@WEIGHT]",
        help="training data, repeatable: a folder, KIND:PATH (iam, rimes, read2016, page, alto) "
        "or synthetic:FONTS_DIR, with an optional mixing weight, e.g. data/lines@0.5",
    )
    p.add_argument(
        "--val", action="append", help="validation dataset spec, repeatable (their 'val' split is used)"
    )
    p.add_argument("--val-split", help="split of --val to validate on (default val)")
    p.add_argument(
        "--splits", metavar="PATH",
        help="a split map, or a folder of <dataset>.tsv split maps (e.g. configs/splits), for every dataset",
    )
    p.add_argument("--out", help="output model directory")
    p.add_argument("--architecture", help="span, span_half, span_small or span_quarter")
    p.add_argument("--line-height", type=int)
    p.add_argument(
        "--min-ink-share", type=float, help="crop lines whose ink fills less of their height than this (e.g. 0.6)"
    )
    p.add_argument("--dropout", type=float, help="MixDropout rate (SPAN: 0.5)")
    p.add_argument("--charset", help="'latin' (default), 'data', or a file with one character per line")
    p.add_argument("--init-from", help="model directory to fine-tune from (new charset: new head)")
    p.add_argument("--steps", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--eval-every", type=int)
    p.add_argument("--checkpoint-every", type=int)
    p.add_argument("--augment-p", type=float)
    p.add_argument(
        "--writer-augment-p", type=float,
        help="also slant, widen/narrow and thicken/thin lines, each with this probability (default 0: off)",
    )
    p.add_argument(
        "--ema-decay",
        type=float,
        help="validate and save an exponential moving average of the weights, e.g. 0.999 (default, 0: off)",
    )
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="cpu or cuda")
    p.add_argument("--precision", choices=["bf16", "fp32"])
    p.add_argument("--threads", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument("--max-minutes", type=float)
    p.add_argument(
        "--clock", choices=["wall", "cpu"],
        help="what --max-minutes counts: elapsed time (default) or this process's CPU time (fair comparisons)",
    )
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.ckpt")
    p.set_defaults(func=run)


def _charset(value: str | None):
    if value is None or value in ("latin", "data"):
        return value
    from sparkhtr.model.span_import import read_charset_file  # one reader of charset files for every command

    return read_charset_file(value)


def run(args: argparse.Namespace) -> int:
    from sparkhtr.train.config import load_train_config
    from sparkhtr.train.loop import train

    config = load_train_config(
        args.config,
        out=args.out,
        train=args.train,
        val=args.val,
        val_split=args.val_split,
        splits=args.splits,
        architecture=args.architecture,
        line_height=args.line_height,
        min_ink_share=args.min_ink_share,
        dropout=args.dropout,
        charset=_charset(args.charset),
        init_from=args.init_from,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        eval_every=args.eval_every,
        checkpoint_every=args.checkpoint_every,
        augment_p=args.augment_p,
        writer_augment_p=args.writer_augment_p,
        ema_decay=args.ema_decay,
        seed=args.seed,
        device=args.device,
        precision=args.precision,
        threads=args.threads,
        workers=args.workers,
        max_minutes=args.max_minutes,
        clock=args.clock,
    )
    if not config.train:
        raise ValueError("no training data: give --train SPEC or a config file with a 'train' list")
    out = train(config, resume=args.resume)
    print(f"model written to {out}")
    return 0
