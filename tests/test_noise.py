"""SeededNoise: noisy forwards (AuraSR-style) made reproducible and independent of tiling."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gensr.sr_core.noise import SeededNoise, hash32, positional_normal
from gensr.sr_core.upscale import upscale


class NoisyUpscaler(nn.Module):
    """Like AuraSR: input noise from ``randn_like(x)``, a style vector from
    ``torch.randn`` per call, a noise map filled with ``normal_``."""

    def forward(self, x):
        style = torch.randn((x.shape[0], 4), device=x.device)
        fill = x.new_empty(x.shape[0], 1, 1, 1).normal_()
        y = x + 0.1 * torch.randn_like(x) + style[:, :3, None, None] + fill
        return torch.cat([y, style[:, :, None, None].expand(-1, -1, *y.shape[-2:]), fill.expand(-1, 1, *y.shape[-2:])], 1)


def test_hash32_matches_python_integer_arithmetic():
    def ref(v: int) -> int:
        m = 0xFFFFFFFF
        v &= m
        v ^= v >> 16
        v = (v * 0x7FEB352D) & m
        v ^= v >> 15
        v = (v * 0x846CA68B) & m
        return v ^ (v >> 16)

    values = [0, 1, 2, 12345, 0x7FFFFFFF, 0xFFFFFFFF, 0x9E3779B9, 2**32 + 5]
    got = hash32(torch.tensor(values, dtype=torch.int64)).tolist()
    assert got == [ref(v) for v in values]


def test_positional_noise_is_standard_normal_and_crops_exactly():
    whole = positional_normal(7, 3, 96, 80)
    assert abs(float(whole.mean())) < 0.02 and abs(float(whole.std()) - 1) < 0.02
    # normality, roughly: the share within one standard deviation
    assert abs(float((whole.abs() < 1).double().mean()) - math.erf(1 / math.sqrt(2))) < 0.01
    window = positional_normal(7, 3, 20, 30, origin=(40, 25))
    assert torch.equal(window, whole[:, 40:60, 25:55])
    assert not torch.equal(positional_normal(8, 3, 96, 80), whole), "another seed, another field"
    assert not torch.equal(whole[0], whole[1]), "channels differ"


def test_seeded_noise_is_reproducible_tiling_independent_and_leaves_global_rng():
    call = SeededNoise(seed=3)
    model = NoisyUpscaler()
    x = torch.rand(2, 3, 16, 24)
    state = torch.random.get_rng_state()
    out = call(model, x)
    assert torch.equal(call(model, x), out)
    y1, style1, fill1 = out[:, :3], out[:, 3:7, 0, 0], out[:, 7, 0, 0]
    assert torch.equal(torch.random.get_rng_state(), state), "the caller's random state is untouched"
    assert torch.equal(fill1[0], fill1[1])
    assert torch.equal(style1[0], style1[1]), "every window of a batch draws what it would draw alone"
    # a window at (4, 10) sees the crop of the whole image's input noise and the same style
    win = call(model, x[:1, :, 4:12, 10:20], origins=[(4, 10)])
    yw, stylew = win[:, :3], win[:, 3:7, 0, 0]
    assert torch.equal(stylew[0], style1[0])
    torch.testing.assert_close(yw, y1[:1, :, 4:12, 10:20], atol=1e-6, rtol=0)
    # without origins the window counts as the corner: its input noise is another crop
    yc = call(model, x[:1, :, 4:12, 10:20])[:, :3]
    assert not torch.allclose(yc, yw)
    call.seed = 4
    assert not torch.equal(call(model, x)[:, :3], y1)


def test_seeded_noise_checks_its_arguments():
    call = SeededNoise()
    with pytest.raises(ValueError, match="2 origins for a batch of 1"):
        call(NoisyUpscaler(), torch.rand(1, 3, 4, 4), origins=[(0, 0), (0, 4)])
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        call(NoisyUpscaler(), torch.rand(3, 4, 4))


class NoisyNearest(nn.Module):
    """A per-pixel noisy x2 upscaler (no context): its input plus
    ``0.1 * randn_like(input)``, upsampled nearest."""

    def forward(self, x):
        return F.interpolate(x + 0.1 * torch.randn_like(x), scale_factor=2, mode="nearest")


def noisy_descriptor(seed: int) -> SimpleNamespace:
    """A spandrel-style descriptor whose call is seeded, as GenSR's spandrel
    loader makes it for AuraSR."""
    return SimpleNamespace(model=NoisyNearest(), scale=2, input_channels=3, output_channels=3,
                           _call_fn=SeededNoise(seed))


def test_engine_passes_window_origins_so_tiled_noise_equals_untiled():
    """Tiled, every window's input noise is the crop of the whole image's field
    (the engine tells the seeded call where each window lies): the result is
    the untiled one, which is the input plus the whole-image field, upscaled."""
    torch.manual_seed(0)
    image = torch.rand(1, 3, 40, 36)
    desc = noisy_descriptor(seed=5)
    whole = upscale(desc, image, tile=512, clamp=False, layout="bchw", tile_batch=1)
    expected = F.interpolate(image + 0.1 * positional_normal(5, 3, 40, 36).unsqueeze(0), scale_factor=2, mode="nearest")
    torch.testing.assert_close(whole, expected, atol=1e-6, rtol=0)
    for tile_batch in (1, 4):  # one window per call, and batches of windows
        tiled = upscale(desc, image, tile=16, overlap=0, clamp=False, layout="bchw", tile_batch=tile_batch)
        torch.testing.assert_close(tiled, expected, atol=1e-6, rtol=0)
