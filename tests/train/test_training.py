import json

import pytest

from sparkhtr import Recognizer
from sparkhtr.train.config import load_train_config
from sparkhtr.train.loop import train


def _log(model_dir):
    return [json.loads(x) for x in (model_dir / "log.jsonl").read_text("utf-8").splitlines()]


def test_training_lowers_the_loss_and_writes_a_usable_model(trained_model_dir, val_lines):
    records = _log(trained_model_dir)
    losses = [r["loss"] for r in records if r["kind"] == "train"]
    assert len(losses) == 2 and losses[-1] < losses[0]
    assert [r["step"] for r in records if r["kind"] == "val"] == [40]
    assert (trained_model_dir / "curve.png").stat().st_size > 1000
    result = Recognizer.load(trained_model_dir).recognize(val_lines[0])
    assert result.ok and isinstance(result.text, str)


def test_training_ends_by_measuring_the_position_lag(trained_model_dir):
    """The saved model's config carries the lag the log reports (0 with an error for a model this
    young, which reads too few spaces near word gaps; the bundled model's was 2.5 frames)."""
    (record,) = [r for r in _log(trained_model_dir) if r["kind"] == "position_lag"]
    config = json.loads((trained_model_dir / "config.json").read_text("utf-8"))
    assert config["position_lag"] == record["frames"]
    assert record["frames"] > 0 or "cannot measure the position lag" in record["error"]


def test_a_measured_position_lag_goes_into_the_config(trained_model_dir, tmp_path, monkeypatch):
    """The end-of-training step with a model that does read spaces (its measurement stood in for)."""
    import shutil

    from sparkhtr.calibrate import position_lag as positions
    from sparkhtr.train.loop import _store_position_lag

    model = shutil.copytree(trained_model_dir, tmp_path / "model")
    measured = positions.PositionLag(frames=2.25, spaces=80, lines=20)
    monkeypatch.setattr(positions, "estimate_position_lag", lambda recognizer, images: measured)
    records = []
    _store_position_lag(model, [], records.append)
    assert records == [{"kind": "position_lag", "frames": 2.25, "spaces": 80, "lines": 20}]
    assert Recognizer.load(model).config.position_lag == 2.25


def test_resume_continues_from_the_checkpoint(trained_model_dir, small_dataset, tmp_path):
    import shutil

    out = tmp_path / "resumed"
    shutil.copytree(trained_model_dir, out)
    config = load_train_config(None, out=str(out), train=[str(small_dataset)], architecture="span_quarter",
                               line_height=32, steps=44, batch_size=4, augment_p=0.0, workers=0, charset="data")
    train(config, resume=True, progress=False)
    starts = [r for r in _log(out) if r["kind"] == "start"]
    assert [s["step"] for s in starts] == [0, 40]
    assert [r for r in _log(out) if r["kind"] == "end"][-1]["step"] == 44


def test_fine_tuning_with_a_new_charset_keeps_the_encoder(trained_model_dir, small_dataset, tmp_path):
    from sparkhtr.model.files import load_model

    out = tmp_path / "tuned"
    config = load_train_config(None, out=str(out), train=[str(small_dataset)], architecture="span_quarter",
                               line_height=32, steps=1, batch_size=2, augment_p=0.0, workers=0, lr=1e-9,
                               warmup_steps=1, charset=list("abcdefghijklmnopqrstuvwxyz ,.'éèà"),
                               init_from=str(trained_model_dir))
    train(config, progress=False)
    base, _ = load_model(trained_model_dir)
    tuned, tuned_config = load_model(out)
    assert tuned_config.charset[:3] == ["a", "b", "c"]
    assert tuned.end_conv.weight.shape[0] == len(tuned_config.charset) + 1
    key = "init_blocks.0.conv1.weight"
    assert (tuned.state_dict()[key] - base.state_dict()[key]).abs().max() < 1e-5
    skipped = [r for r in _log(out) if r["kind"] == "skipped"]
    assert skipped and all("not in the charset" in r["reason"] for r in skipped)
    assert _log(out)[-1]["skipped_lines"] == len(skipped)


def test_config_files_and_their_errors(tmp_path):
    (tmp_path / "a.yaml").write_text("steps: 7\ntrain:\n  - spec: data/x\n    weight: 0.5\n  - synthetic:fonts@2\n")
    config = load_train_config(tmp_path / "a.yaml", lr=0.01)
    assert (config.steps, config.lr) == (7, 0.01)
    assert [(s.spec, s.weight) for s in config.train] == [("data/x", 0.5), ("synthetic:fonts", 2.0)]
    (tmp_path / "b.toml").write_text('steps = 3\narchitecture = "span_half"\n')
    assert load_train_config(tmp_path / "b.toml").architecture == "span_half"
    (tmp_path / "c.yaml").write_text("stpes: 3\n")
    with pytest.raises(ValueError, match="unknown training settings: stpes"):
        load_train_config(tmp_path / "c.yaml")


