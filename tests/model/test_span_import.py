"""Importing official SPAN checkpoints: the imported model must match SPAN's own forward pass.

The checkpoint is built here from the documented format (key names, shapes, extra keys), and the
expected outputs come from a reference forward pass written below with plain torch.nn.functional
calls straight from those facts (shared/reference/span_checkpoint_format.md), so the test does
not lean on sparkhtr's model code to judge itself.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from torch.nn import functional as F

from sparkhtr import Recognizer
from sparkhtr.cli.main import main
from sparkhtr.inference.preprocess import collate, prepare_line
from sparkhtr.model.files import load_config, load_model
from sparkhtr.model.span_import import SpanImportError, import_span_checkpoint, read_charset_file

LINES = Path(os.environ["SPARKHTR_SHARED"]) / "data" / "copiste_dun_jour_fr" / "lines"  # set by conftest
# Two short printed lines (548 and 629 px wide, 96 high) and a tiny handwritten one (50 x 64).
LINE_IMAGES = ["cdj_imp_0022_l07.png", "cdj_imp_0022_l19.png", "cdj_w_0180_1_l21.png"]

CHARSET = [" ", "'", ".", "a", "e", "l", "n", "o", "s", "é"]  # 10 characters: the head has 11 rows
MEAN = (231.5, 228.25, 224.0)
STD = (41.0, 43.5, 46.75)
TOLERANCE = 1e-4

# From the format facts: (out channels, conv3 stride (h, w)) of init_blocks.0..5; 4 DSC blocks of 512.
CONV_BLOCKS = [(32, (1, 1)), (64, (2, 2)), (128, (2, 2)), (256, (2, 2)), (512, (2, 1)), (512, (2, 1))]
DSC_BLOCKS = 4
EPS = 1e-3


# ------------------------------------------------------------------------------------------- fixtures


def make_span_state(num_chars: int, seed: int = 0, in_channels: int = 3) -> tuple[dict, dict]:
    """Random encoder and decoder state dicts with the official key names and shapes."""
    gen = torch.Generator().manual_seed(seed)

    def conv(out_c: int, in_c: int, k: int, fan_in: int) -> tuple[torch.Tensor, torch.Tensor]:
        weight = torch.randn(out_c, in_c, k, k, generator=gen) * math.sqrt(2.0 / fan_in)
        return weight, torch.randn(out_c, generator=gen) * 0.1

    encoder: dict[str, torch.Tensor] = {}
    channels = in_channels
    for i, (out_c, _) in enumerate(CONV_BLOCKS):
        for j, c_in in enumerate((channels, out_c, out_c), start=1):
            w, b = conv(out_c, c_in, 3, c_in * 9)
            encoder[f"init_blocks.{i}.conv{j}.weight"], encoder[f"init_blocks.{i}.conv{j}.bias"] = w, b
        channels = out_c
    for i in range(DSC_BLOCKS):
        for j in (1, 2, 3):
            p = f"blocks.{i}.conv{j}."
            encoder[p + "depth_conv.weight"], encoder[p + "depth_conv.bias"] = conv(512, 1, 3, 9)
            w, b = conv(512, 512, 1, 512)
            # A small last conv in each residual branch, as trained networks tend to have: keeps the
            # activations, and so float32 rounding noise, moderate.
            encoder[p + "point_conv.weight"], encoder[p + "point_conv.bias"] = (w * 0.1, b) if j == 3 else (w, b)
    w, b = conv(num_chars + 1, 512, 1, 512)
    decoder = {"end_conv.weight": w, "end_conv.bias": b}
    return encoder, decoder


def cheap_state(encoder: dict, decoder: dict) -> tuple[dict, dict]:
    """Same names and shapes, each tensor a stride-0 view of one float: a tiny file, for the error cases."""
    return tuple({k: torch.zeros(()).expand(v.shape) for k, v in d.items()} for d in (encoder, decoder))


def make_checkpoint(encoder: dict, decoder: dict, prefix: str = "") -> dict:
    """The top-level dict the official trainer saves, with its extra (non-inference) keys."""
    return {
        "epoch": 1234,
        "best": np.float64(0.0471),  # the official code may keep metrics as numpy scalars
        "encoder_state_dict": {prefix + k: v for k, v in encoder.items()},
        "decoder_state_dict": {prefix + k: v for k, v in decoder.items()},
        "optimizer_state_dict": {
            "state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.zeros(4), "exp_avg_sq": torch.zeros(4)}},
            "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False, "params": [0]}],
        },
        "scaler_state_dict": {"scale": 65536.0, "growth_factor": 2.0, "_growth_tracker": 0},
    }


@pytest.fixture(scope="module")
def span_state() -> tuple[dict, dict]:
    return make_span_state(len(CHARSET))


@pytest.fixture(scope="module")
def checkpoint_file(tmp_path_factory: pytest.TempPathFactory, span_state: tuple[dict, dict]) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "span_line_best.pt"
    torch.save(make_checkpoint(*span_state), path)
    return path


@pytest.fixture(scope="module")
def cheap_span_state(span_state: tuple[dict, dict]) -> tuple[dict, dict]:
    return cheap_state(*span_state)


@pytest.fixture(scope="module")
def charset_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("charset") / "charset.txt"
    path.write_text("".join(c + "\n" for c in CHARSET), "utf-8")  # the first line is a single space
    return path


@pytest.fixture(scope="module")
def imported_dir(tmp_path_factory: pytest.TempPathFactory, checkpoint_file: Path, charset_file: Path) -> Path:
    """The model directory written by the real CLI, in-process."""
    out = tmp_path_factory.mktemp("model") / "span_imported"
    argv = ["import-span", str(checkpoint_file), "--charset-file", str(charset_file)]
    argv += ["--mean", *map(str, MEAN), "--std", *map(str, STD), "--rescale", "0.5", "--out", str(out)]
    assert main(argv) == 0
    return out


@pytest.fixture(scope="module")
def imported_model(imported_dir: Path) -> torch.nn.Module:
    return load_model(imported_dir)[0]


# ------------------------------------------------------------------------------- reference forward pass


def reference_log_probs(encoder: dict, decoder: dict, x: torch.Tensor) -> torch.Tensor:
    """SPAN's eval-mode forward pass from the format facts: (N, 3, H, W) -> (N, W/8, C+1)."""
    for i, (_, stride) in enumerate(CONV_BLOCKS):
        p = f"init_blocks.{i}."
        x = F.relu(F.conv2d(x, encoder[p + "conv1.weight"], encoder[p + "conv1.bias"], padding=1))
        x = F.relu(F.conv2d(x, encoder[p + "conv2.weight"], encoder[p + "conv2.bias"], padding=1))
        x = F.instance_norm(x, eps=EPS)
        x = F.relu(F.conv2d(x, encoder[p + "conv3.weight"], encoder[p + "conv3.bias"], stride=stride, padding=1))

    def separable(h: torch.Tensor, p: str) -> torch.Tensor:
        h = F.conv2d(h, encoder[p + "depth_conv.weight"], encoder[p + "depth_conv.bias"], padding=1, groups=512)
        return F.conv2d(h, encoder[p + "point_conv.weight"], encoder[p + "point_conv.bias"])

    for i in range(DSC_BLOCKS):
        p = f"blocks.{i}."
        y = F.relu(separable(x, p + "conv1."))
        y = F.relu(separable(y, p + "conv2."))
        y = F.instance_norm(y, eps=EPS)
        x = x + separable(y, p + "conv3.")  # no activation after conv3; residual add
    pooled = x.max(dim=2, keepdim=True).values  # max over the whole height
    logits = F.conv2d(pooled, decoder["end_conv.weight"], decoder["end_conv.bias"]).squeeze(2)
    return F.log_softmax(logits.transpose(1, 2), dim=-1)


