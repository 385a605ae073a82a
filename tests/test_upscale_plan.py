"""The plan, without running a model: ``tile`` bounds every window (context
included), size rules (multiple, minimum, square) hold for every window, also
after an out-of-memory back-off, and a tile too small for the context keeps
its size, shrinks the context and says so. Then the same promises end to end
on models that record the windows they are given."""
from __future__ import annotations

import types

import pytest
import torch
from torch import nn

from gensr.sr_core.archs import SRVGGNetCompact
from gensr.sr_core.archs.registry import SizeRules
from gensr.sr_core.upscale import (
    Budget, ModelFacts, UpscaleOptions, UpscaleOutOfMemory, UpscaleWarning, backoff, plan_upscale, upscale,
)

MIB = 1 << 20


def check_context(tiles, height, width, context, padded=None):
    """Cores partition the image exactly once, windows stay in the (padded)
    image, and every core has ``context`` pixels inside its window on each
    side that is not an image edge."""
    ph, pw = padded or (height, width)
    seen = torch.zeros(height, width, dtype=torch.int32)
    for t in tiles:
        assert 0 <= t.y0 and t.y0 + t.h <= ph and 0 <= t.x0 and t.x0 + t.w <= pw, t
        assert t.y0 <= t.cy0 < t.cy1 <= t.y0 + t.h and t.x0 <= t.cx0 < t.cx1 <= t.x0 + t.w, t
        assert t.cy0 == 0 or t.cy0 - t.y0 >= context, t
        assert t.cx0 == 0 or t.cx0 - t.x0 >= context, t
        assert t.cy1 == height or t.y0 + t.h - t.cy1 >= context, t
        assert t.cx1 == width or t.x0 + t.w - t.cx1 >= context, t
        seen[t.cy0: t.cy1, t.cx0: t.cx1] += 1
    assert bool((seen == 1).all()), "cores must cover every pixel exactly once"


def _facts(context=5, multiple=1, minimum=0, square=False, device="cuda", scale=4):
    return ModelFacts(scale=scale, rules=SizeRules(multiple, minimum, square), bytes_per_pixel=1000.0,
                      context=context, device=torch.device(device))


def _assert_windows(plan, bound, rules):
    for t in plan.tiles:
        assert t.h <= bound[0] and t.w <= bound[1], (t, bound)
        assert t.h % rules.multiple == 0 and t.w % rules.multiple == 0, t
        assert min(t.h, t.w) >= min(rules.minimum, *plan.padded), t
        assert t.y0 % rules.multiple == 0 and t.x0 % rules.multiple == 0, t


@pytest.mark.parametrize("tile, multiple, minimum", [(16, 1, 0), (24, 4, 16), ((20, 40), 2, 8), (33, 8, 24)])
def test_explicit_tile_bounds_every_window_and_the_context_fits(tile, multiple, minimum):
    facts = _facts(context=5, multiple=multiple, minimum=minimum)
    plan = plan_upscale(facts, (1, 3, 97, 61), UpscaleOptions(tile=tile), Budget(64 * MIB))
    bound = (tile, tile) if isinstance(tile, int) else tile
    _assert_windows(plan, bound, facts.rules)
    assert len(plan.tiles) > 1 and plan.warnings == ()
    check_context(list(plan.tiles), 97, 61, plan.context, plan.padded)  # cores partition the image, context kept
    assert plan.context == 5


def test_a_tile_too_small_for_the_context_keeps_its_size_and_warns():
    # Asked tile=16 for a model needing 9 px: the old engine fed 24x24 windows.
    plan = plan_upscale(_facts(context=9), (1, 3, 64, 64), UpscaleOptions(tile=16), Budget(64 * MIB))
    _assert_windows(plan, (16, 16), SizeRules())
    assert plan.context == 7  # (16 - 1) // 2: the most a 16 px window holds around a 1 px core
    check_context(list(plan.tiles), 64, 64, 7)
    assert len(plan.warnings) == 1 and "16x16" in plan.warnings[0] and "9 px" in plan.warnings[0]


def test_a_tile_below_the_models_minimum_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 16"):
        plan_upscale(_facts(minimum=16), (1, 3, 64, 64), UpscaleOptions(tile=12), Budget(64 * MIB))


def test_square_models_get_square_windows_within_the_tile():
    plan = plan_upscale(_facts(multiple=4, minimum=8, square=True), (1, 3, 30, 50), UpscaleOptions(tile=24),
                        Budget(64 * MIB))
    assert plan.padded == (52, 52)
    _assert_windows(plan, (24, 24), plan.rules)


def test_the_plan_holds_sizes_devices_and_batch():
    opts = UpscaleOptions(tile=32, outscale=2.5, out_dtype=torch.uint8, out_device="cpu")
    plan = plan_upscale(_facts(device="cuda"), (3, 4, 40, 50), opts, Budget(64 * MIB))
    assert plan.out_size == (100, 125) and plan.out_dtype == torch.uint8
    assert plan.device.type == "cuda" and plan.out_device.type == "cpu"
    # GPU: as many same-size windows per call as the budget holds (1000 B/px * 32 * 32 ~ 1 MiB each).
    assert plan.per_call == min(len(plan.tiles), 16)
    cpu = plan_upscale(_facts(device="cpu"), (3, 4, 40, 50), opts, Budget(64 * MIB))
    assert cpu.per_call == 1
    # Resizing and alpha need context of their own beyond the model's.
    assert plan.needed > 5 and plan.margin > 0 and plan.alpha_margin > 0


