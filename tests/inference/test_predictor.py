"""The Predictor's parts and the backend "auto" chooses: the protocol both backends complete, one
scheduler, and the permission a model directory's config.json gives its ONNX graph."""

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from sparkhtr import Recognizer
from sparkhtr.inference.backends import Backend
from sparkhtr.inference.loader import AUTO_MAX_CER_GAP, choose_backend, gpu_visible
from sparkhtr.inference.preprocess import make_batches
from sparkhtr.inference.scheduler import LineScheduler
from sparkhtr.model.files import INT8_ONNX_FILE, load_backends, load_config, save_config
from sparkhtr.registry import bundled_dir

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.png"))


def _record(folder: Path, onnx_cer: float, float_cer: float, file: str = INT8_ONNX_FILE) -> None:
    path = folder / "config.json"
    data = json.loads(path.read_text("utf-8"))
    data["backends"] = {
        "measured_on": "copiste_dun_jour_fr val, default decoder",
        "torch": {"file": "model.safetensors", "dev_cer": float_cer},
        "onnx": {"file": file, "dev_cer": onnx_cer},
    }
    path.write_text(json.dumps(data), "utf-8")


@pytest.fixture(scope="module")
def bundled_copy(tmp_path_factory) -> Path:
    """The bundled model's weights, config and int8 graph, without its LM (greedy: fast to decode)."""
    folder = tmp_path_factory.mktemp("bundled") / "model"
    folder.mkdir()
    for name in ("config.json", "model.safetensors", INT8_ONNX_FILE):
        shutil.copy(bundled_dir() / "span_small_latin" / name, folder / name)
    config = json.loads((folder / "config.json").read_text("utf-8"))
    config.pop("backends", None)  # each test writes the record it needs
    (folder / "config.json").write_text(json.dumps(config), "utf-8")
    return folder


def test_auto_reads_with_the_graph_the_config_permits(bundled_copy: Path, tmp_path: Path):
    pytest.importorskip("onnxruntime")
    if gpu_visible():
        pytest.skip("with a GPU, auto chooses torch on it")
    plain = shutil.copytree(bundled_copy, tmp_path / "plain")
    assert choose_backend(plain).backend == "torch"  # no record: the float model
    permitted = shutil.copytree(bundled_copy, tmp_path / "permitted")
    _record(permitted, 10.14, 10.00)
    choice = choose_backend(permitted)
    assert (choice.backend, choice.file) == ("onnx", permitted / INT8_ONNX_FILE)
    assert "10.14" in choice.reason and "10.00" in choice.reason
    recognizer = Recognizer.load(permitted, decoder="greedy", num_threads=1)
    assert recognizer.backend_name == "onnx" and recognizer.backend.single_line
    assert "model.int8.onnx" in recognizer.describe()
    explicit = Recognizer.load(permitted, backend="onnx", decoder="greedy", num_threads=1)
    got, want = recognizer.recognize(EXAMPLES), explicit.recognize(EXAMPLES)
    assert [r.text for r in got] == [r.text for r in want] and all(r.backend == "onnx" for r in got)
    # Asked for by name, torch still reads; its results say so.
    assert {r.backend for r in Recognizer.load(permitted, backend="torch", decoder="greedy").recognize(EXAMPLES)} == {
        "torch"
    }


@pytest.mark.parametrize(
    "onnx_cer, float_cer, file",
    [(10.00 + AUTO_MAX_CER_GAP + 0.01, 10.00, INT8_ONNX_FILE), (10.1, 10.0, "missing.onnx"), (10.1, 10.0, "../x.onnx")],
)
def test_auto_keeps_torch_without_a_good_enough_graph(bundled_copy, tmp_path, onnx_cer, float_cer, file):
    folder = shutil.copytree(bundled_copy, tmp_path / "model")
    _record(folder, onnx_cer, float_cer, file)
    assert choose_backend(folder, device="cpu").backend == "torch"
    assert choose_backend(folder, backend="onnx").backend == "onnx"  # asked for by name: always


@pytest.mark.parametrize("record", [[], {"onnx": "model.int8.onnx"}, {"onnx": {"file": 3, "dev_cer": 1}},
                                    {"torch": {"dev_cer": "10"}, "onnx": {"file": "model.int8.onnx", "dev_cer": 9}}])
def test_a_malformed_record_loads_as_none(bundled_copy, tmp_path, record):
    folder = shutil.copytree(bundled_copy, tmp_path / "model")
    data = json.loads((folder / "config.json").read_text("utf-8"))
    (folder / "config.json").write_text(json.dumps({**data, "backends": record}), "utf-8")
    assert "onnx" not in load_backends(folder) or "torch" not in load_backends(folder)
    assert choose_backend(folder, device="cpu").backend == "torch"
    load_config(folder)  # the config itself still loads


