import numpy as np
import pytest

from sparkhtr.text.charset import LATIN_CHARSET, Charset, case_mapping, normalize_text
from sparkhtr.text.ctc import forced_alignment, greedy_decode
from sparkhtr.text.metrics import corpus_scores, punctuation_tokens


def _log_probs(path: list[int], classes: int, sure: float = 0.9) -> np.ndarray:
    probs = np.full((len(path), classes), (1 - sure) / (classes - 1))
    probs[np.arange(len(path)), path] = sure
    return np.log(probs)


def test_greedy_decode_merges_repeats_and_drops_blanks():
    blank = 3
    line = greedy_decode(_log_probs([0, 0, 3, 0, 1, 1, 3, 3, 2], 4), blank)
    assert [c.label for c in line.chars] == [0, 0, 1, 2]
    assert [(c.first_frame, c.last_frame) for c in line.chars] == [(0, 1), (3, 3), (4, 5), (8, 8)]
    assert line.confidence == pytest.approx(0.9)


def test_forced_alignment_finds_the_frames_of_a_given_text():
    blank = 3
    probs = np.full((7, 4), 0.02)
    for frame, label in enumerate([1, 1, 3, 2, 3, 2, 3]):  # "a" twice, then "b" twice, apart
        probs[frame, label] = 0.94
    log_probs = np.log(probs)
    assert forced_alignment(log_probs, [1, 2, 2], blank) == [(0, 1), (3, 3), (5, 5)]
    # A text the frames do not read still gets the best path that spells it.
    assert forced_alignment(log_probs, [2], blank) in ([(3, 3)], [(5, 5)], [(3, 5)])
    assert forced_alignment(log_probs, [], blank) == []
    # "aa" needs a blank between its letters: 2 frames are too few, 3 are enough.
    assert forced_alignment(log_probs[:2], [1, 1], blank) is None
    assert forced_alignment(log_probs[:3], [1, 1], blank) == [(0, 0), (2, 2)]
    # Different letters need no blank between them.
    assert forced_alignment(log_probs[:2], [1, 2], blank) == [(0, 0), (1, 1)]
    assert forced_alignment(log_probs[:0], [1], blank) is None
    with pytest.raises(ValueError, match="blank"):
        forced_alignment(log_probs, [1, blank], blank)


def test_confidence_follows_probabilities():
    assert greedy_decode(_log_probs([0, 1], 3, sure=0.5), 2).chars[0].confidence == pytest.approx(0.5)
    assert greedy_decode(np.zeros((0, 3)), 2).chars == []


def test_charset_codec_and_errors():
    charset = Charset.from_texts(["ba c", "a"])
    assert charset.chars == [" ", "a", "b", "c"] and charset.blank == 4
    assert charset.decode(charset.encode("cab")) == "cab"
    with pytest.raises(KeyError, match="'z'"):
        charset.encode("az")
    assert charset.missing("abz!") == {"z", "!"}


def test_case_mapping_writes_letters_in_one_case():
    chars = LATIN_CHARSET
    upper = case_mapping(chars, "upper")
    lower = case_mapping(chars, "lower")
    text = "Straße à Noël, 3 €"
    ids = Charset(chars).encode(text)
    assert "".join(chars[upper[i]] for i in ids) == "STRAßE À NOËL, 3 €"  # ß -> SS would be two characters
    assert "".join(chars[lower[i]] for i in ids) == "straße à noël, 3 €"
    assert case_mapping(chars, "as_read") is None
    with pytest.raises(ValueError, match="unknown letter_case 'title': use one of as_read, upper, lower"):
        case_mapping(chars, "title")


def test_latin_charset_covers_english_french_german():
    assert set("Grüße, l'été à Noël: «ça» — 3,50 €!") <= set(LATIN_CHARSET)
    assert normalize_text(" e\u0301te\u0301 \n  x ") == "été x"


def test_metrics_as_span_computes_them():
    scores = corpus_scores([("le chat.", "le chat ."), ("abc", "abd")])
    assert scores["cer"] == pytest.approx(2 / 11)  # one insertion + one substitution over 8 + 3 characters
    assert scores["wer"] == pytest.approx(3 / 3)  # "chat." vs "chat" "." : 1 sub + 1 ins, "abc" vs "abd": 1 sub
    assert scores["wer_punctuation_split"] == pytest.approx(1 / 4)
    assert punctuation_tokens("l'été, (oui)") == ["l", "'", "été", ",", "(", "oui", ")"]
