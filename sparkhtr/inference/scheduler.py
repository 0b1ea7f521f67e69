"""The one place lines run in parallel: a pool of ``threads`` workers, made on first use.

Why threads suffice: the work of a line (Pillow decoding and resizing, onnxruntime or torch, the
compiled beam search of sparkhtr.text.fast_beam) releases the GIL, so workers run side by side.
With one thread everything runs in the caller's thread, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["LineScheduler"]

In = TypeVar("In")
Out = TypeVar("Out")


class LineScheduler:
    def __init__(self, threads: int = 1) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None

    def map(self, work: Callable[[In], Out], items: Iterable[In]) -> Iterator[Out]:
        """``work`` on each item, results in input order; an exception of ``work`` is raised when
        its result is reached. Runs in this thread when there is one thread or one item."""
        items = list(items)
        if self.threads == 1 or len(items) < 2:
            return map(work, items)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="sparkhtr-lines")
        return self._pool.map(work, items)

    def resize(self, threads: int) -> None:
        """Use ``threads`` workers from now on (the backend moved to another device, say)."""
        if threads != self.threads:
            self.close()
            self.threads = max(1, threads)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