def test_rewriting_the_config_keeps_the_backends_record(bundled_copy, tmp_path):
    """A measured position lag rewrites config.json; the record of the graphs beside it stays."""
    folder = shutil.copytree(bundled_copy, tmp_path / "model")
    _record(folder, 10.14, 10.00)
    config = load_config(folder)
    config.position_lag = 1.5
    save_config(folder, config)
    assert load_config(folder).position_lag == 1.5
    assert load_backends(folder)["onnx"]["dev_cer"] == 10.14


def test_unknown_backends_and_devices_fail_clearly(bundled_copy):
    with pytest.raises(ValueError, match="unknown backend 'tensorflow': use 'auto', 'torch' or 'onnx'"):
        choose_backend(bundled_copy, "tensorflow")
    assert choose_backend(bundled_copy, device="cuda:0").backend == "torch"  # the GPU is torch's


def test_both_backends_complete_the_protocol_and_agree_line_by_line(bundled_copy, val_lines):
    pytest.importorskip("onnxruntime")
    for backend in ("torch", "onnx"):
        recognizer = Recognizer.load(bundled_copy, backend=backend, decoder="greedy", num_threads=1)
        runner = recognizer.backend
        assert isinstance(runner, Backend) and runner.name == backend
        assert runner.frame_stride == 8 and runner.threads >= 1 and runner.lines_at_once >= 1
        preprocess = recognizer.predictor.preprocess
        lines = [preprocess.prepare(preprocess.load(p)) for p in val_lines[:3]]
        for batch in make_batches(lines, 3):
            log_probs, frames = runner.run_batch(batch.images, batch.sizes)
            for row, index in enumerate(batch.indices):
                alone = runner.run_line(lines[index].array[None])
                assert alone.shape == (frames[row], len(recognizer.charset) + 1)
                np.testing.assert_allclose(alone, log_probs[row, : frames[row]], atol=2e-3)


def test_the_scheduler_keeps_order_and_raises_where_the_failure_is():
    scheduler = LineScheduler(3)
    seen: set[str] = set()

    def work(item: int) -> int:
        seen.add(threading.current_thread().name)
        if item == 7:
            raise KeyError(item)
        return item * item

    assert list(scheduler.map(work, range(7))) == [i * i for i in range(7)]
    assert any(name.startswith("sparkhtr-lines") for name in seen)
    results = scheduler.map(work, range(10))
    assert [next(results) for _ in range(7)] == [i * i for i in range(7)]
    with pytest.raises(KeyError):
        next(results)
    single = LineScheduler(1)
    assert list(single.map(lambda i: threading.current_thread() is threading.main_thread(), range(3))) == [True] * 3
    with pytest.raises(ValueError):
        LineScheduler(0)


def test_batch_rows_decode_on_the_scheduler_with_the_same_results(trained_model_dir, val_lines, tmp_path):
    """A batched backend's rows are decoded on the scheduler's threads: beam search (which releases
    the GIL) on several threads gives every line what one thread gives it."""
    from sparkhtr.text.lm import CharNgramLM

    lm = CharNgramLM.train(["le chat est sur la table", "une lettre de mon ami"], order=4)
    lm.save(tmp_path / "lm.json.gz")
    recognizer = Recognizer.load(trained_model_dir, backend="torch", decoder="beam", lm=tmp_path / "lm.json.gz")
    recognizer.predictor.scheduler = LineScheduler(1)
    one = recognizer.recognize(val_lines[:8], batch_size=8)
    recognizer.predictor.scheduler = LineScheduler(3)
    three = recognizer.recognize(val_lines[:8], batch_size=8)
    assert [(r.text, r.confidence, r.chars) for r in three] == [(r.text, r.confidence, r.chars) for r in one]


def test_the_record_is_written_for_the_loader_and_the_cli_says_what_reads(bundled_copy, tmp_path, capsys):
    from sparkhtr.calibrate.backends import record_backends
    from sparkhtr.cli.main import main

    pytest.importorskip("onnxruntime")
    folder = shutil.copytree(bundled_copy, tmp_path / "model")
    with pytest.raises(ValueError, match="not a file"):
        record_backends(folder, "../model.int8.onnx", 10.14, 10.0, "val")
    with pytest.raises(ValueError, match="percent"):
        record_backends(folder, INT8_ONNX_FILE, float("nan"), 10.0, "val")
    record_backends(folder, INT8_ONNX_FILE, 10.14, 10.0, "copiste_dun_jour_fr val, default decoder")
    assert load_backends(folder)["onnx"] == {"file": INT8_ONNX_FILE, "dev_cer": 10.14}
    assert load_config(folder).charset == load_config(bundled_copy).charset
    capsys.readouterr()
    code = main(["recognize", str(EXAMPLES[0]), "--model", str(folder), "--decoder", "greedy", "--threads", "1",
                 "--device", "cpu", "--verbose"])
    out, err = capsys.readouterr()
    assert code == 0 and out.strip()
    assert "backend onnx (model.int8.onnx" in err and "10.14" in err and "decoder greedy" in err
    main(["recognize", str(EXAMPLES[0]), "--model", str(folder), "--decoder", "greedy", "--backend", "torch",
          "--verbose"])
    assert "backend torch (fp32" in capsys.readouterr().err
