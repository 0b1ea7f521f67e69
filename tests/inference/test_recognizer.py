from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sparkhtr import Recognizer
from sparkhtr.io.image import ImageError
from sparkhtr.registry import UnknownModelError
from sparkhtr.text.metrics import corpus_scores

BLOCK_CAPITALS = Path(__file__).resolve().parents[2] / "examples" / "block_capitals" / "cdj_w_0235_1_l08.png"


@pytest.fixture(scope="module")
def recognizer(trained_model_dir):
    return Recognizer.load(trained_model_dir)


def test_batch_composition_does_not_change_texts(recognizer, val_lines):
    alone = [recognizer.recognize(path) for path in val_lines]
    together = recognizer.recognize(val_lines, batch_size=32)
    assert [r.text for r in together] == [r.text for r in alone]
    assert np.allclose([r.confidence for r in together], [r.confidence for r in alone], atol=1e-4)


def test_results_carry_confidences_and_positions(recognizer, val_lines):
    result = recognizer.recognize(val_lines[0])
    width = Image.open(val_lines[0]).width
    assert result.text == "".join(c.char for c in result.chars)
    assert 0.0 < result.confidence <= 1.0
    assert all(0.0 < c.confidence <= 1.0 for c in result.chars)
    lefts = [c.x0 for c in result.chars]
    assert lefts == sorted(lefts)
    assert all(0 <= c.x0 < c.x1 <= width for c in result.chars)


def test_log_probs_are_what_the_decoder_reads(recognizer, val_lines):
    from sparkhtr.text.ctc import greedy_decode

    log_probs = recognizer.log_probs(val_lines[0])
    assert log_probs.shape[1] == len(recognizer.charset) + 1
    assert np.allclose(np.exp(log_probs).sum(axis=1), 1.0, atol=1e-3)
    line = greedy_decode(log_probs, blank=len(recognizer.charset))
    assert "".join(recognizer.charset[c.label] for c in line.chars) == recognizer.recognize(val_lines[0]).text
    with pytest.raises(ImageError, match="missing.png"):
        recognizer.log_probs(val_lines[0].parent / "missing.png")


def test_inputs_of_every_kind_give_the_same_text(recognizer, val_lines):
    path = val_lines[1]
    image = Image.open(path)
    texts = {
        recognizer.recognize(x).text
        for x in (path, str(path), path.read_bytes(), image, np.asarray(image), image.convert("RGB"))
    }
    assert len(texts) == 1


def test_bad_images_are_reported_and_others_still_read(recognizer, val_lines, tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    results = recognizer.recognize([val_lines[0], empty, b"junk", val_lines[1]], on_error="return")
    assert [r.ok for r in results] == [True, False, False, True]
    assert "empty.png" in results[1].error and results[1].text is None
    assert results[3].text == recognizer.recognize(val_lines[1]).text
    with pytest.raises(ImageError, match="empty.png"):
        recognizer.recognize([val_lines[0], empty])


def test_lines_are_read_in_chunks_with_the_same_results(recognizer, val_lines, tmp_path, monkeypatch):
    """Chunks bound memory on big folders; crossing chunk edges must not move or lose a result."""
    from sparkhtr.inference import predictor as module

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    sources = [*val_lines[:3], broken, *val_lines[3:6]]
    whole = recognizer.recognize(sources, on_error="return", batch_size=2)
    monkeypatch.setattr(module, "CHUNK_LINES", 2)
    chunked = recognizer.recognize(sources, on_error="return", batch_size=2)
    assert [r.text for r in chunked] == [r.text for r in whole]
    assert [r.source for r in chunked] == [r.source for r in whole]
    assert chunked[3].error and "broken.png" in chunked[3].error


def test_unknown_names_and_devices_fail_clearly(trained_model_dir):
    with pytest.raises(UnknownModelError, match="no pretrained model named 'nope'.*available"):
        Recognizer.pretrained("nope")
    with pytest.raises(ValueError, match="backend"):
        Recognizer.load(trained_model_dir, backend="tensorflow")
    if not __import__("torch").cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            Recognizer.load(trained_model_dir, device="cuda")


def test_block_capitals_read_better_with_letter_case_upper():
    """A Copiste val writer who wrote in capitals (examples/block_capitals/): the model reads many
    of them as small letters; letter_case="upper" writes every letter as a capital, changing
    nothing else (same characters otherwise, same confidences and positions)."""
    reference = BLOCK_CAPITALS.with_suffix(".txt").read_text("utf-8").strip()
    recognizer = Recognizer.pretrained()
    as_read = recognizer.recognize(BLOCK_CAPITALS)
    recognizer.letter_case = "upper"
    upper = recognizer.recognize(BLOCK_CAPITALS)
    assert upper.text == as_read.text.upper() != as_read.text
    assert [(c.confidence, c.x0, c.x1) for c in upper.chars] == [(c.confidence, c.x0, c.x1) for c in as_read.chars]
    cer = {name: corpus_scores([(reference, r.text)])["cer"] for name, r in (("as_read", as_read), ("upper", upper))}
    assert cer["upper"] < cer["as_read"] / 2
    assert Recognizer.pretrained(letter_case="lower").recognize(BLOCK_CAPITALS).text == as_read.text.lower()
    with pytest.raises(ValueError, match="unknown letter_case 'capitals'"):
        Recognizer.pretrained(letter_case="capitals")
    with pytest.raises(ValueError, match="unknown letter_case 'title'"):
        recognizer.letter_case = "title"
    assert recognizer.letter_case == "upper"


def test_letter_case_on_the_onnx_path_and_in_paragraphs(make_paragraph, tmp_path):
    """The ONNX backend reads lines in parallel threads, paragraphs are cut into lines first: both
    go through the same decoding, so both write the letters in the case asked for."""
    pytest.importorskip("onnxruntime")
    onnx = Recognizer.pretrained(backend="onnx", decoder="greedy", num_threads=1)
    as_read = onnx.recognize(BLOCK_CAPITALS).text
    onnx.letter_case = "upper"
    assert onnx.recognize(BLOCK_CAPITALS).text == as_read.upper()
    make_paragraph(3, 4)[0].save(tmp_path / "page.png")
    paragraph = Recognizer.pretrained(decoder="greedy").recognize_paragraph(tmp_path / "page.png").text
    lower = Recognizer.pretrained(decoder="greedy", letter_case="lower").recognize_paragraph(tmp_path / "page.png")
    assert lower.text == paragraph.lower() != paragraph