def reference_input(path: Path) -> torch.Tensor:
    """RGB, both axes x0.5 (rounded up, bilinear), then per-channel (x - mean) / std."""
    image = Image.open(path).convert("RGB")
    size = (math.ceil(image.width * 0.5), math.ceil(image.height * 0.5))
    array = np.asarray(image.resize(size, Image.Resampling.BILINEAR), dtype=np.float32).transpose(2, 0, 1)
    array = (array - np.asarray(MEAN, np.float32)[:, None, None]) / np.asarray(STD, np.float32)[:, None, None]
    return torch.from_numpy(np.ascontiguousarray(array))[None]


def greedy_text(log_probs: torch.Tensor) -> str:
    """Best path: argmax per frame, merge repeats, drop the blank (the last class)."""
    best = log_probs.argmax(-1).tolist()
    blank = len(CHARSET)
    return "".join(CHARSET[c] for i, c in enumerate(best) if c != blank and (i == 0 or c != best[i - 1]))


# ------------------------------------------------------------------------------------------------ tests


def test_cli_writes_a_complete_model_dir(
    imported_dir: Path, imported_model: torch.nn.Module, checkpoint_file: Path, span_state: tuple
) -> None:
    config = json.loads((imported_dir / "config.json").read_text("utf-8"))
    assert config["charset"] == CHARSET
    assert config["architecture"]["name"] == "span"
    assert config["architecture"]["input_channels"] == 3
    assert config["architecture"]["conv_channels"] == [32, 64, 128, 256, 512, 512]
    pre = config["preprocessing"]
    assert pre == {"channels": 3, "line_height": None, "rescale": 0.5, "mean": list(MEAN), "std": list(STD),
                   "min_ink_share": None}
    prov = config["provenance"]
    assert prov["checkpoint_file"] == "span_line_best.pt"
    assert prov["checkpoint_sha256"] == hashlib.sha256(checkpoint_file.read_bytes()).hexdigest()
    assert "official SPAN" in prov["source"]
    assert prov["checkpoint_epoch"] == 1234
    assert prov["charset_file"] == "charset.txt"
    # Every tensor of the checkpoint lands, unchanged, under the same name.
    encoder, decoder = span_state
    weights = load_file(str(imported_dir / "model.safetensors"))
    assert set(weights) == set(encoder) | set(decoder)
    for name, tensor in {**encoder, **decoder}.items():
        assert torch.equal(weights[name], tensor), name
    assert (
        sum(p.numel() for p in imported_model.parameters()) == 18_189_648 - (79 - len(CHARSET)) * 513
    )  # IAM: 79 chars


