"""scripts/average_models.py: the uniform average of several model directories' weights."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from sparkhtr.model.config import ModelConfig, PreprocessingConfig, architecture
from sparkhtr.model.files import build_model, load_model, save_model

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "average_models.py"


def _script():
    spec = importlib.util.spec_from_file_location("average_models", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _model(folder: Path, seed: int, charset: str = "abc ") -> Path:
    config = ModelConfig(architecture("span_quarter"), list(charset), PreprocessingConfig(line_height=32))
    torch.manual_seed(seed)
    return save_model(folder, build_model(config), config)


def test_the_average_holds_the_mean_of_each_weight_and_names_its_sources(tmp_path: Path) -> None:
    first, second = _model(tmp_path / "a", 1), _model(tmp_path / "b", 2)
    _script().average_models([first, second], tmp_path / "soup")
    soup, config = load_model(tmp_path / "soup")
    (a, _), (b, _) = load_model(first), load_model(second)
    for name, value in soup.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, (a.state_dict()[name] + b.state_dict()[name]) / 2)
    assert config.provenance["averaged_from"] == [str(first), str(second)]


def test_models_of_another_charset_are_refused(tmp_path: Path) -> None:
    sources = [_model(tmp_path / "a", 1), _model(tmp_path / "b", 2, "abcd ")]
    with pytest.raises(SystemExit, match="another architecture or charset"):
        _script().average_models(sources, tmp_path / "soup")
    assert not (tmp_path / "soup").exists()


def test_one_model_is_not_a_soup(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "argv", ["average_models.py", str(_model(tmp_path / "a", 1)), str(tmp_path / "soup")])
    with pytest.raises(SystemExit) as exit_info:
        _script().main()
    assert exit_info.value.code == 2 and "at least two" in capsys.readouterr().err
