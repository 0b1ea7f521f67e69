"""Language models by language: lm.<lang>.json.gz files in a model directory, chosen with ``lang``;
and `build-lm`'s prose options (wrapping, straight quotes, pruning) and tuning on a dev split."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sparkhtr.cli.build_lm import wrap_text
from sparkhtr.cli.main import main
from sparkhtr.text.decoders import make_decoder, model_languages
from sparkhtr.text.lm import CharNgramLM


def _language_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    CharNgramLM.train(["the house is here"], decoding={"lm_weight": 0.2, "length_bonus": 1.0}).save(
        folder / "lm.en.json.gz"
    )
    CharNgramLM.train(["la maison est ici"], decoding={"lm_weight": 0.6, "length_bonus": 1.0}).save(
        folder / "lm.fr.json.gz"
    )
    CharNgramLM.train(["mixed"], decoding={"lm_weight": 0.4, "length_bonus": 1.0}).save(folder / "lm.json.gz")
    return folder


def test_lang_chooses_the_language_s_lm_and_auto_the_mixed_one(tmp_path):
    folder = _language_dir(tmp_path)
    assert model_languages(folder) == ["en", "fr", "auto"]
    assert make_decoder("auto", folder, lang="en").lm_weight == 0.2
    assert make_decoder("beam", folder, lang="fr").lm_weight == 0.6
    for mixed in (None, "auto", "mixed"):
        assert make_decoder("auto", folder, lang=mixed).lm_weight == 0.4
    with pytest.raises(ValueError, match=r"lang='de'.*available: en, fr, auto"):
        make_decoder("auto", folder, lang="de")
    with pytest.raises(ValueError, match="not both"):
        make_decoder("beam", folder, lm=folder / "lm.json.gz", lang="en")
    with pytest.raises(ValueError, match="beam decoder only"):
        make_decoder("greedy", folder, lang="en")
    assert make_decoder("greedy", folder, lang="auto").name == "greedy"


def test_the_bundled_model_reads_with_each_shipped_language(val_lines):
    from sparkhtr import Recognizer
    from sparkhtr.registry import resolve_model

    langs = model_languages(resolve_model(None))
    assert {"en", "fr", "de", "auto"} <= set(langs)
    texts = {}
    for lang in ("en", "fr", "de"):
        recognizer = Recognizer.pretrained(lang=lang)
        assert recognizer.decoder.name == "beam" and recognizer.decoder.lexicon is not None
        texts[lang] = recognizer.recognize(val_lines[0]).text
        assert texts[lang]
    with pytest.raises(ValueError, match="lang='xx'"):
        Recognizer.pretrained(lang="xx")


def test_wrap_cuts_prose_at_spaces():
    line = "one two three four five six seven eight nine ten"
    pieces = wrap_text(line, 15)
    assert " ".join(pieces) == line and all(len(p) <= 15 for p in pieces)
    assert wrap_text("unbreakableword and more", 5)[0] == "unbreakableword"
    assert wrap_text(line, 0) == [line]


def test_build_lm_from_prose_with_quotes_pruning_and_tuning_on_a_dev_split(small_dataset, tmp_path, capsys):
    prose = tmp_path / "prose.txt"
    prose.write_text(("It’s a “quiet” morning and the house is still. " * 40) + "\nrare words once\n", "utf-8")
    out = tmp_path / "lm.json.gz"
    assert main(["build-lm", str(prose), "--straight-quotes", "--wrap", "40", "--out", str(out)]) == 0
    lm = CharNgramLM.load(out)
    assert lm.log_prob("It", "'") > lm.log_prob("It", "’")
    full = len(lm.counts)
    assert main(["build-lm", str(prose), "--min-count", "3", "--out", str(out)]) == 0
    pruned = CharNgramLM.load(out)
    assert len(pruned.counts) < full and "" in pruned.counts
    capsys.readouterr()

    # --tune-on: the dataset's val lines (the small dataset's split map is its manifest), read as they are
    model = shutil.copytree(Path(__file__).resolve().parents[2] / "sparkhtr" / "pretrained" / "span_small_latin",
                            tmp_path / "model", ignore=shutil.ignore_patterns("lm*.json.gz", "*.onnx", "*.png"))
    args = ["build-lm", str(prose), "--model", str(model), "--out", str(out), "--tune-on", str(small_dataset),
            "--tune-split", "val"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "on 8 held-out lines (kept out of the LM):" in printed
    assert set(CharNgramLM.load(out).decoding) == {"lm_weight", "length_bonus", "beam_width"}


def test_an_lm_file_is_read_once_while_it_is_unchanged(tmp_path):
    """Recognizers built on one LM file share it (the bundled one takes seconds to read); a file
    written anew is read anew."""
    folder = _language_dir(tmp_path)
    first, second = make_decoder("beam", folder, lang="en"), make_decoder("beam", folder, lang="en")
    assert first.lm is second.lm
    CharNgramLM.train(["the house is there now"], decoding={"lm_weight": 0.9, "length_bonus": 1.0}).save(
        folder / "lm.en.json.gz"
    )
    third = make_decoder("beam", folder, lang="en")
    assert third.lm is not first.lm and third.lm_weight == 0.9