@pytest.mark.parametrize("name", LINE_IMAGES)
def test_real_lines_match_the_reference(
    imported_dir: Path, imported_model: torch.nn.Module, span_state: tuple, name: str
) -> None:
    model, config = imported_model, load_config(imported_dir)
    x = reference_input(LINES / name)
    # The imported config prepares images exactly as SPAN does.
    prepared = prepare_line(Image.open(LINES / name), config.preprocessing).array
    assert prepared.shape == tuple(x.shape[1:])
    assert np.abs(prepared - x[0].numpy()).max() < 1e-5
    with torch.no_grad():
        expected = reference_log_probs(*span_state, x)
        got = model(x)
    assert got.shape == expected.shape == (1, math.ceil(x.shape[3] / 8), len(CHARSET) + 1)
    diff = (got - expected).abs().max().item()
    print(f"{name}: input {tuple(x.shape)}, max abs diff of log-probs {diff:.2e}")
    assert diff < TOLERANCE


def test_padded_batch_and_recognizer_give_the_reference(
    imported_dir: Path, imported_model: torch.nn.Module, span_state: tuple
) -> None:
    inputs = [reference_input(LINES / name) for name in LINE_IMAGES]
    with torch.no_grad():
        references = [reference_log_probs(*span_state, x)[0] for x in inputs]
        # All lines in one zero-padded batch, as the Recognizer runs them. Padding changes the order of
        # the float operations, and float32 noise in this random network is ~1e-4 by itself, so this
        # comparison runs in float64 (the model casts only its final log-softmax to float32: ~1e-6).
        batch, sizes = collate([x[0].numpy() for x in inputs])
        batched = copy.deepcopy(imported_model).double()(batch.double(), sizes)
        encoder, decoder = ({k: v.double() for k, v in d.items()} for d in span_state)
        for row, x in enumerate(inputs):
            reference = reference_log_probs(encoder, decoder, x.double())[0]
            diff = (batched[row, : len(reference)] - reference).abs().max().item()
            print(f"{LINE_IMAGES[row]} in a padded batch {tuple(batch.shape)}, float64: max abs diff {diff:.2e}")
            assert diff < 1e-5
    expected = [greedy_text(reference) for reference in references]
    assert any(expected), "random weights decoded to nothing: the comparison would be vacuous"
    recognizer = Recognizer.load(imported_dir)
    paths = [LINES / name for name in LINE_IMAGES]
    together = [r.text for r in recognizer.recognize(paths, batch_size=3)]  # one padded batch
    alone = [recognizer.recognize(p).text for p in paths]
    print("reference texts:", expected)
    assert together == expected
    assert alone == expected


