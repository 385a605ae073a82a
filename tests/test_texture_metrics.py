"""Grid (dB) and high-frequency ratio on synthetic planes whose spectra are
known by hand. Conventions used in the derivations: a periodic Hann window of
length N has the DFT N/2 at bin 0, -N/4 at bins +-1 and 0 elsewhere; the
windowed impulse A at the centre (N/2, N/2) of an image has the flat spectrum
|A|^2 (the window is 1 there) with phase (-1)^(row + col) at bin (row, col);
removing the mean only touches the DC bin and its 8 neighbours."""
from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

from gensr.sr_core.texture_metrics import grid_bins, grid_db, grid_db_per_bin, hf_ratio
from gensr.training.validation import evaluate_images

N = 64


def impulse(amplitude: float, n: int = N) -> torch.Tensor:
    x = torch.zeros(n, n, dtype=torch.float64)
    x[n // 2, n // 2] = amplitude
    return x


def cos_x(freq: float, amplitude: float = 1.0, n: int = N) -> torch.Tensor:
    """amplitude * cos(2 pi freq x), constant down the columns."""
    col = amplitude * torch.cos(2 * math.pi * freq * torch.arange(n, dtype=torch.float64))
    return col[None, :].expand(n, n).clone()


def test_grid_bins_are_the_multiples_of_one_over_scale():
    assert grid_bins((64, 64), 4) == [(r, c) for r in (0, 16, 32, 48) for c in (0, 16, 32, 48) if (r, c) != (0, 0)]
    assert grid_bins((64, 32), 2) == [(0, 16), (32, 0), (32, 16)]


def test_flat_spectrum_has_no_grid():
    # A centred impulse has the same power in every bin: peak / ring median = 1 -> 0 dB at all 15 bins.
    assert grid_db_per_bin(impulse(64.0), 4) == pytest.approx([0.0] * 15, abs=1e-9)


def test_period_4_stripes_on_a_flat_spectrum():
    # A = 64 at the centre plus B cos(pi x / 2) (period 4 along x), H = W = 64.
    # At bin (0, W/4) the stripes give B (H/2)(W/4) = B H W / 8 = 512 and the impulse +A (phase 1):
    # peak power (512 + 64)^2; its neighbours are smaller (-(BHW/16 + A), BHW/32 + A), the ring
    # holds only the impulse's 64^2. Grid there: 20 log10(1 + 512 / 64) = 20 log10 9 dB, the same at
    # the mirror bin (0, 3W/4); the other 13 bins see only the flat impulse: 0 dB.
    per_bin = grid_db_per_bin(impulse(64.0) + cos_x(0.25), 4)
    expected = {(0, 16): 20 * math.log10(9), (0, 48): 20 * math.log10(9)}
    for b, value in zip(grid_bins((N, N), 4), per_bin):
        assert value == pytest.approx(expected.get(b, 0.0), abs=1e-4), b
    assert grid_db(impulse(64.0) + cos_x(0.25), 4) == pytest.approx(2 * 20 * math.log10(9) / 15, abs=1e-4)


def test_weaker_stripes_give_fewer_db():
    # Same derivation with B = 1/8: 20 log10(1 + 64 / 64) = 6.02 dB at the two bins.
    per_bin = grid_db_per_bin(impulse(64.0) + cos_x(0.25, 0.125), 4)
    assert max(per_bin) == pytest.approx(20 * math.log10(2), abs=1e-4)


def test_pure_period_4_pattern_is_far_above_photographs():
    # A repeated 4x4 tile has power only in the 3x3 main lobes of the 15 grid bins; the rings around
    # them are empty up to rounding, so the ratio is limited only by float64 rounding (>> 30 dB).
    tile = torch.randn(4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert grid_db(tile.repeat(N // 4, N // 4), 4) > 60.0


def test_white_noise_sits_at_the_estimators_floor():
    # For white noise every bin's power is ~exponential with one mean. Peak = the largest of 9
    # (correlated) bins, over the median (ln 2 x the mean) of the ring: a few dB above 0 by
    # construction, nowhere near a pattern's tens of dB; this is the 4-6 dB floor of photographs.
    g = torch.Generator().manual_seed(0)
    values = [grid_db(torch.randn(128, 128, generator=g, dtype=torch.float64), 4) for _ in range(8)]
    mean = sum(values) / len(values)
    # Upper bound: max of 9 iid exponentials has mean H_9 = 2.83 -> 10 log10(2.83 / ln 2) = 6.1 dB;
    # lower bound: the centre bin alone, E[10 log10(E1 / ln 2)] = 10 log10(1 / ln 2) - 2.5 = -0.9 dB.
    assert -0.9 < mean < 6.1


def test_constant_image_has_neither_grid_nor_error():
    assert grid_db(torch.full((N, N), 0.5), 4) == pytest.approx(0.0)


def test_grid_needs_room_for_the_rings():
    with pytest.raises(ValueError, match="at least 52x52"):
        grid_db(torch.rand(48, 64), 4)
    with pytest.raises(ValueError, match="scale of at least 2"):
        grid_db(torch.rand(64, 64), 1)


def test_hf_ratio_of_amplitudes_above_a_quarter():
    # A tone at 3/8 cycles/pixel (bins 24 +- 1, all above 0.25 * 64 = 16): power scales with amplitude^2.
    assert hf_ratio(cos_x(0.375, 0.5), cos_x(0.375, 2.0), 4) == pytest.approx(1 / 16, rel=1e-9)


def test_hf_ratio_ignores_what_a_x4_downscale_keeps():
    # A tone at 1/8 (bins 7..9 of 64, radius <= 9/64 < 0.25) has no power above a quarter.
    assert hf_ratio(cos_x(0.125), cos_x(0.375), 4) == pytest.approx(0.0, abs=1e-12)


def test_hf_ratio_leaves_the_grid_bins_out():
    # A checkerboard is the grid bin (1/2, 1/2): adding it changes nothing.
    checker = torch.tensor([[(-1.0) ** (r + c) for c in range(N)] for r in range(N)], dtype=torch.float64)
    tone = cos_x(0.375)
    assert hf_ratio(tone + checker, tone, 4) == pytest.approx(1.0, rel=1e-9)


def test_hf_ratio_noise_against_noise_and_smooth_ramp():
    g = torch.Generator().manual_seed(2)
    a, b = (torch.randn(128, 128, generator=g, dtype=torch.float64) for _ in range(2))
    # Two white noises of one variance: ~13,000 bins above a quarter, each exponential: 1 within a few %.
    assert hf_ratio(a, b, 4) == pytest.approx(1.0, abs=0.1)
    assert hf_ratio(3 * a, a, 4) == pytest.approx(9.0, rel=1e-9)
    # A ramp times the Hann window is smooth and periodic up to its 2nd derivative: its spectrum
    # falls as f^-3, so above a quarter it holds a negligible share (a blurry result is near 0).
    ramp = torch.arange(128, dtype=torch.float64)[None, :].expand(128, 128) / 128
    assert hf_ratio(ramp, a / 255, 4) < 1e-3


def test_hf_ratio_needs_same_size_and_texture():
    with pytest.raises(ValueError, match="one size"):
        hf_ratio(torch.rand(64, 64), torch.rand(64, 68), 4)
    with pytest.raises(ValueError, match="no power above"):
        hf_ratio(torch.rand(64, 64), torch.zeros(64, 64), 4)


def test_evaluation_reports_the_diagnostics(tmp_path):
    # HR: noise with texture at every frequency. A model that is bicubic itself scores what bicubic scores; the same plus a
    # period-4 tile (a pixel-shuffle grid) has a far higher grid than bicubic.
    g = torch.Generator().manual_seed(3)
    hr = torch.rand(1, 3, 96, 96, generator=g)
    Image.fromarray(hr[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()).save(tmp_path / "a.png")
    from gensr.sr_core.imresize import imresize_uint8

    def bicubic(x: torch.Tensor) -> torch.Tensor:
        return imresize_uint8(x[0].mul(255).round().byte(), 4.0).float().div(255)[None]

    tile = 0.08 * torch.randn(1, 1, 4, 4, generator=g)

    def gridded(x: torch.Tensor) -> torch.Tensor:
        out = bicubic(x)
        return out + tile.repeat(1, 1, out.shape[-2] // 4, out.shape[-1] // 4)

    [same] = evaluate_images(bicubic, [tmp_path / "a.png"], 4)
    assert same.grid_db == pytest.approx(same.bicubic_grid_db)
    assert same.hf_ratio == pytest.approx(same.bicubic_hf_ratio)
    assert 0 < same.hf_ratio < 0.2
    [grid] = evaluate_images(gridded, [tmp_path / "a.png"], 4)
    assert grid.grid_db > same.grid_db + 15


def test_images_too_small_for_the_grid_are_left_out_not_fatal(tmp_path):
    # 48 px - 2 * 4 border = 40 px < 52 px: no texture scores for it, the averages use the other image.
    from gensr.training.validation import summarise

    g = torch.Generator().manual_seed(4)
    for name, size in (("small", 48), ("large", 96)):
        img = torch.rand(size, size, 3, generator=g).mul(255).byte().numpy()
        Image.fromarray(img).save(tmp_path / f"{name}.png")
    up = lambda x: torch.nn.functional.interpolate(x, scale_factor=4, mode="nearest")  # noqa: E731
    small, large = evaluate_images(up, [tmp_path / "small.png", tmp_path / "large.png"], 4)
    assert math.isnan(small.grid_db) and math.isnan(small.hf_ratio) and math.isfinite(small.psnr)
    avg = summarise([small, large])
    assert avg["grid_db"] == pytest.approx(large.grid_db) and avg["hf_ratio"] == pytest.approx(large.hf_ratio)


def test_gensr_eval_shows_the_diagnostics(tmp_path, capsys):
    import json

    from gensr.cli import main
    from gensr.sr_core.archs import SRVGGNetCompact
    from gensr.weights import save_model

    torch.manual_seed(0)
    model = save_model(SRVGGNetCompact(num_feat=4, num_conv=1, scale=4), tmp_path / "m.safetensors")
    data = tmp_path / "val"
    data.mkdir()
    img = torch.rand(96, 96, 3, generator=torch.Generator().manual_seed(5)).mul(255).byte().numpy()
    Image.fromarray(img).save(data / "a.png")
    assert main(["eval", str(model), "--data", str(data), "--device", "cpu", "--json"]) == 0
    avg = json.loads(capsys.readouterr().out)["datasets"]["val"]["average"]
    # A random Compact tail is 16 unrelated sub-pixel filters: a strong period-4 pattern.
    assert avg["grid_db"] > avg["bicubic_grid_db"] + 10 and avg["hf_ratio"] > 0
    assert main(["eval", str(model), "--data", str(data), "--device", "cpu"]) == 0
    table = capsys.readouterr().out
    assert "grid dB" in table and "HF ratio" in table and f"{avg['grid_db']:.1f}" in table
