"""A character LM's counts as flat arrays: the form LM files hold and the compiled decoder reads.

Why not the nested dicts that counting builds: the bundled LM has 941,000 contexts and 4.3 million
(context, character) counts; as JSON objects they took 5 s of CPU to parse and check and 7 s more
to flatten for the compiled beam search, in every process that decoded a line (each Spark worker,
each CLI run), and held most of a gigabyte as Python objects. As a few long strings and integer
arrays the same counts load in well under a second and take a tenth of the memory. The dicts are
made only when Python code asks for them (the reference decoder, pruning).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["CountTable"]


@dataclass(eq=False)
class CountTable:
    """Contexts shortest first (the empty one first, then by code point), each one's followers in
    code-point order with their counts.

    ``contexts`` is every context concatenated, ``lengths`` their lengths; ``followers`` every
    following character concatenated, ``sizes`` how many follow each context, ``counts`` one per
    follower. Only contexts that the Witten-Bell walk can reach are kept (seen, with every suffix
    seen). ``parents``/``links`` index each context's prefix/suffix (one shorter), -1 for the empty
    context; ``parents`` is None when some prefix is missing (hand-made counts): the compiled
    decoder then leaves the LM to the Python one.
    """

    contexts: str
    lengths: np.ndarray
    followers: str
    sizes: np.ndarray
    counts: np.ndarray
    parents: np.ndarray | None = field(init=False)
    links: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        try:
            self.parents, self.links = _prefix_and_suffix_indices(self.contexts, self.lengths)
        except _NotClosed:  # hand-made counts: find what there is by name, slower
            self.parents, self.links = _indices_by_name(self.names())

    def names(self) -> list[str]:
        ends = np.cumsum(self.lengths)
        text = self.contexts
        return [text[end - size : end] for end, size in zip(ends.tolist(), self.lengths.tolist())]

    def starts(self) -> np.ndarray:
        """Per context: where its followers (and their counts) begin."""
        return _starts(self.sizes)

    def totals(self) -> np.ndarray:
        """Per context: the summed count of its followers (Witten-Bell's total)."""
        if not len(self.sizes):
            return np.zeros(0, dtype=np.int64)
        return np.add.reduceat(self.counts, self.starts())

    def to_dict(self) -> dict[str, dict[str, int]]:
        counts = self.counts.tolist()
        found: dict[str, dict[str, int]] = {}
        at = 0
        for name, size in zip(self.names(), self.sizes.tolist()):
            found[name] = dict(zip(self.followers[at : at + size], counts[at : at + size]))
            at += size
        return found

    @classmethod
    def from_dict(cls, counts: dict[str, dict[str, int]]) -> CountTable:
        """The reachable contexts of ``counts`` (seen, with every suffix seen), in table order."""
        kept: set[str] = set()
        names = []
        for context in sorted(counts, key=lambda c: (len(c), c)):
            if sum(counts[context].values()) and (not context or context[1:] in kept):
                kept.add(context)
                names.append(context)
        rows = [sorted(counts[name].items()) for name in names]
        followers = "".join(char for row in rows for char, _ in row)
        sizes = np.array([len(row) for row in rows], dtype=np.int64)
        # A follower of several characters (or none) would shift every later one against its count,
        # and the compiled decoder would read past the counts: hand-made dicts only, refused here.
        if len(followers) != sizes.sum() or any("" in counts[name] for name in names):
            raise ValueError("a follower that is not one character: the flat table holds one per count")
        try:
            values = np.array([n for row in rows for _, n in row], dtype=np.int64)
        except OverflowError as exc:
            raise ValueError("a count beyond 64 bits: the flat table holds int64") from exc
        return cls("".join(names), np.array([len(n) for n in names], dtype=np.int64), followers, sizes, values)

    @classmethod
    def from_file_data(cls, data: dict, order: int) -> CountTable:
        """From a format-3 file's fields, checked: a damaged or hostile file is refused here, not
        half-way through decoding."""
        contexts, followers = data["contexts"], data["followers"]
        if not isinstance(contexts, str) or not isinstance(followers, str):
            raise ValueError("contexts and followers must be strings")
        lengths, sizes, counts = (_integers(data[key], key) for key in ("lengths", "sizes", "counts"))
        # (all empty: a model that counted nothing, which reads every character as equally likely)
        if len(lengths) and not _shortest_first(lengths):
            raise ValueError("lengths must start with the empty context and never decrease")
        if lengths.max(initial=0) >= order or lengths.sum() != len(contexts):
            raise ValueError(f"context lengths must be under the order ({order}) and add up to the contexts")
        # Each size bounded before they are summed: sizes near 2**63 would wrap around to the right
        # sum, and np.repeat below would write past its array.
        bounded = ((sizes >= 1) & (sizes <= len(followers))).all()
        if len(sizes) != len(lengths) or not bounded or sizes.sum() != len(followers):
            raise ValueError("sizes must give each context at least one follower and add up to the followers")
        if len(counts) != len(followers) or (counts < 1).any():
            raise ValueError("counts must be positive, one per follower")
        points = _code_points(followers)
        owner = np.repeat(np.arange(len(sizes)), sizes)
        same = owner[1:] == owner[:-1]
        if (np.diff(points)[same] <= 0).any():
            raise ValueError("each context's followers must be distinct and in code-point order")
        return cls(contexts, lengths, followers, sizes, counts)

    def file_data(self) -> dict:
        return {
            "contexts": self.contexts,
            "lengths": self.lengths.tolist(),
            "followers": self.followers,
            "sizes": self.sizes.tolist(),
            "counts": self.counts.tolist(),
        }


def _integers(values: object, name: str) -> np.ndarray:
    """A JSON list of integers as int64; floats, strings and integers beyond 64 bits are refused."""
    if not isinstance(values, list):
        raise ValueError(f"{name} must be a list of integers")
    if not values:  # (numpy would make a float array of it)
        return np.zeros(0, dtype=np.int64)
    try:
        found = np.array(values)
    except (OverflowError, ValueError) as exc:
        raise ValueError(f"{name} must be a list of integers ({exc})") from exc
    if found.ndim != 1 or found.dtype.kind != "i":  # JSON floats make a float array, huge ints an object one
        raise ValueError(f"{name} must be a list of integers within 64 bits")
    return found.astype(np.int64, copy=False)


class _NotClosed(Exception):
    """A context's prefix is not listed."""


_CODE_SPACE = 0x110000  # every code point: a context is keyed (index of its prefix, last code point)


def _prefix_and_suffix_indices(contexts: str, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each context's prefix and suffix index (-1 for the empty context), in numpy: level by level,
    a context of length k is keyed by its prefix's index and its last character, and the strings
    of length k inside longer contexts are looked up among those keys."""
    count = len(lengths)
    if count == 0:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
    if not _shortest_first(lengths):
        raise _NotClosed
    points = _code_points(contexts)
    starts = _starts(lengths)
    prefix = np.zeros(count, dtype=np.int64)  # index of each context's first k characters
    suffix = np.zeros(count, dtype=np.int64)  # index of characters 1 .. k
    parents = np.full(count, -1, dtype=np.int64)
    links = np.full(count, -1, dtype=np.int64)
    for k in range(1, int(lengths[-1]) + 1):
        level = np.flatnonzero(lengths == k)  # the contexts of length k, a contiguous run
        if not len(level):
            raise _NotClosed  # longer contexts whose prefixes of length k are missing
        longer = slice(int(level[0]), count)
        keys = prefix[longer] * _CODE_SPACE + points[starts[longer] + k - 1]
        own = keys[: len(level)]
        order = np.argsort(own, kind="stable")
        sorted_keys = own[order]
        if (np.diff(sorted_keys) == 0).any():
            raise ValueError("a context is listed twice")
        parents[level] = prefix[level]
        prefix[longer] = level[order[_find(sorted_keys, keys)]]
        # suffixes: the k characters after the first, in contexts of length k + 1 and more
        above = slice(int(np.searchsorted(lengths, k + 1)), count)
        if k == 1:
            links[level] = 0
        if above.start < count:
            wanted = suffix[above] * _CODE_SPACE + points[starts[above] + k]
            suffix[above] = level[order[_find(sorted_keys, wanted)]]
            exact = above.start + np.flatnonzero(lengths[above] == k + 1)
            links[exact] = suffix[exact]
    return parents.astype(np.int32), links.astype(np.int32)


def _find(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    at = np.searchsorted(sorted_keys, keys)
    if (at >= len(sorted_keys)).any() or (sorted_keys[np.minimum(at, len(sorted_keys) - 1)] != keys).any():
        raise _NotClosed
    return at


def _indices_by_name(names: list[str]) -> tuple[np.ndarray | None, np.ndarray]:
    index = {name: i for i, name in enumerate(names)}
    if len(index) != len(names):
        raise ValueError("a context is listed twice")
    first = [-1] if names else []  # the empty context's: none
    try:
        links = np.array(first + [index[c[1:]] for c in names[1:]], dtype=np.int32)
    except KeyError as exc:
        raise ValueError(f"context {str(exc)[:24]}: a suffix of a listed context is not listed") from exc
    try:
        return np.array(first + [index[c[:-1]] for c in names[1:]], dtype=np.int32), links
    except KeyError:
        return None, links


def _shortest_first(lengths: np.ndarray) -> bool:
    """The empty context first and only once, then lengths that never decrease (a non-empty array)."""
    return bool(lengths[0] == 0 and (lengths[1:] >= 1).all() and (np.diff(lengths) >= 0).all())


def _starts(sizes: np.ndarray) -> np.ndarray:
    """Where each run of ``sizes`` items begins in their concatenation."""
    return np.cumsum(sizes) - sizes


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
