"""The int8 recipe: calibration lines shared out between collections, recipes checked, and
`sparkhtr export-onnx --int8 --record-dev` writing the dev CERs that backend="auto" reads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sparkhtr.calibrate.recipe import DEFAULT_RECIPE, QuantRecipe
from sparkhtr.cli.main import main
from sparkhtr.inference.loader import choose_backend, gpu_visible
from sparkhtr.model.files import INT8_ONNX_FILE, load_backends
from sparkhtr.registry import bundled_dir


def _dataset(root: Path, source: Path, ids: list[str], split: str) -> Path:
    (root / "lines").mkdir(parents=True)
    for line_id in ids:
        for suffix in (".png", ".txt"):
            shutil.copy(source / "lines" / f"{line_id}{suffix}", root / "lines")
    (root / "manifest.tsv").write_text("id\tsplit\n" + "".join(f"{i}\t{split}\n" for i in ids), "utf-8")
    return root


def test_calibration_lines_are_shared_out_evenly_and_spread(small_dataset: Path, tmp_path: Path) -> None:
    from sparkhtr.calibrate.quantize import calibration_samples
    from sparkhtr.data.datasets import open_dataset

    train = [s.id for s in open_dataset(str(small_dataset), split="train")]
    other = _dataset(tmp_path / "other", small_dataset, train[:10], "train")
    chosen = calibration_samples([str(small_dataset), str(other)], 9)
    assert len(chosen) == 9
    first, second = [s.id for s in chosen[:5]], [s.id for s in chosen[5:]]
    assert set(first) <= set(train) and set(second) <= set(train[:10])
    assert first == [train[i] for i in (0, 9, 19, 28, 38)]  # spread over all 48 lines, not the first five
    assert [s.id for s in calibration_samples([str(small_dataset), str(other)], 9)] == first + second  # reproducible
    with pytest.raises(ValueError, match="no 'dev' lines"):
        calibration_samples([str(small_dataset)], 4, split="dev")


@pytest.mark.parametrize("bad", [{"method": "mean"}, {"quant_format": "qint"}, {"percentile": 0}])
def test_recipes_refuse_unknown_settings(bad: dict) -> None:
    with pytest.raises(ValueError):
        QuantRecipe(**bad)


def test_a_histogram_recipe_calibrates_on_lines_of_different_widths(small_dataset: Path, tmp_path: Path) -> None:
    """onnxruntime's histogram calibration stacks a pass's lines into one array, which lines of
    different widths cannot form: each line must be a pass of its own."""
    pytest.importorskip("onnxruntime")
    from sparkhtr.calibrate.quantize import quantize_onnx
    from sparkhtr.io.image import load_image

    graph = tmp_path / "float.onnx"
    assert main(["export-onnx", "span_small_latin", str(graph), "--single-line"]) == 0
    lines = sorted(small_dataset.glob("lines/*.png"))[:4]
    assert len({load_image(p).width for p in lines}) > 1
    recipe = QuantRecipe(method="percentile", percentile=99.99)
    report = quantize_onnx(graph, tmp_path / "int8.onnx", (load_image(p) for p in lines), recipe)
    assert report.calibration_lines == 4 and report.recipe == recipe
    assert report.size_bytes < graph.stat().st_size / 2


def test_export_records_the_dev_cers_that_auto_reads(small_dataset: Path, tmp_path: Path, capsys) -> None:
    pytest.importorskip("onnxruntime")
    model = tmp_path / "model"
    model.mkdir()
    for name in ("config.json", "model.safetensors"):  # no LM: greedy decoding, fast
        shutil.copy(bundled_dir() / "span_small_latin" / name, model / name)
    config = json.loads((model / "config.json").read_text("utf-8"))
    config.pop("backends", None)
    (model / "config.json").write_text(json.dumps(config), "utf-8")
    out = model / INT8_ONNX_FILE
    args = ["export-onnx", str(model), str(out), "--single-line", "--int8", "--calibration", str(small_dataset),
            "--calibration-lines", "8", "--record-dev", "--dev-split", "val"]
    assert main(args) == 0
    record = load_backends(model)
    assert record["onnx"]["file"] == INT8_ONNX_FILE and record["torch"]["file"] == "model.safetensors"
    assert 0 < record["torch"]["dev_cer"] < 40  # the model reads these 8 val lines
    measured_on = json.loads((model / "config.json").read_text("utf-8"))["backends"]["measured_on"]
    assert "every val line of" in measured_on and "8 lines" in measured_on
    printed = capsys.readouterr().out
    assert "calibrated on 8 lines" in printed and "backend='auto'" in printed
    gap = record["onnx"]["dev_cer"] - record["torch"]["dev_cer"]
    assert gap <= 3.0, record  # int8 keeps the accuracy (CER points, on 8 lines)
    if not gpu_visible():
        assert choose_backend(model).backend == ("onnx" if gap <= 0.3 else "torch")
    assert config.items() <= json.loads((model / "config.json").read_text("utf-8")).items()  # every other key kept


def test_record_dev_needs_the_graph_inside_the_model_directory(small_dataset: Path, tmp_path: Path, capsys) -> None:
    args = ["export-onnx", "span_small_latin", str(tmp_path / "x.onnx"), "--int8", "--calibration",
            str(small_dataset), "--record-dev"]
    assert main(args) == 2
    assert "write OUT.onnx into" in capsys.readouterr().err
    assert main(["export-onnx", "span_small_latin", str(tmp_path / "x.onnx"), "--record-dev"]) == 2


def test_the_cli_shows_the_default_recipe(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["export-onnx", "--help"])
    shown = capsys.readouterr().out
    assert f"default {DEFAULT_RECIPE.method}" in shown and "--record-dev" in shown
