"""The character language model and CTC beam search: probabilities, files, and decoding choices."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from sparkhtr.text.beam_settings import BEAM_DEFAULTS, UNSET_LM_WEIGHT
from sparkhtr.text.ctc import beam_decode, greedy_decode
from sparkhtr.text.decoders import BeamDecoder, GreedyDecoder, make_decoder
from sparkhtr.text.lexicon import Lexicon, words_in
from sparkhtr.text.lm import LINE_END, CharNgramLM


def _log_softmax(x: np.ndarray) -> np.ndarray:
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


def test_lm_is_a_distribution_over_the_charset_in_every_context():
    lm = CharNgramLM.train(["le chat", "la chatte", "les chats"], order=4, vocab="abcdehlst ")
    for context in ("", "le ch", "zzz", "les chats"):
        total = sum(math.exp(lm.log_prob(context, c)) for c in lm.vocab)
        assert total == pytest.approx(1.0, abs=1e-9)
    assert lm.log_prob("le c", "h") > lm.log_prob("le c", "s")  # seen beats unseen
    assert lm.log_prob("", "b") > -math.inf  # a character never seen still has some probability
    assert lm.score("le chat") > lm.score("le tahc")


def test_lm_file_round_trip_and_errors(tmp_path: Path):
    lm = CharNgramLM.train(["abc abd", "abe"], order=3, decoding={"lm_weight": 0.7, "length_bonus": 1.5})
    loaded = CharNgramLM.load(lm.save(tmp_path / "lm.json.gz"))
    assert loaded.decoding == {"lm_weight": 0.7, "length_bonus": 1.5}
    for context, char in [("", "a"), ("ab", "d"), ("xy", LINE_END)]:
        assert loaded.log_prob(context, char) == lm.log_prob(context, char)
    (tmp_path / "junk.json.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="junk.json.gz"):
        CharNgramLM.load(tmp_path / "junk.json.gz")
    with gzip.open(tmp_path / "other.json.gz", "wt") as handle:
        handle.write('{"format": "something else"}')
    with pytest.raises(ValueError, match="other.json.gz: not a sparkhtr language model"):
        CharNgramLM.load(tmp_path / "other.json.gz")
    with pytest.raises(FileNotFoundError, match="nowhere.json.gz"):
        CharNgramLM.load(tmp_path / "nowhere.json.gz")


def test_beam_search_sums_alignments_where_greedy_takes_one_path():
    log_probs = np.log(np.array([[0.4, 0.6], [0.4, 0.6]]))  # class 0 "a", class 1 blank
    assert greedy_decode(log_probs, blank=1).chars == []  # best path: blank, blank (0.36)
    assert [c.label for c in beam_decode(log_probs, 1, ["a"]).chars] == [0]  # "a": 0.64 over 3 paths


def test_a_language_model_settles_what_the_image_leaves_open():
    charset = ["a", "b"]  # blank is class 2
    # "a", blank, then a frame torn between "b" and "a".
    log_probs = np.log(np.array([[0.9, 0.05, 0.05], [0.05, 0.05, 0.9], [0.44, 0.46, 0.10]]))
    assert [c.label for c in beam_decode(log_probs, 2, charset).chars] == [0, 1]  # "ab"
    lm = CharNgramLM.train(["aa"] * 20, order=2)  # this language writes "a" after "a"
    decoded = beam_decode(log_probs, 2, charset, lm=lm, lm_weight=1.0)
    assert [c.label for c in decoded.chars] == [0, 0]  # "aa"
    assert [(c.first_frame, c.last_frame) for c in decoded.chars] == [(0, 0), (2, 2)]


def test_beam_search_agrees_with_greedy_on_confident_frames():
    rng = np.random.default_rng(0)
    for _ in range(50):
        labels = rng.integers(0, 6, size=rng.integers(1, 40))  # 5 is the blank
        logits = rng.normal(size=(len(labels), 6))
        logits[np.arange(len(labels)), labels] += 8.0  # one clear winner per frame, as trained models give
        log_probs = _log_softmax(logits)
        greedy, beam = greedy_decode(log_probs, 5), beam_decode(log_probs, 5, list("abcde"))
        assert [(c.label, c.first_frame, c.last_frame) for c in beam.chars] == [
            (c.label, c.first_frame, c.last_frame) for c in greedy.chars
        ]
        assert [c.confidence for c in beam.chars] == pytest.approx([c.confidence for c in greedy.chars])
        assert beam.confidence == pytest.approx(greedy.confidence)


def test_decoders_by_name(tmp_path: Path):
    assert isinstance(make_decoder("greedy"), GreedyDecoder)
    plain = make_decoder("beam")
    assert isinstance(plain, BeamDecoder) and plain.lm is None and plain.lm_weight == 0.0
    lm_path = CharNgramLM.train(["abc"], decoding={"lm_weight": 0.4, "length_bonus": 1.0}).save(tmp_path / "lm.json.gz")
    from_dir = make_decoder("beam", model_dir=tmp_path)  # a model directory's lm.json.gz is found
    assert from_dir.lm is not None and (from_dir.lm_weight, from_dir.length_bonus) == (0.4, 1.0)
    assert make_decoder("beam", lm=lm_path, lm_weight=0.9).lm_weight == 0.9
    with pytest.raises(ValueError, match="unknown decoder 'viterbi'"):
        make_decoder("viterbi")
    with pytest.raises(ValueError, match="beam decoder only"):
        make_decoder("greedy", lm=lm_path)


def test_lexicon_words_and_which_word_a_character_closes():
    assert words_in("L'Ouest, nord-est 1950 : Élysée") == ["l", "ouest", "nord", "est", "élysée"]
    lexicon = Lexicon.from_texts(["Le chat dort.", "l'Élysée"])
    assert len(lexicon) == 5 and "CHAT" in lexicon and "élysée" in lexicon and "chien" not in lexicon
    assert Lexicon.closed_word("le chat", " ") == "chat"
    assert Lexicon.closed_word("le chat", LINE_END) == "chat"  # the line end closes the last word
    assert Lexicon.closed_word("le cha", "t") is None  # a letter continues the word
    assert Lexicon.closed_word("le chat ", ".") is None  # nothing open to close
    assert Lexicon.closed_word("à 9 kilomè", "-") is None  # a hyphen may break the word at the line end
    assert Lexicon.closed_word("nord-est", LINE_END) == "est"
    assert lexicon.closing_score("un chat", ",", 1.5, 2.0) == 1.5
    assert lexicon.closing_score("un chien", ",", 1.5, 2.0) == -2.0


def test_a_lexicon_turns_an_unclear_letter_into_a_known_word():
    charset = ["c", "h", "a", "t", "o"]  # blank is class 5
    rows = [[0.9, 0, 0, 0, 0, 0.1], [0, 0.9, 0, 0, 0, 0.1], [0, 0, 0.45, 0, 0.55, 0], [0, 0, 0, 0.9, 0, 0.1]]
    log_probs = np.log(np.array(rows) + 1e-6)
    plain = beam_decode(log_probs, 5, charset)
    assert "".join(charset[c.label] for c in plain.chars) == "chot"  # the image leans to "o"
    known = beam_decode(log_probs, 5, charset, lexicon=Lexicon(["chat"]), word_bonus=1.0, oov_penalty=1.0)
    assert "".join(charset[c.label] for c in known.chars) == "chat"
    clear = np.log(np.array([[0.9, 0, 0, 0, 0, 0.1], [0, 0.9, 0, 0, 0, 0.1], [0, 0, 0.02, 0, 0.98, 0],
                             [0, 0, 0, 0.9, 0, 0.1]]) + 1e-6)
    unknown = beam_decode(clear, 5, charset, lexicon=Lexicon(["chat"]), word_bonus=1.0, oov_penalty=1.0)
    assert "".join(charset[c.label] for c in unknown.chars) == "chot"  # a clear image keeps its unknown word


def test_a_space_closes_a_word_in_the_middle_of_a_line():
    charset = [" ", "a", "o", "b"]  # blank is class 4
    # "b", then a frame torn between "a" and "o", then a space and "b": "ba b" or "bo b".
    rows = [[0, 0, 0, 0.9, 0.1], [0, 0.45, 0.55, 0, 0], [0.9, 0, 0, 0, 0.1], [0, 0, 0, 0.9, 0.1]]
    log_probs = np.log(np.array(rows) + 1e-6)
    text = lambda line: "".join(charset[c.label] for c in line.chars)  # noqa: E731
    assert text(beam_decode(log_probs, 4, charset)) == "bo b"
    lexicon = Lexicon(["ba", "b"])
    assert text(beam_decode(log_probs, 4, charset, lexicon=lexicon, oov_penalty=1.0)) == "ba b"


def test_lexicon_and_settings_travel_in_the_lm_file(tmp_path: Path):
    decoding = {"lm_weight": 0.45, "length_bonus": 2.0, "word_bonus": 1.0, "oov_penalty": 2.0, "beam_width": 20}
    lm = CharNgramLM.train(["le chat dort"], order=3, decoding=decoding)
    lm.lexicon = Lexicon.from_texts(["le chat dort", "Paris"])
    path = lm.save(tmp_path / "lm.json.gz")
    loaded = CharNgramLM.load(path)
    assert loaded.lexicon is not None and loaded.lexicon.words == {"le", "chat", "dort", "paris"}
    decoder = make_decoder("auto", model_dir=tmp_path)
    assert isinstance(decoder, BeamDecoder) and decoder.lexicon.words == {"le", "chat", "dort", "paris"}
    assert (decoder.beam_width, decoder.word_bonus, decoder.oov_penalty) == (20, 1.0, 2.0)
    assert decoder.settings()["lexicon_words"] == 4
    assert make_decoder("beam", lm=path, beam_width=5, oov_penalty=0.0).oov_penalty == 0.0
    without = CharNgramLM.load(CharNgramLM.train(["abc"]).save(tmp_path / "plain.json.gz"))
    assert without.lexicon is None  # files from before lexicons read as they did
    plain = BeamDecoder(without)
    assert (plain.beam_width, plain.word_bonus) == (10, 0.0) and "lexicon_words" not in plain.settings()


def test_format_1_files_still_load_and_a_damaged_lexicon_is_named(tmp_path: Path):
    import json

    lm = CharNgramLM.train(["abc"], order=2)
    data = {"format": "sparkhtr-charlm/1", "order": 2, "vocab": lm.vocab, "counts": lm.counts,
            "decoding": {"lm_weight": 0.3, "length_bonus": 3.0}}
    with gzip.open(tmp_path / "old.json.gz", "wt") as handle:
        json.dump(data, handle)
    old = CharNgramLM.load(tmp_path / "old.json.gz")
    assert old.lexicon is None and old.log_prob("a", "b") == lm.log_prob("a", "b")
    with gzip.open(tmp_path / "bad.json.gz", "wt") as handle:
        json.dump({**data, "format": "sparkhtr-charlm/2", "lexicon": "chat"}, handle)
    with pytest.raises(ValueError, match="bad.json.gz: a damaged sparkhtr language model .*not a list of words"):
        CharNgramLM.load(tmp_path / "bad.json.gz")


def test_format_2_files_read_as_the_flat_format_does(tmp_path: Path):
    """The nested counts of format 2 and the flat arrays of format 3 are the same model: the same
    probabilities, and the same texts from the compiled beam search; saving always writes format 3."""
    import json
    import random

    from sparkhtr.text.fast_beam import beam_decode_fast

    texts = ["le chat dort sur le toit", "la chatte dort", "Les chats du quartier", "un été à Noël"]
    lm = CharNgramLM.train(texts, order=4)
    lm.lexicon = Lexicon.from_texts(texts)
    data = {"format": "sparkhtr-charlm/2", "order": 4, "vocab": lm.vocab, "counts": lm.counts,
            "decoding": lm.decoding, "lexicon": sorted(lm.lexicon.words)}
    with gzip.open(tmp_path / "old.json.gz", "wt", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False)
    old = CharNgramLM.load(tmp_path / "old.json.gz")
    flat = CharNgramLM.load(lm.save(tmp_path / "new.json.gz"))
    with gzip.open(tmp_path / "new.json.gz", "rt", encoding="utf-8") as handle:
        assert json.load(handle)["format"] == "sparkhtr-charlm/3"
    assert flat.counts == old.counts and flat.lexicon.words == old.lexicon.words
    pairs = [(context, char) for context in ("", "le ", "chat", "zz", "Noë") for char in "aeiou lé"]
    assert [flat.log_prob(*p) for p in pairs] == [old.log_prob(*p) for p in pairs]
    charset = sorted(set("".join(texts)))
    rng = random.Random(3)
    for _ in range(5):
        log_probs = _log_softmax(np.array([[rng.gauss(0, 3) for _ in range(len(charset) + 1)] for _ in range(30)]))
        a, b = (beam_decode_fast(log_probs, len(charset), charset, m, 0.5, lexicon=m.lexicon, word_bonus=1.0)
                for m in (CharNgramLM.load(tmp_path / "old.json.gz"), CharNgramLM.load(tmp_path / "new.json.gz")))
        assert a.chars == b.chars
        assert a.confidence == pytest.approx(b.confidence, abs=1e-12)


def test_an_lm_that_counted_nothing_round_trips(tmp_path: Path):
    from sparkhtr.text import fast_beam

    lm = CharNgramLM.load(CharNgramLM.train(["", "xyz"], order=3, vocab="ab").save(tmp_path / "lm.json.gz"))
    assert lm.counts == {} and lm.log_prob("ab", "a") == pytest.approx(-math.log(3))
    log_probs = _log_softmax(np.random.default_rng(2).normal(0, 3, (12, 3)))
    assert fast_beam._lm_table(lm) is not None  # an empty table, which the compiled search reads too
    args = (log_probs, 2, ["a", "b"], lm, 1.0)
    assert fast_beam.beam_decode_fast(*args) == beam_decode(*args)


def test_hand_made_counts_the_compiled_tables_cannot_hold_are_decoded_in_python():
    """Before: an OverflowError (a count beyond 64 bits), totals wrapped around in int64 (counts near
    2**63), reads past the counts (a follower of several characters) and a walk past its 64 slots in
    _beam_lm.h (contexts longer than the order)."""
    from sparkhtr.text import fast_beam

    charset = ["a", "b", "c"]
    made = [
        {"": {"a": 2**70, "b": 1}},
        {"": {"a": 2**63 - 1, "b": 2**63 - 1, "c": 2}},
        {"": {"abc": 5}},
        {"b" * n: {"a": 1} for n in range(100)} | {"b" * 100: {"c": 1}},
    ]
    rng = np.random.default_rng(4)
    for counts in made:
        lm = CharNgramLM(3, charset, counts)
        assert fast_beam._lm_table(lm) is None
        for _ in range(3):
            args = (_log_softmax(rng.normal(0, 3, (12, 4))), 3, charset, lm, 1.0)
            assert fast_beam.beam_decode_fast(*args) == beam_decode(*args)


def test_the_score_margin_reads_real_lines_as_the_full_beam_does(val_lines):
    """The default margin (8) only drops hypotheses far behind the best: on real lines, with the
    bundled model and its LM, the texts match those of the unpruned beam; a margin of 0 keeps
    only the best-ranked hypothesis once the beam is full, and reads differently somewhere."""
    from sparkhtr import Recognizer

    recognizer = Recognizer.pretrained(decoder="beam")
    decoder = recognizer.decoder
    charset = recognizer.charset

    from sparkhtr.text.fast_beam import beam_decode_fast

    def read(log_probs: np.ndarray, margin: float | None, search=beam_decode_fast) -> str:
        line = search(log_probs, len(charset), charset, decoder.lm, decoder.lm_weight, decoder.length_bonus,
                      decoder.beam_width, lexicon=decoder.lexicon, word_bonus=decoder.word_bonus,
                      oov_penalty=decoder.oov_penalty, margin=margin)
        return "".join(charset[c.label] for c in line.chars)

    lines = [recognizer.log_probs(path) for path in val_lines]
    default = [read(lp, BEAM_DEFAULTS.margin) for lp in lines]
    assert default == [read(lp, None) for lp in lines]
    assert default == [recognizer.recognize(path).text for path in val_lines]  # the default is what decoders use
    assert default != [read(lp, 0.0) for lp in lines]
    # The Python search (the compiled one's reference) prunes alike; three lines, as it is slow.
    assert default[:3] == [read(lp, BEAM_DEFAULTS.margin, beam_decode) for lp in lines[:3]]


def test_the_beam_defaults_are_written_once():
    """Both searches take their argument defaults from beam_settings, and BeamDecoder falls back on
    them for what its LM file does not set."""
    import inspect

    from sparkhtr.text.fast_beam import beam_decode_fast

    for search in (beam_decode, beam_decode_fast):
        defaults = {name: p.default for name, p in inspect.signature(search).parameters.items()
                    if p.default is not inspect.Parameter.empty and name not in ("lm", "lexicon")}
        assert defaults == BEAM_DEFAULTS.as_dict()
    lm = CharNgramLM.train(["abc"], decoding={"beam_width": 7})
    decoder = BeamDecoder(lm)
    assert (decoder.lm_weight, decoder.length_bonus, decoder.beam_width) == (UNSET_LM_WEIGHT, 0.0, 7)
    assert BeamDecoder().beam_width == BEAM_DEFAULTS.beam_width
