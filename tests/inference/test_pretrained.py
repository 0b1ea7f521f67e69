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
    # Everything shipped (weights, int8 ONNX, the LMs of four languages, card, pictures) stays within
    # 40 MB: the LMs are 27.5 MB of it (the mixed one 12.3 MB), the price of reading each language
    # with its own; the wheel stays far under PyPI's 100 MB.
    assert sum(p.stat().st_size for p in folder.iterdir()) < 40_000_000


def test_default_model_reads_the_example_lines():
    images = sorted(EXAMPLES.glob("*.png"))
    results = Recognizer.pretrained().recognize(images)
    pairs = [(p.with_suffix(".txt").read_text("utf-8").strip(), r.text) for p, r in zip(images, results)]
    # The whole val split measured 12.6 % CER (beam + LM, the default); these three unseen lines read better.
    assert corpus_scores(pairs)["cer"] < 0.3


def test_default_model_ships_a_fast_onnx_graph_that_reads_as_well():
    """`backend="onnx"` finds the bundled single-line int8 graph and reads the examples about as well."""
    images = sorted(EXAMPLES.glob("*.png"))
    truth = [p.with_suffix(".txt").read_text("utf-8").strip() for p in images]
    fast = Recognizer.pretrained(backend="onnx")
    assert fast.backend.single_line
    scores = {}
    for name, recognizer in (("torch", Recognizer.pretrained(backend="torch")), ("onnx", fast)):
        scores[name] = corpus_scores(zip(truth, [r.text for r in recognizer.recognize(images)]))["cer"]
    assert scores["onnx"] <= scores["torch"] + 0.03, scores


def test_default_model_ships_a_language_model_that_helps():
    """The bundled lm.json.gz makes beam search the default decoder; on the examples it reads at
    least as well as greedy decoding."""
    images = sorted(EXAMPLES.glob("*.png"))
    truth = [p.with_suffix(".txt").read_text("utf-8").strip() for p in images]
    beam = Recognizer.pretrained()
    assert beam.decoder.name == "beam" and beam.decoder.lm is not None and beam.decoder.lm_weight > 0
    scores = {}
    for name, recognizer in (("greedy", Recognizer.pretrained(decoder="greedy")), ("beam", beam)):
        scores[name] = corpus_scores(zip(truth, [r.text for r in recognizer.recognize(images)]))["cer"]
    assert scores["beam"] <= scores["greedy"], scores


def test_default_model_reads_a_paragraph_line_by_line(make_paragraph):
    """Five lines of one val page stacked into one image read about as well as the lines alone."""
    page, spans, truth = make_paragraph(5, 0)
    recognizer = Recognizer.pretrained()
    result = recognizer.recognize_paragraph(page)
    assert len(result.lines) == 5
    assert result.text == "\n".join(line.result.text for line in result.lines)
    crops = [page.crop((0, top, page.width, bottom)) for top, bottom in spans]
    alone = corpus_scores(zip(truth, [r.text for r in recognizer.recognize(crops)]))["cer"]
    together = corpus_scores(zip(truth, [line.result.text for line in result.lines]))["cer"]
    assert together <= alone + 0.03, (together, alone)
    row = result.to_dict()["lines"][0]
    assert row["box"] == result.lines[0].box.to_list() and row["text"] == result.lines[0].result.text