def test_moving_average_weights_are_validated_saved_and_resumed(trained_model_dir, small_dataset, tmp_path):
    import torch
    from safetensors.torch import load_file

    out = tmp_path / "ema"
    settings = dict(out=str(out), train=[str(small_dataset)], val=str(small_dataset), architecture="span_quarter",
                    line_height=32, batch_size=4, eval_every=6, checkpoint_every=6, augment_p=0.0, workers=0,
                    warmup_steps=1, lr=1e-3, charset="data", init_from=str(trained_model_dir), ema_decay=0.5)
    train(load_train_config(None, steps=6, **settings), progress=False)
    key = "init_blocks.0.conv1.weight"
    first = torch.load(out / "last.ckpt", weights_only=True)
    saved = load_file(out / "model.safetensors")
    assert torch.equal(saved[key], first["ema"]["module." + key])  # the average is what was kept
    assert not torch.allclose(saved[key], first["model"][key])
    train(load_train_config(None, steps=8, **settings), resume=True, progress=False)
    second = torch.load(out / "last.ckpt", weights_only=True)
    assert int(second["ema"]["n_averaged"]) == 8  # resumed the average, did not restart it
    with pytest.raises(ValueError, match="ema_decay must be between 0 and 1"):
        train(load_train_config(None, steps=1, **{**settings, "ema_decay": 1.5, "out": str(tmp_path / "x")}),
              progress=False)


def test_fine_tuning_can_add_the_ink_share_crop(trained_model_dir, small_dataset, tmp_path):
    """--min-ink-share on a fine-tune: the base's pixel statistics stay (its weights expect them),
    the crop rule is the run's, and the saved model prepares lines with it."""
    from sparkhtr.model.files import load_config

    out = tmp_path / "cropped"
    config = load_train_config(None, out=str(out), train=[str(small_dataset)], architecture="span_quarter",
                               line_height=32, steps=1, batch_size=2, augment_p=0.0, workers=0, lr=1e-9,
                               warmup_steps=1, charset="data", init_from=str(trained_model_dir), min_ink_share=0.6)
    train(config, progress=False)
    base, tuned = load_config(trained_model_dir).preprocessing, load_config(out).preprocessing
    assert base.min_ink_share is None and tuned.min_ink_share == 0.6
    assert (tuned.mean, tuned.std, tuned.line_height) == (base.mean, base.std, base.line_height)


def test_writer_style_augmentation_trains_and_is_recorded(trained_model_dir, small_dataset, tmp_path):
    """writer_augment_p runs through the data pipeline (slanted, rescaled lines of new widths) and
    is recorded with the run's settings."""
    out = tmp_path / "writer_style"
    config = load_train_config(None, out=str(out), train=[str(small_dataset)], architecture="span_quarter",
                               line_height=32, steps=3, batch_size=2, augment_p=0.0, writer_augment_p=1.0,
                               workers=0, lr=1e-9, warmup_steps=1, charset="data", init_from=str(trained_model_dir))
    train(config, progress=False)
    start = next(r for r in _log(out) if r["kind"] == "start")
    assert start["config"]["writer_augment_p"] == 1.0
    assert [r for r in _log(out) if r["kind"] == "end"][-1]["step"] == 3


def test_a_cpu_time_budget_ends_the_run(trained_model_dir, small_dataset, tmp_path):
    """clock: cpu counts the process's CPU time, so a run's budget does not shrink when other work
    shares the cores (how the architecture comparison gives each variant the same compute)."""
    import time

    out = tmp_path / "cpu_budget"
    config = load_train_config(None, out=str(out), train=[str(small_dataset)], architecture="span_quarter",
                               line_height=32, steps=50, batch_size=2, augment_p=0.0, workers=0, lr=1e-9,
                               warmup_steps=1, charset="data", init_from=str(trained_model_dir),
                               max_minutes=0.0001, clock="cpu")
    cpu_before = time.process_time()
    train(config, progress=False)
    end = [r for r in _log(out) if r["kind"] == "end"][-1]
    assert end["step"] == 1  # the budget (6 ms of CPU) ran out after the first step
    assert 0 < end["minutes"] * 60 <= time.process_time() - cpu_before
    with pytest.raises(ValueError, match="clock must be 'wall' or 'cpu'"):
        load_train_config(None, clock="gpu")
