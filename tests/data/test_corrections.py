"""Corrections files: transcriptions that replace wrong dataset labels in an evaluation."""

import json
from pathlib import Path

import pytest

from sparkhtr.cli.main import main
from sparkhtr.data.corrections import apply_corrections, read_corrections
from sparkhtr.data.datasets import open_dataset

REPO = Path(__file__).resolve().parents[2]


def test_the_copiste_corrections_file_reads_and_names_its_line():
    corrections = read_corrections(REPO / "benchmarks" / "label_corrections" / "copiste_dun_jour_fr.tsv")
    assert corrections == {"cdj_w_0007_l13": "par Ernst Zacharias, également auteur des Clavinet et Cembalet."}


@pytest.mark.parametrize(
    ("content", "problem"),
    [("line_1 no tab here\n", ":1: expected"), ("# why\n\nline_1\t  \n", ":3: expected"),
     ("line_1\ta\nline_1\tb\n", ":2: line 'line_1' is corrected twice")],
)
def test_a_malformed_file_names_the_file_and_line(tmp_path, content, problem):
    path = tmp_path / "fixes.tsv"
    path.write_text(content, "utf-8")
    with pytest.raises(ValueError, match=problem) as info:
        read_corrections(path)
    assert "fixes.tsv" in str(info.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.tsv"):
        read_corrections(tmp_path / "nothere.tsv")


def test_apply_replaces_only_the_named_lines_and_reports_the_rest(small_dataset):
    samples = open_dataset(str(small_dataset), split="val")
    fixed, corrected, unmatched = apply_corrections(samples, {samples[1].id: "Un texte corrigé", "no_such": "x"})
    assert corrected == [samples[1].id] and unmatched == ["no_such"]
    assert fixed[1].text == "Un texte corrigé"
    assert [s.text for s in fixed[:1] + fixed[2:]] == [s.text for s in samples[:1] + samples[2:]]
    assert fixed[1].image().size == samples[1].image().size  # the same line image, only its label changed


def test_evaluate_scores_against_the_corrected_labels(small_dataset, tmp_path, capsys):
    samples = open_dataset(str(small_dataset), split="val")
    fixes = tmp_path / "fixes.tsv"
    fixes.write_text(f"# the first val line, given the second's text\n{samples[0].id}\t{samples[1].text}\n", "utf-8")
    command = ["evaluate", str(small_dataset), "--decoder", "greedy", "--limit", "2"]
    assert main([*command, "--out", str(tmp_path / "plain")]) == 0
    capsys.readouterr()
    assert main([*command, "--corrections", str(fixes), "--out", str(tmp_path / "fixed")]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out.splitlines()[0])
    assert summary["corrected_lines"] == [samples[0].id] and "1 label(s) corrected" in out
    plain, fixed = ([json.loads(x) for x in (tmp_path / d / "lines.jsonl").read_text("utf-8").splitlines()]
                    for d in ("plain", "fixed"))
    assert fixed[0]["reference"] == samples[1].text != plain[0]["reference"]
    assert fixed[0]["prediction"] == plain[0]["prediction"] and fixed[1] == plain[1]


def test_read_normalises_the_text(tmp_path):
    path = tmp_path / "fixes.tsv"
    path.write_text("line_1\t  Un  texte   corrigé \n", "utf-8")
    assert read_corrections(path) == {"line_1": "Un texte corrigé"}
