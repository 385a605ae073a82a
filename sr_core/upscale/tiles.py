"""The tile grid: full-size windows whose kept *cores* partition the image.

Each window is run through the model; only its core is kept. A core is at least
``overlap`` pixels away from every window edge that is not an image edge, so
with ``overlap`` >= the model's receptive-field radius the tiled output equals
the untiled one: there is nothing to blend and no seam. Windows are all the
same size (the last row/column is shifted inward, never a thin strip) and start
on multiples of the model's size multiple.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

Span = Tuple[int, int, int]  # (window start, core start, core end) on one axis


@dataclass(frozen=True)
class Tile:
    """One model call: input window ``[y0:y0+h, x0:x0+w]`` and the core
    ``[cy0:cy1, cx0:cx1]`` (image coordinates) whose output is kept."""

    y0: int
    x0: int
    h: int
    w: int
    cy0: int
    cy1: int
    cx0: int
    cx1: int

    @property
    def area(self) -> int:
        return self.h * self.w


def _down(v: int, m: int) -> int:
    return v - v % m


def _up(v: int, m: int) -> int:
    return -(-v // m) * m


def axis_spans(
    r0: int, r1: int, length: int, tile: int, overlap: int, multiple: int = 1, minimum: int = 0
) -> Tuple[int, List[Span]]:
    """(window size, spans) for one axis of ``length`` pixels: the fewest
    windows of at most ``tile`` pixels whose cores partition ``[r0, r1)``, each
    core having ``overlap`` pixels of context inside its window on every side
    that is not an image edge. The window size is shrunk to the smallest that
    still needs no more windows (less recomputed overlap) and is at least
    ``minimum``; all windows of the axis have that size. ``length`` and
    ``tile`` must be multiples of ``multiple``; window starts are too.
    """
    if not 0 <= r0 < r1 <= length:
        raise ValueError(f"region [{r0}, {r1}) is not inside an axis of {length} pixels")
    m = multiple
    if length % m or tile % m or tile < m:
        raise ValueError(f"axis length {length} and tile {tile} must be positive multiples of {m}")
    size = min(tile, length)
    lo = _down(0 if r0 == 0 else max(0, r0 - overlap), m)
    hi = _up(length if r1 == length else min(length, r1 + overlap), m)
    if hi - lo <= size:
        if size == length:
            return size, [(0, r0, r1)]
        size = min(length, max(hi - lo, _up(minimum, m)))  # one window just large enough
        return size, [(min(lo, length - size), r0, r1)]
    if (size - 2 * overlap) // m < 1:
        raise ValueError(
            f"tile {size} is too small for overlap {overlap} (size multiple {m}); "
            f"use a tile of at least {2 * overlap + m} pixels or a smaller overlap"
        )
    n = math.ceil((hi - lo - size) / m / ((size - 2 * overlap) // m)) + 1
    # Smallest window that covers the span with n windows.
    size = min(size, max(_up(minimum, m), _up(math.ceil((hi - lo + (n - 1) * 2 * overlap) / n), m)))
    while (hi - lo - size) // m > (n - 1) * ((size - 2 * overlap) // m):
        size += m
    span_u = (hi - lo - size) // m
    starts: List[int] = []
    for i in range(n):
        s = lo + m * round(i * span_u / (n - 1))
        if not starts or s > starts[-1]:
            starts.append(s)
    spans: List[Span] = []
    core_start = r0
    for i, s in enumerate(starts):
        core_end = (starts[i + 1] + s + size) // 2 if i + 1 < len(starts) else r1
        spans.append((s, core_start, core_end))
        core_start = core_end
    return size, spans


def plan_tiles(
    height: int,
    width: int,
    tile: Tuple[int, int],
    overlap: int,
    multiple: int = 1,
    region: Optional[Tuple[int, int, int, int]] = None,
    minimum: int = 0,
) -> List[Tile]:
    """Tiles (row-major) covering ``region`` = (y0, y1, x0, x1) of a
    ``height`` x ``width`` image (default: all of it) with windows of at most
    ``tile`` = (tile_h, tile_w) pixels; all windows have the same size."""
    y0, y1, x0, x1 = region if region is not None else (0, height, 0, width)
    th, rows = axis_spans(y0, y1, height, tile[0], overlap, multiple, minimum)
    tw, cols = axis_spans(x0, x1, width, tile[1], overlap, multiple, minimum)
    return [Tile(ys, xs, th, tw, cy0, cy1, cx0, cx1) for ys, cy0, cy1 in rows for xs, cx0, cx1 in cols]


def check_context(tiles: List[Tile], height: int, width: int, overlap: int) -> None:
    """Raise if some core is closer than ``overlap`` to a non-image window edge,
    a window leaves the image, or the cores do not cover every pixel exactly once."""
    import numpy as np

    seen = np.zeros((height, width), dtype=np.int32)
    for t in tiles:
        if t.cy0 > 0 and t.cy0 - t.y0 < overlap or t.cx0 > 0 and t.cx0 - t.x0 < overlap:
            raise AssertionError(f"{t}: less than {overlap} px of context before the core")
        if t.cy1 < height and t.y0 + t.h - t.cy1 < overlap or t.cx1 < width and t.x0 + t.w - t.cx1 < overlap:
            raise AssertionError(f"{t}: less than {overlap} px of context after the core")
        if not (0 <= t.y0 and t.y0 + t.h <= height and 0 <= t.x0 and t.x0 + t.w <= width):
            raise AssertionError(f"{t}: window outside the {height}x{width} image")
        if not (t.y0 <= t.cy0 < t.cy1 <= t.y0 + t.h and t.x0 <= t.cx0 < t.cx1 <= t.x0 + t.w):
            raise AssertionError(f"{t}: core is empty or outside its window")
        seen[t.cy0: t.cy1, t.cx0: t.cx1] += 1
    if not (seen == 1).all():
        raise AssertionError("cores do not cover every pixel exactly once")
