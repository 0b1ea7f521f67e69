import pytest
import torch

from sparkhtr.model.config import ARCHITECTURES, ModelConfig, architecture
from sparkhtr.model.files import ModelFileError, build_model, load_model, save_model
from sparkhtr.model.span import PooledDropout, SpanLineModel


def test_full_span_has_the_published_parameter_count():
    model = SpanLineModel(architecture("span"), num_classes=80)  # IAM: 79 characters + blank
    assert sum(p.numel() for p in model.parameters()) == 18_189_648


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_every_variant_maps_width_to_frames(name):
    arch = architecture(name)
    model = SpanLineModel(arch, num_classes=12).eval()
    with torch.no_grad():
        out = model(torch.randn(2, arch.input_channels, 40, 203))
    assert out.shape == (2, 26, 12)  # ceil(203 / 8) frames
    assert torch.allclose(out.exp().sum(-1), torch.ones(2, 26), atol=1e-4)


def test_padding_does_not_change_a_line():
    """Masks make a padded line's output equal to the same line run alone (exact in float64)."""
    model = SpanLineModel(architecture("span_quarter"), num_classes=9).double().eval()
    lines = [torch.randn(1, 1, h, w, dtype=torch.float64) for h, w in [(40, 120), (33, 57), (40, 9)]]
    batch = torch.zeros(3, 1, 40, 120, dtype=torch.float64)
    for i, line in enumerate(lines):
        batch[i, :, : line.shape[2], : line.shape[3]] = line
    sizes = torch.tensor([[line.shape[2], line.shape[3]] for line in lines])
    with torch.no_grad():
        together = model(batch, sizes)
        for i, line in enumerate(lines):
            alone = model(line)
            frames = alone.shape[1]
            assert torch.equal(together[i, :frames], alone[0])


def test_training_mode_applies_mix_dropout():
    model = SpanLineModel(architecture("span_quarter"), num_classes=5).train()
    x = torch.randn(1, 1, 32, 64)
    torch.manual_seed(0)
    assert not torch.equal(model(x), model(x))


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_pooled_dropout_keeps_the_rate_and_the_expectation(p):
    dropout = PooledDropout(p, redraw_every=3).train()
    x = torch.ones(4, 8, 16, 50)
    outputs = [dropout(x) for _ in range(7)]  # crosses two pool redraws
    for out in outputs:
        kept = out != 0
        assert abs(kept.float().mean().item() - (1 - p)) < 0.02
        assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / (1 - p)))
    assert not torch.equal(outputs[0], outputs[1])  # a fresh window each call
    assert abs(torch.stack(outputs).mean().item() - 1.0) < 0.03  # inverted dropout: unbiased


def test_pooled_dropout_is_the_identity_in_eval_mode_and_follows_autograd():
    dropout = PooledDropout(0.3)
    x = torch.randn(2, 3, 4, 5, requires_grad=True)
    assert dropout.eval()(x) is x
    out = dropout.train()(x)
    out.sum().backward()
    assert torch.equal(x.grad != 0, out != 0)


def test_model_directory_round_trip_in_fp16(tmp_path):
    config = ModelConfig(architecture("span_quarter"), list("abc "))
    model = build_model(config).eval()
    save_model(tmp_path, model, config, dtype=torch.float16)
    loaded, loaded_config = load_model(tmp_path)
    assert loaded_config.to_dict() == config.to_dict()
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value.half().float()), key
    assert (tmp_path / "model.safetensors").stat().st_size < 2.1 * sum(p.numel() for p in model.parameters())


def test_missing_or_corrupt_model_files_name_the_file(tmp_path):
    with pytest.raises(ModelFileError, match="no such model directory"):
        load_model(tmp_path / "nowhere")
    config = ModelConfig(architecture("span_quarter"), list("ab"))
    save_model(tmp_path, build_model(config), config)
    (tmp_path / "model.safetensors").write_bytes(b"not safetensors at all")
    with pytest.raises(ModelFileError, match="model.safetensors"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text("{broken", "utf-8")
    with pytest.raises(ModelFileError, match="config.json"):
        load_model(tmp_path)
