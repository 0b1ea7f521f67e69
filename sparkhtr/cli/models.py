"""`sparkhtr models`: list the named models (bundled and in the cache folder)."""

from __future__ import annotations

import argparse
import json

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("models", help="list bundled and cached models", description=__doc__)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sparkhtr.registry import DEFAULT_MODEL, bundled_dir, list_models
    from sparkhtr.text.decoders import model_languages

    models = list_models()
    if not models:
        print("no models bundled or cached")
    for name, path in models.items():
        config = json.loads((path / "config.json").read_text("utf-8"))
        where = "bundled" if path.parent == bundled_dir() else "cache"
        default = " (default)" if name == DEFAULT_MODEL else ""
        arch = config["architecture"]["name"]
        langs = ",".join(model_languages(path)) or "-"
        print(f"{name}{default}\t{where}\t{arch}\t{len(config['charset'])} chars\tlang {langs}\t{path}")
    return 0
