"""The ONNX path: `sparkhtr export-onnx`, the file's embedded config, and onnxruntime against torch.

Models here have random (seeded) weights, so their texts are noise; the checks are that onnxruntime
gives torch's log-probabilities (to float32 noise) and therefore the same greedy texts, on real
Copiste lines, alone and in padded batches.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

onnxruntime = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from sparkhtr import Recognizer  # noqa: E402
from sparkhtr.cli.main import main  # noqa: E402
from sparkhtr.inference.onnx_backend import (  # noqa: E402
    OnnxBackend,
    default_num_threads,
    load_onnx_backend,
    read_onnx_config,
)
from sparkhtr.inference.preprocess import make_batches, prepare_line  # noqa: E402
from sparkhtr.io.image import ImageError, load_image  # noqa: E402
from sparkhtr.model.config import ModelConfig, PreprocessingConfig, architecture  # noqa: E402
from sparkhtr.model.files import ModelFileError, build_model, load_model, save_model  # noqa: E402
from sparkhtr.model.onnx_export import CONFIG_METADATA_KEY, ONNX_FILE, export_onnx, update_onnx_config  # noqa: E402
from sparkhtr.model.span import SpanLineModel  # noqa: E402

# Float32 noise, amplified by the random weights' instance norms: on these lines torch fp32 itself
# is up to ~1.8e-3 away from the same model run in float64, and onnxruntime about as far, so the two
# engines are held to the float64 truth (FLOAT32_NOISE) and to each other (twice that at most).
# On noise inputs (the dynamic-shape tests) both stay within 1e-3 of each other: ATOL.
FLOAT32_NOISE = 2.5e-3
ATOL, RTOL = 1e-3, 1e-4


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """One torch thread here: with two, torch ran ~30x slower whenever another process was busy
    (OpenMP workers busy-wait for a descheduled peer; benchmarks/README.md), and the results do not
    depend on it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _val_rows(copiste_dir: Path, count: int) -> list[dict[str, str]]:
    with (copiste_dir / "manifest.tsv").open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if r["split"] == "val"]
    return rows[:count]


@pytest.fixture(scope="module")
def lines(copiste_dir: Path) -> list[Path]:
    """Twelve real val lines: two batches at batch size 8, of varied widths."""
    return [copiste_dir / "lines" / f"{r['id']}.png" for r in _val_rows(copiste_dir, 12)]


@pytest.fixture(scope="module")
def model_dir(copiste_dir: Path, tmp_path_factory) -> Path:
    """A quarter-width SPAN, seeded random weights, charset from the Copiste val texts."""
    charset = sorted(set("".join(r["text"] for r in _val_rows(copiste_dir, 500))))
    config = ModelConfig(architecture("span_quarter"), charset, provenance={"note": "random weights, tests"})
    torch.manual_seed(1234)
    return save_model(tmp_path_factory.mktemp("onnx_model") / "model", build_model(config), config)


