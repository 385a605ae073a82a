"""The tile grid: cores partition the image, every core has the requested
context, windows are full size (no thin last strip) and aligned to the size
multiple, and no more windows are used than needed."""
from __future__ import annotations

import math
import random

import pytest

from gensr.sr_core.upscale.plan import axis_spans, check_context, plan_tiles


def _random_cases(n, seed=0):
    rng = random.Random(seed)
    for _ in range(n):
        m = rng.choice([1, 1, 2, 4])
        h, w = m * rng.randint(1, 100 // m), m * rng.randint(1, 100 // m)
        o = rng.randint(0, 10)
        least = -(-(2 * o + m) // m)
        th, tw = m * rng.randint(least, least + 12), m * rng.randint(least, least + 12)
        yield h, w, (th, tw), o, m


def test_cores_partition_the_image_with_full_context():
    for h, w, tile, o, m in _random_cases(500):
        tiles = plan_tiles(h, w, tile, o, m)
        check_context(tiles, h, w, o)
        assert len({(t.h, t.w) for t in tiles}) == 1, "all windows of a plan have one size"
        assert all(t.h <= tile[0] and t.w <= tile[1] for t in tiles)
        assert all(t.y0 % m == 0 and t.x0 % m == 0 for t in tiles)


def test_last_tile_is_full_size_not_a_thin_strip():
    # ComfyUI would run 512-px tiles at 0, 480, 960 on a 1000-px axis: the last one 40 px wide.
    size, spans = axis_spans(0, 1000, 1000, 512, 32)
    starts = [s for s, _, _ in spans]
    assert starts[-1] + size == 1000  # the last window ends at the edge, at full size
    assert len(spans) == 3 and size * 3 - 4 * 32 >= 1000 and size <= 512
    cores = [b - a for _, a, b in spans]
    assert min(cores) >= 300, f"balanced cores, no thin strip: {cores}"


def test_windows_shrink_to_the_fewest_tiles_that_fit():
    # 1024 px, tiles <= 512, 32 px context: 3 windows are needed; 384 px each suffices.
    size, spans = axis_spans(0, 1024, 1024, 512, 32)
    assert len(spans) == 3 and size == 384
    for length, tile, o in [(1000, 300, 20), (517, 128, 18), (4096, 1024, 40)]:
        size, spans = axis_spans(0, length, length, tile, o)
        n = len(spans)
        # n - 1 windows of the largest allowed size could not cover the axis
        assert (n - 1) * tile - (n - 2) * 2 * o < length
        assert size <= tile


def test_image_smaller_than_tile_is_one_window():
    tiles = plan_tiles(40, 30, (512, 512), 16)
    assert len(tiles) == 1
    t = tiles[0]
    assert (t.y0, t.x0, t.h, t.w, t.cy0, t.cy1, t.cx0, t.cx1) == (0, 0, 40, 30, 0, 40, 0, 30)


def test_sub_region_plans_keep_context_inside_the_region():
    for h, w, tile, o, m in _random_cases(200, seed=1):
        big = plan_tiles(h, w, tile, o, m)
        t = big[len(big) // 2]
        small = tuple(max(-(-(2 * o + m) // m) * m, (v // 2) // m * m) for v in tile)
        subs = plan_tiles(h, w, small, o, m, region=(t.cy0, t.cy1, t.cx0, t.cx1))
        assert sum((s.cy1 - s.cy0) * (s.cx1 - s.cx0) for s in subs) == (t.cy1 - t.cy0) * (t.cx1 - t.cx0)
        for s in subs:
            assert t.cy0 <= s.cy0 < s.cy1 <= t.cy1 and t.cx0 <= s.cx0 < s.cx1 <= t.cx1
            assert s.h <= small[0] and s.w <= small[1]
            assert s.cy0 == 0 or s.cy0 - s.y0 >= o
            assert s.cx0 == 0 or s.cx0 - s.x0 >= o
            assert s.cy1 == h or s.y0 + s.h - s.cy1 >= o
            assert s.cx1 == w or s.x0 + s.w - s.cx1 >= o


def test_minimum_window_size_is_respected():
    size, spans = axis_spans(0, 200, 200, 64, 8, minimum=48)
    assert size >= 48
    size, spans = axis_spans(0, 20, 200, 64, 8, minimum=48)
    assert size >= 48 and spans[0][0] + size <= 200


def test_tile_too_small_for_the_overlap_is_a_clear_error():
    with pytest.raises(ValueError, match="too small for overlap"):
        plan_tiles(100, 100, (20, 20), 10)


def test_bad_axis_arguments():
    with pytest.raises(ValueError, match="multiples"):
        axis_spans(0, 10, 10, 7, 1, multiple=2)
    with pytest.raises(ValueError, match="region"):
        axis_spans(5, 3, 10, 4, 1)
    assert math.isclose(len(plan_tiles(64, 64, (32, 32), 0)), 4)
