"""The compiled beam search reads what the Python one reads: same texts, frames, and confidences within 1e-6."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from sparkhtr.text import fast_beam
from sparkhtr.text.ctc import DecodedLine, beam_decode
from sparkhtr.text.fast_beam import beam_decode_fast
from sparkhtr.text.lexicon import Lexicon
from sparkhtr.text.lm import CharNgramLM


def _assert_same(reference: DecodedLine, compiled: DecodedLine) -> None:
    assert [(c.label, c.first_frame, c.last_frame) for c in compiled.chars] == [
        (c.label, c.first_frame, c.last_frame) for c in reference.chars
    ]
    assert [c.confidence for c in compiled.chars] == pytest.approx([c.confidence for c in reference.chars], abs=1e-6)
    assert compiled.confidence == pytest.approx(reference.confidence, abs=1e-6)


def test_the_extension_is_built():
    # `pip install -e .` compiles it wherever there is a C compiler, as on CI: a silent fallback
    # to Python would only show as a 10x slower decoder.
    assert fast_beam.COMPILED


@pytest.fixture(scope="module")
def bundled():
    from sparkhtr import Recognizer

    return Recognizer.pretrained(decoder="beam")


def test_real_lines_with_the_bundled_model_and_lm(bundled, val_lines):
    decoder, charset = bundled.decoder, bundled.charset
    # The compiled search takes this LM, lexicon and charset (no quiet fallback to Python).
    lm_table = fast_beam._lm_table(decoder.lm)
    assert lm_table is not None and fast_beam._lexicon_table(decoder.lexicon) is not None
    assert fast_beam._class_table(charset, lm_table) is not None
    lines = [bundled.log_probs(path) for path in val_lines]
    settings = [
        dict(lexicon=decoder.lexicon, word_bonus=decoder.word_bonus, oov_penalty=decoder.oov_penalty),  # the default
        dict(margin=None),  # LM, no lexicon, the full beam
        dict(beam_width=5, lexicon=decoder.lexicon, word_bonus=1.0, oov_penalty=3.0, prune=-4.0),
    ]
    for extra in settings:
        kwargs = dict(lm=decoder.lm, lm_weight=decoder.lm_weight, length_bonus=decoder.length_bonus,
                      beam_width=decoder.beam_width) | extra
        for log_probs in lines:
            _assert_same(beam_decode(log_probs, len(charset), charset, **kwargs),
                         beam_decode_fast(log_probs, len(charset), charset, **kwargs))
    for log_probs in lines[:4]:  # no LM at all
        _assert_same(beam_decode(log_probs, len(charset), charset, beam_width=10),
                     beam_decode_fast(log_probs, len(charset), charset, beam_width=10))
    # The recognizer's default decoder goes through the compiled search.
    texts = [bundled.recognize(path).text for path in val_lines]
    kwargs = dict(lm=decoder.lm, lm_weight=decoder.lm_weight, length_bonus=decoder.length_bonus,
                  beam_width=decoder.beam_width, lexicon=decoder.lexicon, word_bonus=decoder.word_bonus,
                  oov_penalty=decoder.oov_penalty)
    assert texts == ["".join(charset[c.label] for c in beam_decode(lp, len(charset), charset, **kwargs).chars)
                     for lp in lines]


CHARSET = list("abcdeéz -'.E")  # letters (one accented, one capital), a space, a hyphen, an apostrophe, a stop


def _random_lines(seed: int, count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(count):
        frames = int(rng.integers(1, 60))
        logits = rng.normal(scale=2.5, size=(frames, len(CHARSET) + 1))
        logits[:, -1] += rng.uniform(0, 3)  # blanks, as CTC models give many
        log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        if rng.random() < 0.3:
            log_probs[rng.random(log_probs.shape) < 0.2] = -np.inf  # probabilities of exactly 0
            log_probs[np.arange(frames), rng.integers(0, len(CHARSET) + 1, frames)] = -0.1
        lines.append(log_probs.astype(np.float32) if rng.random() < 0.5 else log_probs)
    return lines


def _random_lm(seed: int, order: int) -> CharNgramLM:
    rng = np.random.default_rng(seed)
    words = ["abc", "bad", "cab", "dé", "zed", "ace", "Eda", "a-b"]
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 6))) + rng.choice(["", ".", " l'", "-"])
             for _ in range(60)]
    lm = CharNgramLM.train(texts, order=order, vocab=CHARSET)
    lm.lexicon = Lexicon(["abc", "cab", "dé", "eda", "a"])
    return lm


@pytest.mark.parametrize("order", [1, 2, 4, 6])
def test_random_lines_with_a_small_lm_and_lexicon(order: int):
    lm = _random_lm(order, order)
    assert fast_beam._lm_table(lm) is not None and fast_beam._class_table(CHARSET, fast_beam._lm_table(lm)) is not None
    for seed, log_probs in enumerate(_random_lines(order, 40)):
        rng = np.random.default_rng(seed)
        kwargs = dict(lm=lm, lm_weight=float(rng.uniform(0, 1.5)), length_bonus=float(rng.uniform(-1, 3)),
                      beam_width=int(rng.integers(1, 16)), prune=float(rng.choice([-6.0, -3.3, -20.0])),
                      margin=[None, 8.0, 2.5][seed % 3])
        if seed % 2:
            bonus, penalty = float(rng.uniform(0, 2)), float(rng.uniform(0, 4))
            kwargs |= dict(lexicon=lm.lexicon, word_bonus=bonus, oov_penalty=penalty)
        _assert_same(beam_decode(log_probs, len(CHARSET), CHARSET, **kwargs),
                     beam_decode_fast(log_probs, len(CHARSET), CHARSET, **kwargs))


def test_a_pruned_lm_is_converted_again_and_reads_as_python_does():
    lm = _random_lm(0, 5)
    lines = _random_lines(7, 10)
    kwargs = dict(lm=lm, lm_weight=1.0, length_bonus=1.0, beam_width=8)
    beam_decode_fast(lines[0], len(CHARSET), CHARSET, **kwargs)
    table = fast_beam._lm_table(lm)
    lm.prune(3)
    assert fast_beam._lm_table(lm) not in (table, None)  # converted again, and compiled
    for log_probs in lines:
        _assert_same(beam_decode(log_probs, len(CHARSET), CHARSET, **kwargs),
                     beam_decode_fast(log_probs, len(CHARSET), CHARSET, **kwargs))


def test_hand_made_counts_and_odd_inputs_read_as_python_does():
    # A context whose shorter suffix was never seen: lm.py's walk never reaches it.
    odd = CharNgramLM(3, CHARSET, {"": {"a": 3, "b": 1}, "ba": {"c": 5}, "b": {"a": 2}, "zz": {"a": 1}})
    # Contexts not closed under prefixes: decoded in Python.
    gappy = CharNgramLM(3, CHARSET, {"": {"a": 3, "c": 1}, "a": {"c": 2}, "ca": {"c": 4}})
    assert fast_beam._lm_table(odd) is not None and fast_beam._lm_table(gappy) is None
    multi = ["ab", "c", "d"]  # a charset entry of two characters: decoded in Python
    for lm in (odd, gappy, CharNgramLM(2, CHARSET, {})):
        for log_probs in _random_lines(11, 8):
            kwargs = dict(lm=lm, lm_weight=0.8, length_bonus=1.0, beam_width=6)
            _assert_same(beam_decode(log_probs, len(CHARSET), CHARSET, **kwargs),
                         beam_decode_fast(log_probs, len(CHARSET), CHARSET, **kwargs))
    log_probs = _random_lines(5, 1)[0][:, :4]
    _assert_same(beam_decode(log_probs, 3, multi), beam_decode_fast(log_probs, 3, multi))
    line = _random_lines(6, 1)[0]
    for odd_settings in (dict(prune=-np.inf), dict(prune=0.0, beam_width=1), dict(margin=0.0, beam_width=3)):
        _assert_same(beam_decode(line, len(CHARSET), CHARSET, **odd_settings),
                     beam_decode_fast(line, len(CHARSET), CHARSET, **odd_settings))
    assert beam_decode_fast(np.zeros((0, len(CHARSET) + 1)), len(CHARSET), CHARSET) == DecodedLine([], 0.0)


def test_threads_decode_alike():
    lm = _random_lm(1, 4)
    lines = _random_lines(21, 60)
    kwargs = dict(lm=lm, lm_weight=0.7, length_bonus=1.0, beam_width=10, lexicon=lm.lexicon, oov_penalty=1.0)
    alone = [beam_decode_fast(lp, len(CHARSET), CHARSET, **kwargs) for lp in lines]
    results: dict[int, DecodedLine] = {}

    def work(part: range) -> None:
        for i in part:
            results[i] = beam_decode_fast(lines[i], len(CHARSET), CHARSET, **kwargs)

    workers = [threading.Thread(target=work, args=(range(k, len(lines), 3),)) for k in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [results[i] for i in range(len(lines))] == alone


def test_the_prune_floor_compares_float32_log_probs_as_numpy_does():
    # numpy compares float32 log-probs with the floor rounded to float32: -3.3f is tried under a floor
    # of -3.2999999 (above -3.3f in double precision), and with a length bonus it is read.
    log_probs = np.log(np.array([[np.exp(-3.3), 1 - np.exp(-3.3)]], dtype=np.float32))
    log_probs[0, 0] = np.float32(-3.3)
    kwargs = dict(length_bonus=5.0, prune=-3.2999999, beam_width=4)
    reference = beam_decode(log_probs, 1, ["a"], **kwargs)
    assert [c.label for c in reference.chars] == [0]
    _assert_same(reference, beam_decode_fast(log_probs, 1, ["a"], **kwargs))
    as_double = log_probs.astype(np.float64)  # in float64 the floor is above -3.3f: only the blank is tried
    assert beam_decode(as_double, 1, ["a"], **kwargs).chars == []
    assert beam_decode_fast(as_double, 1, ["a"], **kwargs).chars == []


def test_another_thread_runs_python_while_a_line_decodes():
    """The search runs without the GIL: a thread counting in Python keeps counting all through one long
    decode. With the GIL held, it could count only in the switch interval (5 ms) before the call."""
    frames = 10_000
    rng = np.random.default_rng(5)
    logits = rng.normal(scale=1.0, size=(frames, len(CHARSET) + 1))
    logits[np.arange(frames), rng.integers(0, len(CHARSET) + 1, frames)] += 4.0
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    lm = _random_lm(2, 4)
    lm_table = fast_beam._lm_table(lm)
    tables = (fast_beam._class_table(CHARSET, lm_table), lm_table.table, fast_beam._lexicon_table(lm.lexicon))
    stamps: list[float] = []
    done = threading.Event()

    def count() -> None:
        while not done.is_set():
            stamps.append(time.perf_counter())

    counter = threading.Thread(target=count)
    counter.start()
    while not stamps:
        time.sleep(0.001)
    # The compiled call itself: the wrapper's own Python steps would let the counter in anyway.
    started = time.perf_counter()
    fast_beam._beam.decode(log_probs, False, frames, len(CHARSET) + 1, len(CHARSET), *tables, 0.5, 0.0, 10, -6.0,
                           0.0, 1.0, True, 8.0)
    ended = time.perf_counter()
    done.set()
    counter.join()
    quarter = (ended - started) / 4
    middle = sum(started + quarter < stamp < ended - quarter for stamp in stamps)
    assert quarter > 0.01 and middle >= 10, (ended - started, middle)  # with the GIL held: 0, always