@pytest.fixture(scope="module")
def onnx_file(model_dir: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exported") / "quarter.onnx"
    assert main(["export-onnx", str(model_dir), str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def single_line_file(model_dir: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exported") / "quarter.single.onnx"
    assert main(["export-onnx", str(model_dir), str(out), "--single-line"]) == 0
    return out


@pytest.fixture(scope="module", params=["batched", "single_line"])
def any_onnx_file(request, onnx_file: Path, single_line_file: Path) -> Path:
    """Both graphs: padded batches with masks, and lines one by one without (the backend crops them)."""
    return onnx_file if request.param == "batched" else single_line_file


@pytest.fixture(scope="module")
def bundled_single_line(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundled") / "single.onnx"
    assert main(["export-onnx", "span_small_latin", str(out), "--single-line"]) == 0
    return out


@pytest.fixture(scope="module")
def torch_log_probs(model_dir: Path, lines: list[Path]) -> list[np.ndarray]:
    """Each line's float32 torch log-probs, run alone."""
    model, config = load_model(model_dir)
    arrays = [prepare_line(load_image(p), config.preprocessing).array for p in lines]
    with torch.inference_mode():
        return [model(torch.from_numpy(a)[None])[0].numpy() for a in arrays]


@pytest.fixture(scope="module")
def near_ties(torch_log_probs: list[np.ndarray]) -> set[int]:
    """Lines whose best path has a frame where the top two classes are within float32 noise.

    Random weights give such near ties now and then; there, the greedy text may flip between any two
    float32 runs (torch at batch 1 and torch at batch 8 included), so texts are compared elsewhere.
    """
    ties = set()
    for index, log_probs in enumerate(torch_log_probs):
        top2 = np.sort(log_probs, axis=1)[:, -2:]
        if ((top2[:, 1] - top2[:, 0]) < 3 * FLOAT32_NOISE).any():
            ties.add(index)
    assert len(ties) <= len(torch_log_probs) // 2, "too many near ties for the text comparisons to mean much"
    return ties


@pytest.fixture(scope="module")
def float64_truth(model_dir: Path, lines: list[Path]) -> dict[int, np.ndarray]:
    """The same model in float64 on the five narrowest lines (float64 convs are slow on CPU)."""
    model, config = load_model(model_dir)
    model.double()
    arrays = {i: prepare_line(load_image(p), config.preprocessing).array for i, p in enumerate(lines)}
    narrowest = sorted(arrays, key=lambda i: arrays[i].shape[2])[:5]
    with torch.inference_mode():
        return {i: model(torch.from_numpy(arrays[i])[None].double())[0].numpy() for i in narrowest}


def _assert_same_texts(got: list, want: list, near_ties: set[int]) -> None:
    for index, (a, b) in enumerate(zip(got, want)):
        if index not in near_ties:
            assert a.text == b.text, f"line {index}"


def _assert_log_probs_match(got: np.ndarray, want: np.ndarray, frames: np.ndarray, atol: float = ATOL) -> None:
    for row, count in enumerate(frames):
        np.testing.assert_allclose(got[row, :count], want[row, :count], rtol=RTOL, atol=atol)


def test_cli_export_writes_a_self_contained_file(onnx_file: Path, model_dir: Path, capsys):
    assert onnx_file.is_file()
    proto = onnx.load(str(onnx_file))
    onnx.checker.check_model(proto)
    metadata = {p.key: p.value for p in proto.metadata_props}
    _, config = load_model(model_dir)
    assert json.loads(metadata[CONFIG_METADATA_KEY]) == json.loads(json.dumps(config.to_dict()))
    assert read_onnx_config(onnx_file).to_dict() == config.to_dict()
    # Batch, height and width are symbolic in the graph; sizes is a (batch, 2) int64 input.
    inputs = {i.name: i.type.tensor_type for i in proto.graph.input}
    assert set(inputs) == {"images", "sizes"}
    images_dims = inputs["images"].shape.dim
    assert [bool(d.dim_param) for d in images_dims] == [True, False, True, True]
    assert images_dims[1].dim_value == config.architecture.input_channels
    assert inputs["sizes"].elem_type == onnx.TensorProto.INT64
    assert [o.name for o in proto.graph.output] == ["log_probs", "frames"]


def test_the_embedded_config_can_be_updated_without_touching_the_graph(onnx_file: Path, tmp_path: Path):
    """As scripts/package_model.py --positions does for a measured position lag."""
    updated = shutil.copy(onnx_file, tmp_path / "updated.onnx")
    config = read_onnx_config(onnx_file)
    config.position_lag = 1.75
    update_onnx_config(updated, config)
    assert read_onnx_config(updated).to_dict() == config.to_dict()
    assert onnx.load(str(updated)).graph == onnx.load(str(onnx_file)).graph


def test_single_line_graph_takes_images_only(single_line_file: Path, onnx_file: Path, model_dir: Path):
    proto = onnx.load(str(single_line_file))
    assert [i.name for i in proto.graph.input] == ["images"]
    assert [o.name for o in proto.graph.output] == ["log_probs", "frames"]
    assert read_onnx_config(single_line_file).to_dict() == load_model(model_dir)[1].to_dict()
    assert OnnxBackend(single_line_file).single_line
    assert not OnnxBackend(onnx_file).single_line


def test_onnx_gives_torch_log_probs_and_texts_on_real_lines(
    onnx_file: Path, model_dir: Path, lines: list[Path], near_ties: set[int], float64_truth: dict[int, np.ndarray]
):
    torch_recognizer = Recognizer.load(model_dir)
    onnx_recognizer = Recognizer.load(onnx_file, backend="onnx")
    prepared = [prepare_line(load_image(p), torch_recognizer.config.preprocessing) for p in lines]
    for batch_size in (1, 8):
        for batch in make_batches(prepared, batch_size):
            want, want_frames = torch_recognizer.backend(batch.images, batch.sizes)
            got, got_frames = onnx_recognizer.backend(batch.images, batch.sizes)
            assert got.shape == want.shape and got.dtype == np.float32
            np.testing.assert_array_equal(got_frames, want_frames)
            for row, count in enumerate(want_frames):
                got_row, want_row = got[row, :count], want[row, :count]
                np.testing.assert_allclose(got_row, want_row, atol=2 * FLOAT32_NOISE, rtol=0)
                # Same best class in every frame whose top two are further apart than the noise.
                top2 = np.sort(want_row, axis=1)[:, -2:]
                decided = top2[:, 1] - top2[:, 0] > 3 * FLOAT32_NOISE
                assert decided.mean() > 0.95
                np.testing.assert_array_equal(got_row.argmax(1)[decided], want_row.argmax(1)[decided])
                truth = float64_truth.get(batch.indices[row])
                if truth is not None:  # both engines are within float32 noise of the float64 result
                    assert np.abs(want_row - truth).max() < FLOAT32_NOISE
                    assert np.abs(got_row - truth).max() < FLOAT32_NOISE
        torch_results = torch_recognizer.recognize(lines, batch_size=batch_size)
        onnx_results = onnx_recognizer.recognize(lines, batch_size=batch_size)
        _assert_same_texts(onnx_results, torch_results, near_ties)
        assert all(len(r.text) > 0 for r in onnx_results)
        np.testing.assert_allclose(
            [r.confidence for r in onnx_results], [r.confidence for r in torch_results], atol=1e-4
        )


def test_single_line_graph_of_the_real_model_gives_torch_results(bundled_single_line: Path, val_lines: list[Path]):
    """The bundled model's single-line graph against torch on real lines, padded batches included.

    With trained weights both engines agree to ~1e-3; the seeded random model above amplifies the
    instance norms' float32 differences (onnxruntime's InstanceNormalization sums in another order)
    to ~5e-2, too close to its near ties for text comparisons, hence the real model here.
    """
    torch_recognizer = Recognizer.pretrained(backend="torch", decoder="greedy")  # the .onnx file alone has no LM
    onnx_recognizer = Recognizer.load(bundled_single_line, backend="onnx")
    prepared = [prepare_line(load_image(p), torch_recognizer.config.preprocessing) for p in val_lines]
    for batch in make_batches(prepared, 4):
        want, want_frames = torch_recognizer.backend(batch.images, batch.sizes)
        got, got_frames = onnx_recognizer.backend(batch.images, batch.sizes)
        np.testing.assert_array_equal(got_frames, want_frames)
        _assert_log_probs_match(got, want, want_frames, atol=5e-3)
    # Padded batches are compared above; the recognizer runs this graph a line at a time.
    got_texts = [r.text for r in onnx_recognizer.recognize(val_lines, batch_size=1)]
    assert got_texts == [r.text for r in torch_recognizer.recognize(val_lines)]


def test_single_line_graph_runs_lines_in_parallel_with_the_same_results(
    bundled_single_line: Path, onnx_file: Path, val_lines: list[Path]
):
    parallel = Recognizer.load(bundled_single_line, backend="onnx", num_threads=2)
    sequential = Recognizer.load(bundled_single_line, backend="onnx", num_threads=1)
    assert parallel.backend.lines_at_once == 2 and parallel.backend.preferred_batch_size == 8
    assert sequential.backend.lines_at_once == 1 and sequential.backend.preferred_batch_size == 1
    together, alone = parallel.recognize(val_lines), sequential.recognize(val_lines)
    assert [r.text for r in together] == [r.text for r in alone]
    assert [r.confidence for r in together] == [r.confidence for r in alone]  # same kernels: bit for bit
    assert [r.source for r in together] == [r.source for r in alone]
    # Workers take lines from file to text: a bad file is still reported in its place, or raised.
    broken = bundled_single_line.with_name("broken.png")
    broken.write_bytes(b"not an image")
    mixed = parallel.recognize([val_lines[0], broken, val_lines[1]], on_error="return")
    assert [r.text for r in mixed] == [alone[0].text, None, alone[1].text]
    assert "broken.png" in mixed[1].error
    with pytest.raises(ImageError, match="broken.png"):
        parallel.recognize([val_lines[0], broken])
    assert OnnxBackend(onnx_file, num_threads=2).lines_at_once == 1  # a batched graph batches instead


def test_onnx_batch_1_equals_batch_8(any_onnx_file: Path, lines: list[Path], near_ties: set[int]):
    recognizer = Recognizer.load(any_onnx_file, backend="onnx")
    alone = recognizer.recognize(lines, batch_size=1)
    together = recognizer.recognize(lines, batch_size=8)
    _assert_same_texts(alone, together, near_ties)
    for index, (a, b) in enumerate(zip(alone, together)):
        if index in near_ties:
            continue
        assert [(c.x0, c.x1) for c in a.chars] == [(c.x0, c.x1) for c in b.chars]
        assert a.confidence == pytest.approx(b.confidence, abs=1e-5)


@pytest.mark.parametrize(
    "shapes",
    [
        [(64, 1000)],  # one line, wider than the tracing example
        [(64, 37), (20, 400), (97, 5)],  # other heights, a line narrower than one frame
        [(33, 8), (33, 9)],  # widths on either side of a frame boundary
    ],
)
def test_dynamic_batch_height_and_width(onnx_file: Path, model_dir: Path, shapes: list[tuple[int, int]]):
    model, _ = load_model(model_dir)
    backend = OnnxBackend(onnx_file)
    generator = torch.Generator().manual_seed(7)
    images = torch.zeros(len(shapes), 1, max(h for h, _ in shapes), max(w for _, w in shapes))
    for i, (h, w) in enumerate(shapes):
        images[i, :, :h, :w] = torch.randn(1, h, w, generator=generator)
    sizes = torch.tensor(shapes, dtype=torch.long)
    with torch.inference_mode():
        want = model(images, sizes).numpy()
    got, frames = backend(images, sizes)
    assert got.shape == want.shape
    np.testing.assert_array_equal(frames, SpanLineModel.frame_counts(sizes[:, 1]).numpy())
    _assert_log_probs_match(got, want, frames)
    # Each line alone gives what it gave in the padded batch.
    for i, (h, w) in enumerate(shapes):
        single, single_frames = backend(images[i : i + 1, :, :h, :w], sizes[i : i + 1])
        assert single_frames[0] == frames[i]
        np.testing.assert_allclose(single[0], got[i, : frames[i]], rtol=RTOL, atol=ATOL)


def test_three_channel_model_exports_and_matches(tmp_path: Path, lines: list[Path]):
    preprocessing = PreprocessingConfig(channels=3, line_height=40, mean=(128.0,) * 3, std=(64.0,) * 3)
    config = ModelConfig(architecture("span_quarter", input_channels=3), list("abcdefgh "), preprocessing)
    torch.manual_seed(5)
    model_dir = save_model(tmp_path / "rgb", build_model(config), config)
    report = export_onnx(load_model(model_dir)[0], config, model_dir / ONNX_FILE)
    assert report.max_abs_diff is not None and report.max_abs_diff < 1e-2
    torch_backend = Recognizer.load(model_dir).backend
    onnx_backend = Recognizer.load(model_dir, backend="onnx").backend
    prepared = [prepare_line(load_image(p), preprocessing) for p in lines[:6]]
    for batch in make_batches(prepared, 4):
        assert batch.images.shape[1] == 3
        want, frames = torch_backend(batch.images, batch.sizes)
        got, _ = onnx_backend(batch.images, batch.sizes)
        for row, count in enumerate(frames):
            np.testing.assert_allclose(got[row, :count], want[row, :count], atol=2 * FLOAT32_NOISE, rtol=0)


def test_model_directory_with_model_onnx_loads(onnx_file: Path, model_dir: Path, tmp_path: Path, lines: list[Path]):
    directory = tmp_path / "with_onnx"
    shutil.copytree(model_dir, directory)
    shutil.copy(onnx_file, directory / ONNX_FILE)
    recognizer = Recognizer.load(directory, backend="onnx")
    assert isinstance(recognizer.backend, OnnxBackend)
    assert recognizer.recognize(lines[0]).text == Recognizer.load(onnx_file, backend="onnx").recognize(lines[0]).text


def test_model_directory_without_model_onnx_says_to_export(model_dir: Path):
    with pytest.raises(ModelFileError, match=r"no model\.onnx.*sparkhtr export-onnx"):
        Recognizer.load(model_dir, backend="onnx")


def test_missing_path_and_foreign_files_are_refused(tmp_path: Path, onnx_file: Path):
    with pytest.raises(ModelFileError, match="no such ONNX file"):
        load_onnx_backend(tmp_path / "absent.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a protobuf at all")
    with pytest.raises(ModelFileError, match="onnxruntime cannot load it"):
        load_onnx_backend(garbage)
    proto = onnx.load(str(onnx_file))
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, str(bare))
    with pytest.raises(ModelFileError, match="not a sparkhtr ONNX model"):
        load_onnx_backend(bare)


def test_export_by_cached_model_name(model_dir: Path, tmp_path: Path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    shutil.copytree(model_dir, cache / "my_quarter")
    monkeypatch.setenv("SPARKHTR_CACHE", str(cache))
    out = tmp_path / "named.onnx"
    assert main(["export-onnx", "my_quarter", str(out)]) == 0
    assert "max |log-prob diff| vs torch" in capsys.readouterr().out
    assert read_onnx_config(out).charset == load_model(model_dir)[1].charset


def test_export_of_unknown_name_fails_cleanly(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("SPARKHTR_CACHE", str(tmp_path / "empty_cache"))
    assert main(["export-onnx", "no_such_model", str(tmp_path / "x.onnx")]) == 2
    assert "no pretrained model named 'no_such_model'" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


def test_export_leaves_the_model_as_it_was(model_dir: Path, tmp_path: Path):
    model, config = load_model(model_dir)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    export_onnx(model, config, tmp_path / "m.onnx", verify=False)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_cli_recognize_with_the_onnx_backend(
    onnx_file: Path, model_dir: Path, lines: list[Path], near_ties: set[int], capsys
):
    images = [str(p) for p in lines[:6]]
    assert main(["recognize", "--model", str(model_dir), "--format", "tsv", *images]) == 0
    torch_out = capsys.readouterr().out
    assert main(["recognize", "--backend", "onnx", "--model", str(onnx_file), "--format", "tsv", *images]) == 0
    onnx_out = capsys.readouterr().out
    torch_rows = [line.split("\t") for line in torch_out.splitlines()]
    onnx_rows = [line.split("\t") for line in onnx_out.splitlines()]
    assert [r[0] for r in onnx_rows] == images
    for index, (onnx_row, torch_row) in enumerate(zip(onnx_rows, torch_rows)):
        if index not in near_ties:
            assert onnx_row[1] == torch_row[1]
    np.testing.assert_allclose([float(r[2]) for r in onnx_rows], [float(r[2]) for r in torch_rows], atol=2e-4)


def test_threads_and_spinning(onnx_file: Path, monkeypatch):
    options = OnnxBackend(onnx_file, num_threads=1).session.get_session_options()
    assert options.intra_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    spinning = OnnxBackend(onnx_file, num_threads=2, spin=True).session.get_session_options()
    assert spinning.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what Spark sets in its Python workers
    assert default_num_threads() == 1
    assert OnnxBackend(onnx_file).num_threads == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert default_num_threads() >= 1
    with pytest.raises(ValueError, match="num_threads"):
        OnnxBackend(onnx_file, num_threads=0)


def test_cuda_device_needs_the_cuda_provider(onnx_file: Path):
    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        backend, _ = load_onnx_backend(onnx_file, device="cuda")
        assert backend.session.get_providers()[0] == "CUDAExecutionProvider"
    else:
        with pytest.raises(RuntimeError, match="no CUDA provider"):
            load_onnx_backend(onnx_file, device="cuda")
    with pytest.raises(ValueError, match="unknown device"):
        OnnxBackend(onnx_file, device="tpu")


# --- int8 ---------------------------------------------------------------------------------------


def test_int8_export_of_a_padded_batch_graph(
    model_dir: Path, onnx_file: Path, small_dataset: Path, lines: list[Path], tmp_path: Path
) -> None:
    """``--int8`` without ``--single-line``: a padded-batch graph with int8 weights and the model's
    config, whose frames and output shapes are the float graph's. Its accuracy is not judged here
    (random weights); the shipped single-line int8 graph of the real model is, in test_int8_recipe.py."""
    int8_path = tmp_path / "int8.onnx"
    # minmax ranges: the percentile histograms the default recipe sorts cost seconds a line here
    args = ["export-onnx", str(model_dir), str(int8_path), "--int8", "--calibration", str(small_dataset),
            "--calibration-lines", "4", "--calibration-method", "minmax"]
    assert main(args) == 0
    assert not OnnxBackend(int8_path).single_line
    assert int8_path.stat().st_size < onnx_file.stat().st_size / 2  # int8 weights
    assert read_onnx_config(int8_path) == read_onnx_config(onnx_file)  # the config travels along
    config = load_model(model_dir)[1]
    prepared = [prepare_line(load_image(p), config.preprocessing) for p in lines[:6]]
    int8_backend, float_backend = OnnxBackend(int8_path), OnnxBackend(onnx_file)
    for batch in make_batches(prepared, 3):
        got, got_frames = int8_backend(batch.images, batch.sizes)
        want, want_frames = float_backend(batch.images, batch.sizes)
        assert got.shape == want.shape and np.isfinite(got).all()
        np.testing.assert_array_equal(got_frames, want_frames)


def test_int8_without_calibration_data_is_refused(tmp_path: Path, capsys) -> None:
    assert main(["export-onnx", "span_small_latin", str(tmp_path / "x.onnx"), "--int8"]) == 2
    assert "--int8 needs --calibration" in capsys.readouterr().err