def test_context_is_measured_only_when_the_image_is_tiled():
    calls = []

    def measure():
        calls.append(1)
        return 5

    whole = plan_upscale(_facts(context=measure), (1, 3, 20, 20), UpscaleOptions(tile=64), Budget(64 * MIB))
    assert calls == [] and len(whole.tiles) == 1 and whole.context == 0
    plan_upscale(_facts(context=measure), (1, 3, 20, 20), UpscaleOptions(tile=12), Budget(64 * MIB))
    assert calls == [1]


def test_backoff_halves_windows_keeps_the_rules_and_replans_only_unfinished_cores():
    facts = _facts(context=3, multiple=4, minimum=12)
    plan = plan_upscale(facts, (1, 3, 96, 96), UpscaleOptions(tile=48, tile_batch=4), Budget(64 * MIB))
    first = list(plan.tiles)
    finished, pending = first[:3], first[3:]
    same, again = backoff(plan, pending, context=3)
    assert same.per_call == 2 and again == pending  # first fewer windows per call
    same = backoff(same, pending, context=3)[0]
    smaller, regrid = backoff(same, pending, context=3)
    assert smaller.per_call == 1 and smaller.tile == (24, 24)
    for t in regrid:
        assert t.h <= 24 and t.w <= 24 and t.h % 4 == 0 and t.w % 4 == 0 and min(t.h, t.w) >= 12
    # Finished cores and the re-planned ones partition the image exactly once.
    check_context(finished + regrid, 96, 96, 3, plan.padded)
    # Down to the floor (minimum 12, and 2 * 3 + 4 for the context), then a clear error.
    while True:
        try:
            smaller, regrid = backoff(smaller, regrid, context=3)
        except UpscaleOutOfMemory as e:
            assert "even with 12x12" in str(e)
            break
        assert min(smaller.tile) >= 12


def test_backoff_from_one_window_measures_the_context():
    plan = plan_upscale(_facts(context=lambda: 4), (1, 3, 40, 40), UpscaleOptions(), Budget(1 << 30))
    assert len(plan.tiles) == 1 and plan.context == 0
    smaller, regrid = backoff(plan, list(plan.tiles), context=lambda: 4)
    assert smaller.context == 4 and smaller.tile == (20, 20) and len(regrid) > 1
    check_context(regrid, 40, 40, 4)


# ------------------------------------------------------------------ end to end


class _Recorder(nn.Module):
    """Wraps a model, refuses windows that break its rules, records the others,
    and runs out of memory on windows larger than ``limit`` pixels."""

    def __init__(self, inner, multiple=1, minimum=0, limit=None):
        super().__init__()
        self.inner, self.multiple, self.minimum, self.limit = inner, multiple, minimum, limit
        self.windows, self.failed = [], []

    def forward(self, x):
        h, w = x.shape[-2:]
        assert h % self.multiple == 0 and w % self.multiple == 0 and min(h, w) >= self.minimum, (h, w)
        if self.limit is not None and h * w > self.limit:
            self.failed.append((h, w))
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        self.windows.append((h, w))
        return self.inner(x)


def _descriptor(module, multiple, minimum):
    return types.SimpleNamespace(
        model=module, scale=2, input_channels=3, output_channels=3,
        size_requirements=types.SimpleNamespace(multiple_of=multiple, minimum=minimum, square=False),
    )


def _compact():
    torch.manual_seed(0)
    return SRVGGNetCompact(num_feat=8, num_conv=2, scale=2).eval()


def test_small_tile_end_to_end_with_a_warning_for_the_node_and_cli():
    rec = _Recorder(_compact()).eval()
    x = torch.rand(1, 3, 30, 30, generator=torch.Generator().manual_seed(1))
    messages, totals = [], []
    upscale(_descriptor(rec, 1, 0), x, tile=8, overlap="auto", on_warning=messages.append,
            progress=lambda d, t: totals.append(t))
    image_windows = rec.windows[-totals[-1]:]  # after the small fixed-size probes that measure the model
    assert totals[-1] > 1 and all(h <= 8 and w <= 8 for h, w in image_windows), image_windows
    assert len(messages) == 1 and "8x8" in messages[0]
    with pytest.warns(UpscaleWarning, match="seams"):
        upscale(_descriptor(rec, 1, 0), x, tile=8, overlap=6)


def test_rules_and_tile_hold_after_a_forced_backoff():
    inner = _compact()
    rec = _Recorder(inner, multiple=4, minimum=12, limit=20 * 20).eval()
    x = torch.rand(1, 3, 50, 46, generator=torch.Generator().manual_seed(2))
    totals = []
    out = upscale(_descriptor(rec, 4, 12), x, tile=32, overlap=4, precision="fp32", channels_last=False,
                  progress=lambda d, t: totals.append(t))
    assert rec.failed and all(h * w > 400 for h, w in rec.failed), "ran out of memory, then backed off"
    image = rec.windows[-totals[-1]:]
    assert all(h <= 20 and w <= 20 for h, w in image), image  # the re-planned windows, rules checked by the model
    with torch.no_grad():  # the padding rule of the model, as the engine pads: reflect to a multiple of 4
        ref = inner(torch.nn.functional.pad(x, (0, 2, 0, 2), mode="reflect"))[..., :100, :92].clamp(0, 1)
    assert float((out - ref).abs().max()) < 1e-5


def test_the_cli_prints_the_tile_warning_once(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from gensr.cli import main
    from gensr.weights import save_model

    model_file = tmp_path / "tiny-x2.safetensors"
    save_model(_compact(), model_file)
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray((rng.random((30, 30, 3)) * 255).astype(np.uint8)).save(tmp_path / name)
    rc = main(["upscale", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(tmp_path / "out"),
               "--model", str(model_file), "--tile", "8", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 0
    assert err.count("gensr upscale: warning: tile 8x8 leaves room for only 3 px") == 1, err
