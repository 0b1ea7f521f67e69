"""The beam decoder's settings and their defaults: the one place each default value is written.

``ctc.beam_decode`` and ``fast_beam.beam_decode_fast`` take ``BEAM_DEFAULTS``' values as their
argument defaults; ``decoders.BeamDecoder`` falls back on them for what neither its caller nor its
language model file sets; ``UNTUNED_LM`` is what a language model built without tuning stores;
the CLI's help texts and the tuning code read them from here too, so that no copy can drift.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["BeamSettings", "BEAM_DEFAULTS", "UNSET_LM_WEIGHT", "UNTUNED_LM"]


@dataclass(frozen=True)
class BeamSettings:
    """Prefix beam search settings (see ``sparkhtr.text.ctc.beam_decode`` for what each does)."""

    lm_weight: float = 0.5
    length_bonus: float = 0.0
    beam_width: int = 10
    # -6 (p < 0.25 %) gave the CER of -12 on held-out Copiste lines (8.17 % against 8.19 %) at
    # 6.5 ms instead of 56 ms per line.
    prune: float = -6.0
    word_bonus: float = 0.0
    oov_penalty: float = 0.0
    # With the bundled model at width 40, 8 read 400 degraded held-out Copiste lines exactly as no
    # margin did (9.35 % CER) in 57 % of the time.
    margin: float | None = 8.0

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


BEAM_DEFAULTS = BeamSettings()

# BeamDecoder's LM weight when neither its caller nor its LM file gives one: 0, not
# BEAM_DEFAULTS.lm_weight (which is for callers handing an LM to the search directly). Every LM
# sparkhtr writes stores its weight, so this only meets hand-made files and decoders with no LM.
UNSET_LM_WEIGHT = 0.0

# What an LM that was not tuned stores: a middle point of the tuning grid
# (sparkhtr/calibrate/tuning.py); `build-lm --tune` chooses better ones for a given model.
UNTUNED_LM: dict[str, float] = {"lm_weight": 0.3, "length_bonus": 2.0}
