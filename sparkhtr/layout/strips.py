"""Text lines of a page's ink as chains of row-profile peaks in narrow vertical strips.

Why strips: over a strip two line pitches wide a skewed or curling line is nearly level, so the
strip's row profile has one clear peak per line, at the line's body, and a valley between lines
even where ascenders and descenders touch. Peaks of neighbouring strips at the same height (as
predicted from the chain's slope so far) are one line; a strip without ink (a column gap, the
space beside a marginal note) ends every chain, so columns and notes come out as separate lines.
A line's band runs from the valley above its peak to the valley below, strip by strip.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Chain", "find_chains"]

STRIP_PITCHES = 1.5  # strip width in line pitches
SMOOTH_PITCHES = 0.4  # the row profile is smoothed over this share of a pitch
MIN_PEAK_DISTANCE = 0.55  # peaks closer than this many pitches are one line
PEAK_FLOOR = 0.12  # a peak under this share of the page's typical line peak is noise
LINK_TOLERANCE = 0.35  # pitches between a peak and the height its chain predicts
MAX_SKIP = 0  # empty strips a chain may jump: none, page.py joins pieces by their real gap
MAX_SLOPE = 0.1  # a line climbs or falls at most this many rows per column (about 6 degrees)
HALF_BAND = 0.75  # pitches above/below a peak when no neighbouring line bounds its band


@dataclass
class Chain:
    """One line: per strip it crosses, the strip's x range, the peak row and the band's rows."""

    strips: list[int] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    tops: list[float] = field(default_factory=list)
    bottoms: list[float] = field(default_factory=list)
    strength: list[float] = field(default_factory=list)
    max_slope: float = 0.0  # rows per strip a line may climb or fall (set from the pitch)

    def predict(self, strip: int) -> float:
        if len(self.strips) < 2:
            return self.peaks[-1]
        k = min(4, len(self.strips) - 1)  # slope over the last few strips: curls follow, noise averages out
        slope = (self.peaks[-1] - self.peaks[-1 - k]) / (self.strips[-1] - self.strips[-1 - k])
        slope = float(np.clip(slope, -self.max_slope, self.max_slope))
        return self.peaks[-1] + slope * (strip - self.strips[-1])


def _smooth(values: np.ndarray, width: int) -> np.ndarray:
    kernel = np.ones(max(1, width)) / max(1, width)
    once = np.convolve(values, kernel, mode="same")
    return np.convolve(once, kernel, mode="same")  # twice: a triangle, no flat-topped plateaus


def _peaks(profile: np.ndarray, distance: int, floor: float) -> list[int]:
    left, right = np.r_[-1.0, profile[:-1]], np.r_[profile[1:], -1.0]
    candidates = np.flatnonzero((profile >= floor) & (profile > left) & (profile >= right))
    kept: list[int] = []
    for i in sorted(candidates.tolist(), key=lambda i: -profile[i]):
        if all(abs(i - j) >= distance for j in kept):
            kept.append(i)
    return sorted(kept)


def _bands(profile: np.ndarray, peaks: list[int], half: int) -> list[tuple[int, int]]:
    """Each peak's rows: from the lowest point between it and the peak above (or ``half`` above
    it, stopping early at empty rows) to the same below."""
    cuts = [a + int(np.argmin(profile[a:b])) for a, b in zip(peaks, peaks[1:])]
    bands = []
    for k, peak in enumerate(peaks):
        top = _edge(profile, peak, -half)  # a blank gap above: the band stops where the ink does
        bottom = _edge(profile, peak, half)
        bands.append((max(top, cuts[k - 1]) if k > 0 else top, min(bottom, cuts[k]) if k < len(cuts) else bottom))
    return bands


def _edge(profile: np.ndarray, peak: int, reach: int) -> int:
    step = 1 if reach > 0 else -1
    end = int(np.clip(peak + reach, 0, len(profile) - 1))
    span = profile[peak : end + step : step] if step > 0 else profile[end : peak + 1][::-1]
    empty = np.flatnonzero(span <= 0.02 * profile[peak])
    return peak + step * int(empty[0]) if len(empty) else end


def find_chains(ink: np.ndarray, pitch: float) -> tuple[list[Chain], int]:
    """The lines of ``ink`` (a page's bool mask) as chains, and the strip width in pixels."""
    height, width = ink.shape
    strip = max(4, round(STRIP_PITCHES * pitch))
    columns = range(0, width, strip)
    profiles = [_smooth(ink[:, x : x + strip].sum(axis=1).astype(np.float64), round(SMOOTH_PITCHES * pitch))
                for x in columns]
    distance = max(2, round(MIN_PEAK_DISTANCE * pitch))
    everything = [p.max() for p in profiles if p.max() > 0]
    if not everything:
        return [], strip
    floor = max(PEAK_FLOOR * float(np.percentile(everything, 90)), 0.02 * strip)
    active: list[Chain] = []
    done: list[Chain] = []
    for s, profile in enumerate(profiles):
        peaks = _peaks(profile, distance, floor)
        bands = _bands(profile, peaks, round(HALF_BAND * pitch))
        open_chains = [c for c in active if s - c.strips[-1] <= MAX_SKIP + 1]
        done.extend(c for c in active if s - c.strips[-1] > MAX_SKIP + 1)
        pairs = sorted(
            (abs(c.predict(s) - y), ci, pi)
            for ci, c in enumerate(open_chains)
            for pi, y in enumerate(peaks)
            if abs(c.predict(s) - y) <= LINK_TOLERANCE * pitch
        )
        used_chains: set[int] = set()
        used_peaks: set[int] = set()
        for _, ci, pi in pairs:
            if ci in used_chains or pi in used_peaks:
                continue
            used_chains.add(ci)
            used_peaks.add(pi)
            _extend(open_chains[ci], s, peaks[pi], bands[pi], profile[peaks[pi]])
        for pi, y in enumerate(peaks):
            if pi not in used_peaks:
                chain = Chain(max_slope=MAX_SLOPE * strip)
                _extend(chain, s, y, bands[pi], profile[y])
                open_chains.append(chain)
        active = open_chains
    return done + active, strip


def _extend(chain: Chain, strip: int, peak: int, band: tuple[int, int], strength: float) -> None:
    chain.strips.append(strip)
    chain.peaks.append(float(peak))
    chain.tops.append(float(band[0]))
    chain.bottoms.append(float(band[1]))
    chain.strength.append(float(strength))
