"""The command line, run in-process on real line images and real model directories."""

import json
from pathlib import Path

import pytest

from sparkhtr.cli.main import main

EXAMPLE_LINE = Path(__file__).resolve().parents[2] / "examples" / "cdj_imp_0123_l01.png"


def test_recognize_jsonl_reports_bad_files_and_keeps_going(trained_model_dir, val_lines, tmp_path, capsys):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image", "utf-8")
    code = main(["recognize", "--model", str(trained_model_dir), "--format", "jsonl", str(val_lines[0]), str(bad),
                 str(val_lines[1])])
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert [r["path"] for r in rows] == [str(val_lines[0]), str(bad), str(val_lines[1])]
    assert rows[1]["text"] is None and "notes.png" in rows[1]["error"]
    assert rows[0]["error"] is None and isinstance(rows[0]["text"], str) and 0 < rows[0]["confidence"] <= 1
    assert "notes.png" in err


def test_recognize_text_and_tsv(trained_model_dir, val_lines, capsys):
    assert main(["recognize", "--model", str(trained_model_dir), str(val_lines[0])]) == 0
    text = capsys.readouterr().out.rstrip("\n")
    assert main(["recognize", "--model", str(trained_model_dir), "--format", "tsv", str(val_lines[0])]) == 0
    path, tsv_text, confidence, error = capsys.readouterr().out.rstrip("\n").split("\t")
    assert (path, tsv_text, error) == (str(val_lines[0]), text, "")
    assert 0 < float(confidence) <= 1


