"""A one-line progress display: iteration, loss, it/s and ETA."""
from __future__ import annotations

import sys
import time


class ProgressLine:
    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total, self.enabled = total, enabled
        self.start = time.monotonic()
        self.first = None
        self.loss = None
        self.extra = ""

    def update(self, iteration: int, loss: float) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = (iteration - 1, now)
        self.loss = loss if self.loss is None else 0.9 * self.loss + 0.1 * loss
        done = iteration - self.first[0]
        rate = done / max(now - self.first[1], 1e-9) if done > 1 else 0.0
        eta = (self.total - iteration) / rate if rate > 0 else 0.0
        if self.enabled:
            sys.stderr.write(
                f"\r{iteration}/{self.total} loss {self.loss:.4f} {rate:.2f} it/s ETA {eta / 60:.1f} min {self.extra}\x1b[K"
            )
            sys.stderr.flush()

    def note(self, text: str) -> None:
        self.extra = text

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.enabled = False