@pytest.mark.parametrize("shape", [(1, 3, 37, 151), (2, 3, 40, 96), (1, 3, 5, 9), (1, 3, 33, 17)])
def test_random_inputs_match_the_reference(imported_model: torch.nn.Module, span_state: tuple, shape: tuple) -> None:
    model = imported_model
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)))
    with torch.no_grad():
        expected = reference_log_probs(*span_state, x)
        got = model(x)
    diff = (got - expected).abs().max().item()
    print(f"random {shape}: max abs diff {diff:.2e}")
    assert got.shape == expected.shape
    assert diff < TOLERANCE


def test_library_import_with_ddp_prefix_and_json_charset(tmp_path: Path, span_state: tuple) -> None:
    checkpoint = tmp_path / "ddp.pt"
    torch.save(make_checkpoint(*span_state, prefix="module."), checkpoint)
    charset = tmp_path / "charset.json"
    charset.write_text(json.dumps(CHARSET, ensure_ascii=False), "utf-8")
    out = tmp_path / "model"
    model, config = import_span_checkpoint(checkpoint, charset, MEAN, STD, rescale=1.0, out=out)
    assert config.charset == CHARSET and config.preprocessing.rescale == 1.0
    assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()
    assert not model.training
    x = torch.randn(1, 3, 24, 80, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        assert (model(x) - reference_log_probs(*span_state, x)).abs().max().item() < TOLERANCE
    # Same model from a list charset and no output directory.
    model2, config2 = import_span_checkpoint(checkpoint, list(CHARSET), MEAN, STD)
    assert config2.preprocessing.rescale == 0.5 and "charset_file" not in config2.provenance
    for (name, a), (_, b) in zip(model.state_dict().items(), model2.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


# ------------------------------------------------------------------------------------------ error cases


def test_wrong_charset_size_is_refused(checkpoint_file: Path, tmp_path: Path) -> None:
    short = tmp_path / "short.txt"
    short.write_text("".join(c + "\n" for c in CHARSET[:-1]), "utf-8")
    with pytest.raises(SpanImportError) as info:
        import_span_checkpoint(checkpoint_file, short, MEAN, STD)
    message = str(info.value)
    assert "span_line_best.pt" in message and "end_conv.weight" in message and "short.txt" in message
    assert "11 rows" in message and "9 characters" in message


def test_missing_key_and_wrong_shape_are_named(tmp_path: Path, cheap_span_state: tuple) -> None:
    span_state = cheap_span_state
    encoder, decoder = dict(span_state[0]), dict(span_state[1])
    del encoder["blocks.2.conv3.point_conv.bias"]
    path = tmp_path / "missing.pt"
    torch.save(make_checkpoint(encoder, decoder), path)
    with pytest.raises(SpanImportError, match=r"missing\.pt: encoder_state_dict is missing 'blocks\.2\.conv3\.point"):
        import_span_checkpoint(path, CHARSET, MEAN, STD)

    encoder = dict(span_state[0])
    encoder["init_blocks.3.conv2.weight"] = torch.zeros(256, 128, 3, 3)
    path = tmp_path / "shape.pt"
    torch.save(make_checkpoint(encoder, decoder), path)
    with pytest.raises(SpanImportError, match=r"shape\.pt: .*'init_blocks\.3\.conv2\.weight'.*\(256, 128, 3, 3\)"):
        import_span_checkpoint(path, CHARSET, MEAN, STD)

    decoder = {k: v for k, v in span_state[1].items() if k != "end_conv.bias"}
    path = tmp_path / "head.pt"
    torch.save(make_checkpoint(span_state[0], decoder), path)
    with pytest.raises(SpanImportError, match=r"head\.pt: decoder_state_dict is missing 'end_conv\.bias'"):
        import_span_checkpoint(path, CHARSET, MEAN, STD)

    encoder = {**span_state[0], "blocks.4.conv1.depth_conv.weight": torch.zeros(512, 1, 3, 3)}
    path = tmp_path / "extra.pt"
    torch.save(make_checkpoint(encoder, span_state[1]), path)
    with pytest.raises(SpanImportError, match=r"extra\.pt: encoder_state_dict has unexpected key 'blocks\.4"):
        import_span_checkpoint(path, CHARSET, MEAN, STD)


def test_files_that_are_not_checkpoints(tmp_path: Path, charset_file: Path, capsys: pytest.CaptureFixture) -> None:
    text = tmp_path / "notes.pt"
    text.write_text("hello, not a checkpoint\n", "utf-8")
    with pytest.raises(SpanImportError, match=r"notes\.pt: not a readable PyTorch checkpoint"):
        import_span_checkpoint(text, CHARSET, MEAN, STD)
    png = tmp_path / "line.pt"
    png.write_bytes((LINES / LINE_IMAGES[0]).read_bytes())
    with pytest.raises(SpanImportError, match=r"line\.pt: not a readable PyTorch checkpoint"):
        import_span_checkpoint(png, CHARSET, MEAN, STD)
    plain = tmp_path / "plain.pt"
    torch.save({"model": {"w": torch.zeros(2)}}, plain)
    with pytest.raises(SpanImportError, match=r"plain\.pt: not a SPAN checkpoint: no 'encoder_state_dict'"):
        import_span_checkpoint(plain, CHARSET, MEAN, STD)
    with pytest.raises(SpanImportError, match=r"absent\.pt: no such checkpoint file"):
        import_span_checkpoint(tmp_path / "absent.pt", CHARSET, MEAN, STD)
    # Through the CLI: exit status 2 and the file named on stderr.
    argv = ["import-span", str(text), "--charset-file", str(charset_file), "--mean", "1", "2", "3"]
    assert main([*argv, "--std", "1", "2", "3", "--out", str(tmp_path / "out")]) == 2
    assert "notes.pt: not a readable PyTorch checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


class _Payload:
    """Unpickling this would run code (open a file for writing): it must be refused, not run."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_code_in_a_checkpoint_is_never_run(tmp_path: Path, cheap_span_state: tuple) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({**make_checkpoint(*cheap_span_state), "best": _Payload(str(marker))}, path)
    with pytest.raises(SpanImportError, match=r"evil\.pt: .*holds objects other than tensors"):
        import_span_checkpoint(path, CHARSET, MEAN, STD)
    assert not marker.exists()


def test_bad_arguments(checkpoint_file: Path, imported_dir: Path, charset_file: Path, tmp_path: Path) -> None:
    with pytest.raises(SpanImportError, match="3 channels"):
        import_span_checkpoint(checkpoint_file, CHARSET, (128.0,), (64.0,))
    with pytest.raises(SpanImportError, match="rescale"):
        import_span_checkpoint(checkpoint_file, CHARSET, MEAN, STD, rescale=0.0)
    with pytest.raises(SpanImportError, match="already holds a model"):
        import_span_checkpoint(checkpoint_file, CHARSET, MEAN, STD, out=imported_dir)
    with pytest.warns(UserWarning, match="0-1 units"):
        import_span_checkpoint(checkpoint_file, CHARSET, (0.5, 0.5, 0.5), (0.2, 0.2, 0.2))
    # --force replaces an existing model.
    out = tmp_path / "again"
    argv = ["import-span", str(checkpoint_file), "--charset-file", str(charset_file), "--out", str(out)]
    argv += ["--mean", *map(str, MEAN), "--std", *map(str, STD)]
    assert main(argv) == 0
    assert main(argv) == 2
    assert main([*argv, "--force"]) == 0


# ------------------------------------------------------------------------------------------ charset files


def test_charset_file_one_per_line(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_text(" \na\n\t\né\n", "utf-8")
    assert read_charset_file(path) == [" ", "a", "\t", "é"]
    path.write_bytes(b" \r\na\r\nb")  # CRLF, no final newline
    assert read_charset_file(path) == [" ", "a", "b"]
    path.write_text("\ufeff[\n]\nx\n", "utf-8")  # starts with "[" yet is not JSON: one per line, BOM dropped
    assert read_charset_file(path) == ["[", "]", "x"]


def test_charset_file_json(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps([" ", "\n", "a", "é"]), "utf-8")
    assert read_charset_file(path) == [" ", "\n", "a", "é"]


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (" \na \nb\n", r"line 2 is 'a ', 2 characters.*exactly one space is the space"),
        ("a\n\nb\n", r"line 2 is '', 0 characters"),
        ("a\nb\na\n", r"line 3 repeats 'a', already line 1"),
        ('["a", "bc"]', r"entry 1 is 'bc'"),
        ('{"a": 1}', r"c\.txt: line 1 is"),
        ("", r"empty charset file"),
    ],
)
def test_charset_file_errors(tmp_path: Path, content: str, error: str) -> None:
    path = tmp_path / "c.txt"
    path.write_text(content, "utf-8")
    with pytest.raises(SpanImportError, match=error):
        read_charset_file(path)
