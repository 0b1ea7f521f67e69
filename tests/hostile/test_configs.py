"""Model configs and LM files are checked when loaded (issue #21): a value that would read every
line wrong (std NaN, line_height 0) or fail at recognize time is refused with the file's name."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from sparkhtr import Recognizer
from sparkhtr.model.config import ModelConfig
from sparkhtr.model.files import CONFIG_FILE, ModelFileError, load_model
from sparkhtr.text.lm import CharNgramLM


def _with(model_dir: Path, tmp_path: Path, edit) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    data = json.loads((copy / CONFIG_FILE).read_text("utf-8"))
    edit(data)
    (copy / CONFIG_FILE).write_text(json.dumps(data), "utf-8")  # json writes NaN / Infinity as Python does
    return copy


BAD_VALUES = [
    (lambda d: d["preprocessing"].update(std=[float("nan")]), "std"),
    (lambda d: d["preprocessing"].update(mean=[float("inf")]), "mean"),
    (lambda d: d["preprocessing"].update(line_height=0), "line_height"),
    (lambda d: d["preprocessing"].update(line_height=10**9), "line_height"),
    (lambda d: d["preprocessing"].update(line_height="64"), "line_height"),
    (lambda d: d["preprocessing"].update(rescale=0), "rescale"),
    (lambda d: d["preprocessing"].update(min_ink_share=float("nan")), "min_ink_share"),
    (lambda d: d["preprocessing"].update(channels=True), "channels"),
    (lambda d: d["preprocessing"].update(channels=3, mean=[1, 1, 1], std=[1, 1, 1]), "channel"),
    (lambda d: d["architecture"].update(conv_channels=[8, 16, 32, 64, 128, 10**9]), "conv_channels"),
    (lambda d: d["architecture"].update(dropout=float("nan")), "dropout"),
    (lambda d: d["architecture"].update(num_dsc_blocks=-1), "num_dsc_blocks"),
    (lambda d: d.update(charset=d["charset"] + ["a"]), "repeated"),
    (lambda d: d.update(charset=d["charset"] + ["\x00"]), "control"),
    (lambda d: d.update(charset=d["charset"][:-1] + [""]), "non-empty"),
    (lambda d: d.update(charset=d["charset"][:-1] + [7]), "non-empty string"),
    (lambda d: d.update(charset="abc"), "list of strings"),
    (lambda d: d.update(position_lag=float("-inf")), "position_lag"),
    (lambda d: d.update(provenance=[1, 2]), "provenance"),
    (lambda d: d.update(preprocessing=None), "preprocessing"),
]


@pytest.mark.parametrize("edit, field", BAD_VALUES)
def test_bad_config_values_are_refused_at_load(random_model_dir, tmp_path, edit, field):
    model_dir = _with(random_model_dir, tmp_path, edit)
    with pytest.raises(ModelFileError, match=field) as caught:
        load_model(model_dir)
    assert str(model_dir / CONFIG_FILE) in str(caught.value)
    with pytest.raises(ModelFileError):
        Recognizer.load(model_dir, decoder="greedy")


def test_config_that_is_not_an_object_or_too_deep(random_model_dir, tmp_path):
    for text in ("[1, 2]", "[" * 100_000 + "]" * 100_000, "\xff"):
        copy = _with(random_model_dir, tmp_path / str(len(text)), lambda d: None)
        (copy / CONFIG_FILE).write_text(text, "utf-8")
        with pytest.raises(ModelFileError, match="not a valid model config"):
            load_model(copy)


def test_nan_weights_are_refused(random_model_dir, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    copy = _with(random_model_dir, tmp_path, lambda d: None)
    state = load_file(str(copy / "model.safetensors"))
    name = next(iter(state))
    state[name] = torch.full_like(state[name], float("nan"))
    save_file(state, str(copy / "model.safetensors"))
    with pytest.raises(ModelFileError, match="NaN or infinite"):
        load_model(copy)


def test_valid_configs_still_load_and_round_trip(random_model_dir):
    _, config = load_model(random_model_dir)
    assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    bundled = Recognizer.pretrained(decoder="greedy").config
    assert ModelConfig.from_dict(bundled.to_dict()) == bundled


def _lm_file(tmp_path: Path, edit) -> Path:
    lm = CharNgramLM.train(["une ligne de texte", "another line"], order=3)
    path = lm.save(tmp_path / "lm.json.gz")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    edit(data)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(data, handle)
    return path


def _wrapping_sizes(data: dict) -> None:
    # Sizes near 2**63 whose sum wraps around to the followers' count: np.repeat wrote past its array.
    sizes = data["sizes"]
    sizes[:] = [2**63 - 1, 2**63 - 1, len(data["followers"]) - len(sizes) + 5] + [1] * (len(sizes) - 3)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.update(order=0), "order"),
        (lambda d: d.update(order=10**9), "order"),
        (lambda d: d.update(order=2.5), "order"),
        (lambda d: d.update(vocab=[1, 2]), "vocab"),
        (lambda d: d["counts"].__setitem__(0, -3), "counts must be positive"),
        (lambda d: d["counts"].__setitem__(0, float("nan")), "counts must be a list of integers"),
        (lambda d: d["counts"].__setitem__(0, 2**70), "counts must be a list of integers"),
        (lambda d: d["counts"].__setitem__(0, "3"), "counts must be a list of integers"),
        (lambda d: d["counts"].pop(), "one per follower"),
        (lambda d: d["sizes"].__setitem__(1, 0), "sizes must give each context"),
        (_wrapping_sizes, "sizes must give each context"),
        (lambda d: d.update(lengths=d["lengths"][:-1] + [9], contexts=d["contexts"][:-2] + "abcdefghi"), "order"),
        (lambda d: d.update(lengths=[1] + d["lengths"][1:]), "empty context"),
        (lambda d: d.update(contexts=d["contexts"][:-1] + "\u20ac"), "suffix"),  # a context no walk reaches
        (lambda d: d.update(followers=d["followers"][::-1]), "code-point order"),
        (lambda d: d.update(contexts="x" * 10**6), "add up"),
        (lambda d: d["decoding"].update(lm_weight=float("nan")), "lm_weight"),
        (lambda d: d["decoding"].update(beam_width=0), "beam_width"),
        (lambda d: d.update(decoding=[1]), "decoding"),
    ],
)
def test_damaged_lm_files_are_refused_with_their_name(tmp_path, edit, message):
    path = _lm_file(tmp_path, edit)
    with pytest.raises(ValueError, match=message) as caught:
        CharNgramLM.load(path)
    assert str(path) in str(caught.value)


def test_a_sound_lm_file_still_loads(tmp_path):
    lm = CharNgramLM.load(_lm_file(tmp_path, lambda d: None))
    assert lm.order == 3 and lm.score("une ligne") < 0


def test_an_lm_file_listing_a_context_twice_is_refused(tmp_path):
    def twice(data):  # the last context again, with its followers and counts
        size, length = data["sizes"][-1], data["lengths"][-1]
        data["contexts"] += data["contexts"][-length:]
        data["lengths"].append(length)
        data["followers"] += data["followers"][-size:]
        data["sizes"].append(size)
        data["counts"] += data["counts"][-size:]

    with pytest.raises(ValueError, match="listed twice"):
        CharNgramLM.load(_lm_file(tmp_path, twice))


@pytest.mark.parametrize("followers, message", [({"ab": 1}, "one character"), ({"a": 2**63}, "64 bits")])
def test_format_2_counts_that_format_3_cannot_hold_are_refused(tmp_path, followers, message):
    # A follower of several characters misaligned the flat table (the compiled decoder read past
    # its counts); a count beyond 64 bits failed in every beam search.
    data = {"format": "sparkhtr-charlm/2", "order": 3, "vocab": ["a", "b"], "counts": {"": followers}}
    with gzip.open(tmp_path / "lm.json.gz", "wt", encoding="utf-8") as handle:
        json.dump(data, handle)
    with pytest.raises(ValueError, match=message):
        CharNgramLM.load(tmp_path / "lm.json.gz")


def test_an_lm_gzip_bomb_is_refused_before_it_fills_memory(tmp_path, monkeypatch):
    """A small gzip that inflates past the limit is refused while reading, naming the file."""
    import sparkhtr.text.lm as lm_module

    path = tmp_path / "bomb.json.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b" " * (8 << 20))  # 8 MB of spaces: 8 kB compressed
    monkeypatch.setattr(lm_module, "MAX_LM_BYTES", 4 << 20)
    with pytest.raises(ValueError, match="inflates to more than 4,194,304 bytes") as caught:
        CharNgramLM.load(path)
    assert str(path) in str(caught.value) and path.stat().st_size < 64_000
