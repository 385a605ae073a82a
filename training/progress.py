"""A one-line progress display: iteration, smoothed loss, it/s and ETA.

On a terminal the line is redrawn in place at most every ``interval`` seconds;
elsewhere (logs, CI) a plain line is printed every ``log_interval`` seconds.
"""
from __future__ import annotations

import sys
import time
from typing import Optional, TextIO


def format_eta(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressLine:
    def __init__(self, total: int, enabled: bool = True, stream: Optional[TextIO] = None,
                 interval: float = 0.5, log_interval: float = 30.0) -> None:
        self.total, self.enabled = total, enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if self.tty else log_interval
        self.first: Optional[tuple[int, float]] = None
        self.last_draw: Optional[float] = None
        self.loss: Optional[float] = None
        self.extra = ""
        self.drawn = False

    def rate(self, iteration: int, now: float) -> float:
        if self.first is None or iteration - self.first[0] < 2:
            return 0.0
        return (iteration - self.first[0]) / max(now - self.first[1], 1e-9)

    def text(self, iteration: int, now: float) -> str:
        rate = self.rate(iteration, now)
        eta = format_eta((self.total - iteration) / rate) if rate > 0 else "?"
        loss = f"{self.loss:.4f}" if self.loss is not None else "-"
        pct = 100.0 * iteration / max(self.total, 1)
        return f"{iteration}/{self.total} ({pct:.0f}%) loss {loss} {rate:.2f} it/s ETA {eta} {self.extra}".rstrip()

    def update(self, iteration: int, loss: float) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = (iteration - 1, now)
        self.loss = loss if self.loss is None else 0.9 * self.loss + 0.1 * loss
        if not self.enabled:
            return
        if self.last_draw is not None and now - self.last_draw < self.interval and iteration < self.total:
            return
        self.last_draw = now
        if self.tty:
            self.stream.write(f"\r{self.text(iteration, now)}\x1b[K")
        else:
            self.stream.write(self.text(iteration, now) + "\n")
        self.stream.flush()
        self.drawn = True

    def note(self, text: str) -> None:
        self.extra = text

    def close(self) -> None:
        if self.enabled and self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
        self.enabled = False
