"""The bundled default model: listed, loadable by name, and it really reads handwriting."""

from pathlib import Path

from sparkhtr import Recognizer, list_models
from sparkhtr.registry import DEFAULT_MODEL, bundled_dir
from sparkhtr.text.metrics import corpus_scores

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_default_model_is_bundled_with_its_card():
    assert list_models()[DEFAULT_MODEL].parent == bundled_dir()
    folder = bundled_dir() / DEFAULT_MODEL
    assert (folder / "MODEL_CARD.md").is_file()
    assert (folder / "model.safetensors").stat().st_size < 20_000_000


def test_default_model_reads_the_example_lines():
    images = sorted(EXAMPLES.glob("*.png"))
    results = Recognizer.pretrained().recognize(images)
    pairs = [(p.with_suffix(".txt").read_text("utf-8").strip(), r.text) for p, r in zip(images, results)]
    # Measured 20 % CER on the whole val split; these three unseen lines read at about 9 %.
    assert corpus_scores(pairs)["cer"] < 0.3
