"""Planning an upscale, before any model runs: the output size, the tile grid
and the frozen :class:`UpscalePlan` (windows, cores, context, tiles per call,
precision, output size and device), and the re-plan of unfinished windows
after an out-of-memory error. Everything here is pure.

The tile grid: full-size windows whose kept *cores* partition the image.
Each window is run through the model; only its core is kept. A core is at least
``overlap`` pixels away from every window edge that is not an image edge, so
with ``overlap`` >= the model's receptive-field radius the tiled output equals
the untiled one: there is nothing to blend and no seam. Windows are all the
same size (the last row/column is shifted inward, never a thin strip), start
on multiples of the model's size multiple and are never smaller than its minimum.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch

from ..archs.registry import SizeRules
from .errors import UpscaleOutOfMemory
from .spec import accepted_size

Target = Union[int, Sequence[int], None]

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
    if tile < min(length, minimum):
        raise ValueError(f"tile {tile} is below the model's minimum window of {minimum} pixels")
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


#: The longest side a result may have: more than any image format holds (PNG's 2**31 - 1).
MAX_SIDE = 2**31 - 1


def output_size(height: int, width: int, scale: int, outscale: Optional[float], target: Target) -> Tuple[int, int]:
    """(height, width) of the result: the model's own scale by default,
    ``outscale`` times the input, or ``target`` = (width, height) or an int
    long side (aspect ratio kept). At most ``MAX_SIDE`` a side."""
    size = _output_size(height, width, scale, outscale, target)
    if max(size) > MAX_SIDE:
        raise ValueError(
            f"the output would be {size[1]}x{size[0]} pixels, more than any image can hold "
            f"(at most {MAX_SIDE} a side); ask for a smaller outscale or target"
        )
    return size


def _output_size(height: int, width: int, scale: int, outscale: Optional[float], target: Target) -> Tuple[int, int]:
    if outscale is not None and target is not None:
        raise ValueError("give either outscale or target, not both")
    if outscale is not None:
        f = float(outscale)
        if not (f > 0 and math.isfinite(f)):
            raise ValueError(f"outscale must be a finite positive number (output scale), not {outscale!r}")
        if max(height, width) * f > MAX_SIDE:
            return MAX_SIDE + 1, MAX_SIDE + 1  # too large: said by output_size
        return max(1, round(height * f)), max(1, round(width * f))
    if target is None:
        return height * scale, width * scale
    if isinstance(target, bool):
        raise ValueError(f"target must be (width, height) or a long-side length, not {target!r}")
    if isinstance(target, int):
        if target < 1:
            raise ValueError(f"target long side must be positive, not {target}")
        if width >= height:
            return max(1, round(height * target / width)), target
        return target, max(1, round(width * target / height))
    try:
        tw, th = (int(v) for v in target)
    except (TypeError, ValueError):
        raise ValueError(f"target must be (width, height) or a long-side length, not {target!r}") from None
    if tw < 1 or th < 1:
        raise ValueError(f"target size must be positive, not {tw}x{th}")
    return th, tw




def padded_size(height: int, width: int, multiple: int, minimum: int, square: bool) -> Tuple[int, int]:
    """Smallest size >= the image that the model accepts."""
    return accepted_size(height, width, SizeRules(multiple, minimum, square))


# ------------------------------------------------------------------ the plan


@dataclass(frozen=True)
class ModelFacts:
    """What planning needs to know about the model as it will run (asked of
    its architecture or measured before planning).

    ``context`` is the input pixels of context a window needs for a seam-free
    result (an int, or a callable that measures it: called only when the
    image is tiled). ``bytes_per_pixel`` is the working memory per input
    pixel of a window, all planes included.
    """

    scale: int
    rules: SizeRules
    bytes_per_pixel: float
    context: Union[int, Callable[[], int]] = 0
    streaming: bool = False
    model_alpha: bool = False
    device: torch.device = torch.device("cpu")
    dtype: torch.dtype = torch.float32


@dataclass(frozen=True)
class Budget:
    """Memory a model call may use: ``bytes`` for the windows of one call and,
    on CPUs, the window pixels whose layers still fit the cache (larger
    windows stream every layer from RAM and run slower per pixel)."""

    bytes: int
    cache_pixels: Optional[int] = None


@dataclass(frozen=True)
class UpscalePlan:
    """Everything decided before the model runs. ``tiles`` is one frame's
    grid; every window in it is at most ``tile`` (the caller's promise),
    satisfies the model's size ``rules`` and has ``context`` pixels of
    context around its core (``needed`` is what a seam-free result wants)."""

    batch: int
    channels: int
    size: Tuple[int, int]
    padded: Tuple[int, int]
    out_size: Tuple[int, int]
    device: torch.device
    dtype: torch.dtype
    out_device: torch.device
    out_dtype: torch.dtype
    rules: SizeRules
    tile: Tuple[int, int]
    context: int
    needed: Optional[int]
    margin: int  # context the resize after the model reads beyond a core (colour on top of the model's; alpha alone)
    alpha_margin: int
    tiles: Tuple[Tile, ...]
    per_call: int
    explicit_tile: bool
    warnings: Tuple[str, ...] = ()

    @property
    def tiling(self) -> bool:
        return len(self.tiles) > 1 or (self.tiles[0].h, self.tiles[0].w) != self.padded

    def grid(self, region: Optional[Tuple[int, int, int, int]] = None) -> List[Tile]:
        """The plan's windows covering ``region`` (default: the whole frame)."""
        region = region if region is not None else (0, self.size[0], 0, self.size[1])
        return plan_tiles(*self.padded, self.tile, self.context, self.rules.multiple, region, self.rules.minimum)


def resize_margin(src: Tuple[int, int], dst: Tuple[int, int], filter: str) -> int:
    """Source pixels a resize from ``src`` to ``dst`` reads beyond an owned range."""
    from .resample import FILTERS

    if tuple(src) == tuple(dst):
        return 0
    support = FILTERS[filter][1] * max(1.0, src[0] / dst[0], src[1] / dst[1])
    return int(math.ceil(support)) + 1


def smallest_window(rules: SizeRules) -> int:
    """The smallest window side the model accepts."""
    return _up(max(rules.minimum, rules.multiple, 1), rules.multiple)


def _context_room(tile: Tuple[int, int], padded: Tuple[int, int], m: int) -> int:
    """The most context a window of ``tile`` can hold around a core of at
    least ``m`` pixels, on the axes it tiles."""
    rooms = [(t - m) // 2 for t, p in zip(tile, padded) if t < p]
    return max(0, min(rooms)) if rooms else 1 << 30


def plan_upscale(facts: ModelFacts, shape: Sequence[int], options, budget: Budget,
                 image_device: torch.device = torch.device("cpu")) -> UpscalePlan:
    """The plan for upscaling an image of ``shape`` (B, C, H, W) with the
    model described by ``facts`` under ``options`` (an ``UpscaleOptions``)
    and ``budget``. Pure: runs no model (``facts.context`` may measure)."""
    batch, channels, height, width = (int(v) for v in shape)
    if height < 1 or width < 1:
        raise ValueError(f"image has no pixels (shape {tuple(shape)})")
    rules, s, m = facts.rules, facts.scale, facts.rules.multiple
    padded = accepted_size(height, width, rules)
    out_size = output_size(height, width, s, options.outscale, options.target)
    margin = math.ceil(resize_margin((height * s, width * s), out_size, options.resize_filter) / s)
    alpha_margin = 0
    if channels in (2, 4) and not facts.model_alpha:  # alpha is resized from the window, not run through the model
        alpha_margin = resize_margin((height, width), out_size, options.alpha_filter)
    floor = smallest_window(rules)
    bpp = facts.bytes_per_pixel
    warnings: List[str] = []
    explicit = options.tile != "auto"
    if explicit:
        asked = tuple(options.tile)
        tile = tuple(min(p, max(0, t - t % m)) for t, p in zip(asked, padded))
        if min(tile) < min(floor, *padded):
            raise ValueError(
                f"tile {asked[0]}x{asked[1]} is smaller than the smallest window this model accepts "
                f"({floor} px, size multiple {m}); use a tile of at least {floor}"
            )
    else:
        tile_budget = budget.bytes
        if budget.cache_pixels is not None and not facts.streaming:
            tile_budget = min(tile_budget, budget.cache_pixels * bpp)
        from .measure import tile_for_budget

        tile = tile_for_budget(tile_budget, bpp, padded[0], padded[1], m)
        tile = tuple(min(p, max(t, floor)) for t, p in zip(tile, padded))
    tiling = tuple(tile) != tuple(padded)
    needed: Optional[int] = None
    context = 0
    if tiling:
        if options.overlap == "auto":
            base = facts.context() if callable(facts.context) else facts.context
        else:
            base = options.overlap
        needed = context = max(int(base) + margin, alpha_margin)
        if not explicit:
            # Auto tiles leave room for a core beside the context, and keep
            # the recomputed overlap a modest share, memory allowing.
            least = max(2 * context + 4 * m, min(8 * context, math.isqrt(int(budget.bytes / max(bpp, 1e-9)))))
            tile = tuple(min(p, max(t, _up(least, m))) for t, p in zip(tile, padded))
            tiling = tuple(tile) != tuple(padded)
        room = _context_room(tile, padded, m)
        if tiling and context > room:
            if room < max(margin, alpha_margin):
                raise ValueError(
                    f"tile {tile[0]}x{tile[1]} is too small to resize the result to {out_size[1]}x{out_size[0]} "
                    f"tile by tile; use a tile of at least {2 * max(margin, alpha_margin) + m}"
                )
            context = room
            warnings.append(
                f"tile {tile[0]}x{tile[1]} leaves room for only {room} px of context around each tile; "
                f"this model needs {needed} px for a seam-free result, so faint seams may show. "
                f"Use a tile of at least {_up(2 * needed + m, m)} px (or 0/auto) to avoid them."
            )
        if not tiling:
            needed, context = None, 0
    region = (0, height, 0, width)
    tiles = tuple(plan_tiles(*padded, tile, context, m, region, rules.minimum))
    if options.tile_batch != "auto":
        per_call = int(options.tile_batch)
    elif facts.device.type == "cpu":
        per_call = 1  # CPUs gain nothing from batching; bands and threads fill them
    else:
        from .measure import max_tile_batch

        per_call = max_tile_batch(budget.bytes, bpp, tile)
    per_call = max(1, min(per_call, len(tiles)))
    out_device = torch.device(options.out_device) if options.out_device is not None else image_device
    return UpscalePlan(
        batch=batch, channels=channels, size=(height, width), padded=padded, out_size=out_size,
        device=facts.device, dtype=facts.dtype, out_device=out_device, out_dtype=options.out_dtype,
        rules=rules, tile=tile, context=context, needed=needed, margin=margin, alpha_margin=alpha_margin, tiles=tiles,
        per_call=per_call, explicit_tile=explicit, warnings=tuple(warnings),
    )


def backoff(plan: UpscalePlan, pending: Sequence[Tile], context: Union[int, Callable[[], int]],
            overlap: Union[str, int] = "auto") -> Tuple[UpscalePlan, List[Tile]]:
    """After an out-of-memory error on ``pending`` (the unfinished windows, the
    failed call's first): first fewer windows per call, then windows half as
    large, re-planned over the unfinished cores, never below the model's
    smallest window nor too small for the context. Raises
    ``UpscaleOutOfMemory`` when the windows cannot shrink further."""
    if plan.per_call > 1:
        return replace(plan, per_call=max(1, plan.per_call // 2)), list(pending)
    m = plan.rules.multiple
    ctx, needed = plan.context, plan.needed
    if not plan.tiling:  # the whole frame did not fit: now it needs context
        if overlap == "auto":
            measured = context() if callable(context) else context
        else:
            measured = overlap
        needed = ctx = max(int(measured) + plan.margin, plan.alpha_margin)
    floor = max(smallest_window(plan.rules), 2 * ctx + m)
    smaller = tuple(min(p, max(floor, _down(t // 2, m))) for t, p in zip(plan.tile, plan.padded))
    if all(a >= b for a, b in zip(smaller, plan.tile)):
        raise UpscaleOutOfMemory(
            f"out of memory on {plan.device} even with {plan.tile[0]}x{plan.tile[1]} tiles "
            f"(context {ctx}); free memory, use a smaller model, fp16, or device='cpu'"
        )
    new = replace(plan, tile=smaller, context=ctx, needed=needed, per_call=1)
    new = replace(new, tiles=tuple(new.grid()))
    regrid = [sub for t in pending for sub in new.grid((t.cy0, t.cy1, t.cx0, t.cx1))]
    return new, regrid