def test_recognize_reads_folders_and_the_bundled_onnx_model(tmp_path, capsys):
    """`sparkhtr recognize examples/`: every image below the folder, in order, with the bundled model;
    the onnx backend (the model.int8.onnx shipped beside the weights) reads the same lines. (The
    example lines without examples/pages/, whose page is read with --paragraph.)"""
    import shutil
    from pathlib import Path

    examples = tmp_path / "examples"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples", examples, ignore=shutil.ignore_patterns("pages"))
    assert main(["recognize", str(examples), "--threads", "1"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [Path(path).name for path, _ in rows] == [p.name for p in sorted(examples.rglob("*.png"))]
    assert all(len(text) > 10 for _, text in rows)
    assert main(["recognize", str(examples), "--backend", "onnx", "--format", "tsv"]) == 0
    onnx_rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [row[0] for row in onnx_rows] == [path for path, _ in rows]
    assert all(len(row[1]) > 10 for row in onnx_rows)


def test_recognize_and_evaluate_with_letter_case(val_lines, tmp_path, capsys):
    """--letter-case upper on recognize, and on evaluate, whose summary names it."""
    assert main(["recognize", "--decoder", "greedy", str(val_lines[0])]) == 0
    as_read = capsys.readouterr().out.rstrip("\n")
    assert main(["recognize", "--decoder", "greedy", "--letter-case", "upper", str(val_lines[0])]) == 0
    assert capsys.readouterr().out.rstrip("\n") == as_read.upper()
    data = tmp_path / "lines"
    data.mkdir()
    for path in val_lines[:2]:
        (data / path.name).write_bytes(path.read_bytes())
        (data / path.name).with_suffix(".txt").write_text(path.with_suffix(".txt").read_text("utf-8"), "utf-8")
    out_dir = tmp_path / "eval"
    command = ["evaluate", str(data), "--split", "all", "--decoder", "greedy", "--letter-case", "lower"]
    assert main([*command, "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert json.loads(out.splitlines()[0])["letter_case"] == "lower"
    assert "letters written in lower case" in out
    predictions = [json.loads(line)["prediction"] for line in (out_dir / "lines.jsonl").read_text("utf-8").splitlines()]
    assert len(predictions) == 2 and all(p == p.lower() for p in predictions)


def test_a_reader_that_stops_early_ends_the_command_quietly(val_lines):
    """`sparkhtr recognize ... | head -1`: the closed pipe stops it with no error message."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "sparkhtr.cli.main", "recognize", "--backend", "onnx", "--decoder", "greedy",
               "--format", "jsonl", *[str(val_lines[0])] * 200]  # far more than a pipe buffer holds
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert json.loads(process.stdout.readline())["error"] is None
    process.stdout.close()
    stderr = process.communicate(timeout=300)[1].decode()
    assert process.returncode == 141
    assert "Broken pipe" not in stderr and "Traceback" not in stderr


def test_recognize_an_empty_folder_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("no images here", "utf-8")
    assert main(["recognize", str(tmp_path)]) == 2
    assert "no image files under" in capsys.readouterr().err


def test_pixel_limit_is_configurable(trained_model_dir, val_lines, capsys):
    assert main(["recognize", "--model", str(trained_model_dir), "--max-pixels", "1000", str(val_lines[0])]) == 1
    assert "pixel limit" in capsys.readouterr().err


def test_line_limit_is_configurable(trained_model_dir, val_lines, capsys):
    """--max-line-pixels bounds what the network is given: a normal line is refused under a tiny limit,
    and the refusal names the file and the flag."""
    args = ["recognize", "--model", str(trained_model_dir), str(val_lines[0]), str(val_lines[1])]
    assert main(args) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2
    assert main([args[0], "--max-line-pixels", "2000", *args[1:]]) == 1
    err = capsys.readouterr().err
    assert str(val_lines[0]) in err and "--max-line-pixels" in err and "over the limit of 2,000 pixels" in err


def test_missing_model_is_a_clear_error(tmp_path, val_lines, capsys):
    assert main(["recognize", "--model", str(tmp_path), str(val_lines[0])]) == 2
    assert "config.json" in capsys.readouterr().err


def test_evaluate_writes_scores_lines_and_picture(trained_model_dir, small_dataset, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(trained_model_dir), str(small_dataset), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    lines = [json.loads(x) for x in (out / "lines.jsonl").read_text("utf-8").splitlines()]
    assert summary["lines"] == len(lines) == 8
    assert summary["characters"] == sum(len(x["reference"]) for x in lines)
    assert summary["cer"] == sum(x["char_errors"] for x in lines) / summary["characters"]
    assert (out / "worst_lines.png").stat().st_size > 1000
    assert "CER" in capsys.readouterr().out


def test_models_lists_cached_models(trained_model_dir, tmp_path, monkeypatch, capsys):
    import shutil

    shutil.copytree(trained_model_dir, tmp_path / "my_model", ignore=shutil.ignore_patterns("*.ckpt"))
    monkeypatch.setenv("SPARKHTR_CACHE", str(tmp_path))
    assert main(["models"]) == 0
    assert "my_model\tcache" in capsys.readouterr().out


def test_build_lm_then_beam_decoding_from_the_model_directory(small_dataset, tmp_path, capsys):
    """`build-lm` into a copy of the bundled model; `--decoder beam` then finds and uses it."""
    import shutil

    from sparkhtr import Recognizer
    from sparkhtr.registry import resolve_model
    from sparkhtr.text.lm import CharNgramLM

    model = shutil.copytree(resolve_model(None), tmp_path / "model")
    lm_path = model / "lm.json.gz"
    args = ["build-lm", str(small_dataset), "--model", str(model), "--out", str(lm_path), "--lm-weight", "0.4"]
    assert main(args) == 0
    assert "48 lines" in capsys.readouterr().out  # the train split only
    assert CharNgramLM.load(lm_path).decoding["lm_weight"] == 0.4

    recognizer = Recognizer.load(model, decoder="beam")
    assert recognizer.decoder.lm is not None and recognizer.decoder.lm_weight == 0.4
    val = sorted(p for p in (small_dataset / "lines").glob("*.png"))[:3]
    beam = recognizer.recognize(val)
    assert all(r.text and 0 < r.confidence <= 1 for r in beam)
    assert all(0 <= c.x0 < c.x1 for r in beam for c in r.chars)

    assert main(["evaluate", str(small_dataset), "--model", str(model), "--decoder", "beam", "--limit", "3"]) == 0
    assert "beam decoding with a language model" in capsys.readouterr().out
    assert main(["evaluate", str(small_dataset), "--model", str(model), "--decoder", "greedy", "--limit", "3"]) == 0
    assert "greedy decoding" in capsys.readouterr().out
    assert main(["recognize", "--model", str(model), "--decoder", "greedy", "--lm", str(lm_path), str(val[0])]) == 2
    assert "beam decoder only" in capsys.readouterr().err


def test_auto_decoder_is_greedy_without_a_language_model_and_beam_with_one(trained_model_dir, small_dataset, tmp_path):
    from sparkhtr import Recognizer

    assert Recognizer.load(trained_model_dir).decoder.name == "greedy"  # no LM beside it
    lm_path = tmp_path / "lm.json.gz"
    assert main(["build-lm", str(small_dataset), "--model", str(trained_model_dir), "--out", str(lm_path)]) == 0
    assert Recognizer.load(trained_model_dir, lm=lm_path).decoder.name == "beam"  # an LM given: beam


def test_build_lm_tune_chooses_and_stores_the_best_beam_settings(small_dataset, tmp_path, capsys):
    """--tune 8: 8 train lines stay out of the LM, the model reads them, the best grid point is stored."""
    from sparkhtr.calibrate.tuning import LENGTH_BONUSES, LM_WEIGHTS
    from sparkhtr.text.lm import CharNgramLM

    lm_path = tmp_path / "tuned.json.gz"
    assert main(["build-lm", str(small_dataset), "--out", str(lm_path), "--tune", "8"]) == 0
    out = capsys.readouterr().out
    table = [line.split() for line in out.splitlines() if line.strip() and line.split()[0][0].isdigit()]
    assert len(table) == len(LM_WEIGHTS) * len(LENGTH_BONUSES)
    best = [row for row in table if row[-1] == "best"][0]
    assert min(float(row[4]) for row in table) == float(best[4])
    decoding = CharNgramLM.load(lm_path).decoding
    assert decoding == {"lm_weight": float(best[0]), "length_bonus": float(best[1]), "beam_width": 10}
    assert "on 8 held-out lines (kept out of the LM, degraded (p 1)):" in out and "greedy" in out
    assert "40 lines" in out or "39 lines" in out or "38 lines" in out  # 48 minus 8, minus repeats of their texts

    assert main(["build-lm", str(small_dataset), "--out", str(lm_path), "--caps-copies", "0.5"]) == 0
    assert "72 lines" in capsys.readouterr().out  # 48 + upper-cased copies of 24
    capitals = CharNgramLM.load(lm_path)
    assert capitals.log_prob("LA FÉDÉRATI", "O") > capitals.log_prob("LA FÉDÉRATI", "o")

    assert main(["build-lm", str(small_dataset), "--out", str(lm_path), "--tune", "8", "--lm-weight", "1"]) == 2
    assert "give either --tune or those" in capsys.readouterr().err
    assert main(["build-lm", str(small_dataset), "--out", str(lm_path), "--tune", "48"]) == 2
    assert "only 48 lines" in capsys.readouterr().err


def test_tune_lm_chooses_an_lm_files_settings_again_for_a_model(small_dataset, tmp_path, capsys):
    """tune-lm: the same grid as build-lm --tune-on, on the val lines, written into the file; the
    counts and the lexicon are not touched."""
    from sparkhtr.text.lm import CharNgramLM

    lm_path = tmp_path / "lm.json.gz"
    assert main(["build-lm", str(small_dataset), "--out", str(lm_path), "--lexicon", str(small_dataset / "lines" /
                 next(p.name for p in (small_dataset / "lines").glob("*.txt"))), "--lm-weight", "0.1"]) == 0
    before = CharNgramLM.load(lm_path)
    capsys.readouterr()
    out_path = tmp_path / "tuned.json.gz"
    assert main(["tune-lm", str(lm_path), "--tune-on", str(small_dataset), "--tune-split", "val", "--out",
                 str(out_path)]) == 0
    out = capsys.readouterr().out
    assert "beam settings on 8 val lines:" in out
    best = [line.split() for line in out.splitlines() if line.rstrip().endswith("best")][0]
    tuned = CharNgramLM.load(out_path)
    assert (tuned.decoding["lm_weight"], tuned.decoding["length_bonus"]) == (float(best[0]), float(best[1]))
    assert tuned.decoding["beam_width"] == before.decoding["beam_width"]
    assert tuned.counts == before.counts and tuned.lexicon.words == before.lexicon.words
    assert CharNgramLM.load(lm_path).decoding == before.decoding  # --out left the original as it was
    assert main(["tune-lm", str(lm_path), "--tune-on", str(small_dataset), "--tune-split", "nosuch"]) == 2
    assert "no lines in split 'nosuch'" in capsys.readouterr().err


def test_build_lm_with_a_lexicon_tunes_word_settings_and_decodes_with_them(small_dataset, tmp_path, capsys):
    """--lexicon: the LM's own words plus a word file's; --tune then also picks the word bonus and
    unknown-word penalty, and `evaluate` / `recognize` decode with what the file holds."""
    import shutil

    from sparkhtr.calibrate.tuning import LENGTH_BONUSES, LM_WEIGHTS, OOV_PENALTIES, WORD_BONUSES
    from sparkhtr.registry import resolve_model
    from sparkhtr.text.lm import CharNgramLM

    model = shutil.copytree(resolve_model(None), tmp_path / "model")
    (model / "lm.json.gz").unlink()
    words = tmp_path / "words.txt"
    words.write_text("Québec\nTrois-Rivières\nПривет\n", encoding="utf-8")
    lm_path = model / "lm.json.gz"
    args = ["build-lm", str(small_dataset), "--model", str(model), "--out", str(lm_path), "--tune", "8",
            "--tune-degrade", "0", "--lexicon", str(words), "--beam-width", "6"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "kept out of the LM):" in out  # --tune-degrade 0: the lines as they are
    table = [line.split() for line in out.splitlines() if line.strip() and line.split()[0][0].isdigit()]
    grid = len(LM_WEIGHTS) * len(LENGTH_BONUSES) + len(WORD_BONUSES) * len(OOV_PENALTIES) - 1
    assert len(table) in (grid, grid + len(LENGTH_BONUSES) - 1)  # + length bonuses again at word settings
    best = [row for row in table if row[-1] == "best"][0]
    assert min(float(row[4]) for row in table) == float(best[4])
    lm = CharNgramLM.load(lm_path)
    assert lm.decoding == {"lm_weight": float(best[0]), "length_bonus": float(best[1]), "word_bonus": float(best[2]),
                           "oov_penalty": float(best[3]), "beam_width": 6}
    assert {"québec", "trois", "rivières", "fédération"} <= lm.lexicon.words  # the file's and the LM's own
    assert "привет" not in lm.lexicon.words  # the charset cannot spell it
    assert f"{len(lm.lexicon)} lexicon words" in out

    assert main(["evaluate", str(small_dataset), "--model", str(model), "--limit", "3", "--oov-penalty", "0"]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[0])
    assert summary["lexicon_words"] == len(lm.lexicon) and summary["oov_penalty"] == 0.0  # the flag beats the file
    assert summary["word_bonus"] == lm.decoding["word_bonus"] and summary["beam_width"] == 6
    val = sorted((small_dataset / "lines").glob("*.png"))[0]
    assert main(["recognize", "--model", str(model), "--format", "jsonl", str(val)]) == 0
    assert json.loads(capsys.readouterr().out)["text"]


def test_build_lm_lexicon_and_setting_errors(small_dataset, tmp_path, capsys):
    lm_path = tmp_path / "lm.json.gz"
    dataset = ["build-lm", str(small_dataset), "--out", str(lm_path)]
    assert main([*dataset, "--lexicon", str(tmp_path / "none.txt")]) == 2
    assert "none.txt: no such file" in capsys.readouterr().err
    assert main([*dataset, "--lexicon", "wordfreq:fr"]) == 2
    assert "wordfreq:LANG:N" in capsys.readouterr().err
    assert main([*dataset, "--oov-penalty", "2"]) == 2
    assert "give --lexicon too" in capsys.readouterr().err
    assert main([*dataset, "--tune", "8", "--lexicon", "wordfreq:fr:10", "--word-bonus", "1"]) == 2
    assert "give either --tune or those" in capsys.readouterr().err
    assert main([*dataset, "--tune", "8", "--tune-degrade", "2"]) == 2
    assert "--tune-degrade must be between 0 and 1" in capsys.readouterr().err
    assert not lm_path.exists()


def test_build_lm_lexicon_from_wordfreq(small_dataset, tmp_path, capsys):
    pytest.importorskip("wordfreq")
    from sparkhtr.text.lm import CharNgramLM

    lm_path = tmp_path / "lm.json.gz"
    assert main(["build-lm", str(small_dataset), "--out", str(lm_path), "--lexicon", "wordfreq:fr:2000"]) == 0
    lm = CharNgramLM.load(lm_path)
    assert {"est", "avec", "pendant", "fédération"} <= lm.lexicon.words  # wordfreq's, and the LM's own
    assert (lm.decoding["word_bonus"], lm.decoding["oov_penalty"]) == (0.5, 2.0)  # untuned defaults
    assert main(["build-lm", str(small_dataset), "--out", str(lm_path), "--lexicon", "wordfreq:fr:0"]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_recognize_paragraph_prints_lines_and_boxes(make_paragraph, tmp_path, capsys):
    page, spans, _ = make_paragraph(3, 4)
    page.save(tmp_path / "page.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    assert main(["recognize", "--paragraph", str(tmp_path / "page.png")]) == 0
    text_lines = capsys.readouterr().out.rstrip("\n").split("\n")
    assert len(text_lines) == 3 and all(text_lines)

    images = [str(tmp_path / "page.png"), str(tmp_path / "broken.png")]
    code = main(["recognize", "--paragraph", "--format", "jsonl", *images])
    out, err = capsys.readouterr()
    page_row, broken_row = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and "broken.png" in err and "broken.png" in broken_row["error"]
    assert [line["text"] for line in page_row["lines"]] == text_lines
    for line, (top, bottom) in zip(page_row["lines"], spans):
        x0, y0, x1, y1 = line["box"]
        assert top <= (y0 + y1) / 2 < bottom and x0 < x1

    assert main(["recognize", "--paragraph", "--draw", str(tmp_path / "seen"), str(tmp_path / "page.png")]) == 0
    from PIL import Image

    picture = Image.open(tmp_path / "seen" / "page.lines.png")
    assert picture.size == (2 * page.width, page.height)  # the page, and the texts beside it
    assert main(["recognize", "--draw", str(tmp_path / "seen"), str(tmp_path / "page.png")]) == 2


def test_evaluate_several_datasets_prints_one_table(small_dataset, tmp_path, capsys):
    """Two datasets, one run: each one's line, then a table with a row per dataset and one for all."""
    import shutil

    other = shutil.copytree(small_dataset, tmp_path / "other_set")
    split_map = tmp_path / "ids.tsv"
    first_val = sorted((small_dataset / "lines").glob("*.png"))[0].stem
    split_map.write_text(f"id\tsplit\n{first_val}\tdev\n", "utf-8")
    command = ["evaluate", str(small_dataset), str(other), "--split", "dev", "--splits", str(split_map),
               "--decoder", "greedy", "--out", str(tmp_path / "eval")]
    assert main(command) == 0
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith("| ")]
    assert [row.split("|")[1].strip() for row in table[2:]] == [small_dataset.name, "other_set", "all"]
    assert all(row.split("|")[2].strip() == "1" for row in table[2:4]) and table[4].split("|")[2].strip() == "2"
    assert (tmp_path / "eval" / "other_set" / "summary.json").is_file()


def test_the_example_page_reads_as_a_page(tmp_path, capsys):
    """`sparkhtr recognize --paragraph examples/pages/*.jpg --draw DIR` (the README's page example):
    its lines found, read in order, and the picture drawn."""
    from pathlib import Path

    from PIL import Image

    page = Path(__file__).resolve().parents[2] / "examples" / "pages" / "lettre-boudreau-tessier_001.jpg"
    args = ["recognize", "--paragraph", "--lang", "fr", str(page), "--draw", str(tmp_path)]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert 15 <= len(lines) <= 22  # 18 lines of ink, the letter's date and number among them
    assert sum(len(line) for line in lines) > 250
    drawn = Image.open(tmp_path / "lettre-boudreau-tessier_001.lines.png")
    assert drawn.height == Image.open(page).height and drawn.width > Image.open(page).width  # texts beside the page
    # Given as a line, the page is read all the same, with a note that says how to read it as a page.
    assert main(["recognize", "--decoder", "greedy", str(page), str(EXAMPLE_LINE)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    assert captured.err.count("--paragraph") == 1 and "lettre-boudreau-tessier_001.jpg" in captured.err
