"""Texture diagnostics for super-resolution outputs, from the power spectrum of
the Y channel (mean removed, 2-D periodic Hann window):

- ``grid_db``: how far the output's power at the upsampling period's
  frequencies (k/scale, l/scale cycles per pixel) stands above the spectrum
  around them. A sub-pixel pattern (a pixel-shuffle "grid") is a sharp peak
  there; photographs and bicubic enlargements sit near 4-6 dB.
- ``hf_ratio``: the output's power above 1/4 of the sampling rate over the same
  for the ground truth (the grid bins left out). A x4 downscale removes all of
  it, so a blurry result is near 0 and restored texture brings it towards 1.
"""
from __future__ import annotations

import math

import torch

PEAK_HALF = 1  # peak: the 3x3 bins around a grid bin
RING_INNER_HALF = 2  # the ring: a 13x13 window minus its inner 5x5
RING_OUTER_HALF = 6
HF_CUTOFF = 0.25  # cycles per pixel


def _as_plane(y: torch.Tensor) -> torch.Tensor:
    if y.ndim == 3 and y.shape[0] == 1:
        y = y[0]
    if y.ndim != 2:
        raise ValueError(f"expected one (H, W) or (1, H, W) luma plane, got shape {tuple(y.shape)}")
    return y.double()


def power_spectrum(y: torch.Tensor) -> torch.Tensor:
    """|DFT|^2 of a luma plane after removing its mean and applying a
    separable periodic Hann window (DC at index [0, 0])."""
    y = _as_plane(y)
    h, w = y.shape
    window = torch.outer(torch.hann_window(h, periodic=True, dtype=torch.float64),
                         torch.hann_window(w, periodic=True, dtype=torch.float64))
    return torch.fft.fft2((y - y.mean()) * window).abs().square()


def grid_bins(shape: tuple[int, int], scale: int) -> list[tuple[int, int]]:
    """Spectrum indices of the frequencies (k/scale, l/scale), k, l in
    0..scale-1, not both 0 (rounded to the nearest bin when the size is not a
    multiple of ``scale``)."""
    h, w = shape
    return [(round(k * h / scale) % h, round(l * w / scale) % w)
            for k in range(scale) for l in range(scale) if (k, l) != (0, 0)]


def _window(power: torch.Tensor, centre: tuple[int, int], half: int) -> torch.Tensor:
    """The (2 half + 1)^2 bins around ``centre``, wrapping around (the spectrum is periodic)."""
    h, w = power.shape
    rows = torch.arange(centre[0] - half, centre[0] + half + 1) % h
    cols = torch.arange(centre[1] - half, centre[1] + half + 1) % w
    return power[rows][:, cols]


def min_size(scale: int) -> int:
    """The smallest side (pixels) the grid measure accepts at ``scale``."""
    return scale * (2 * RING_OUTER_HALF + 1)


def _check_size(shape: tuple[int, int], scale: int) -> None:
    if scale < 2:
        raise ValueError(f"the grid measure needs a scale of at least 2, got {scale}")
    need = min_size(scale)
    if min(shape) < need:
        raise ValueError(f"the grid measure at x{scale} needs images of at least {need}x{need} pixels "
                         f"(the rings around its frequencies must not overlap), got {shape[0]}x{shape[1]}")


def grid_db_per_bin(y: torch.Tensor, scale: int) -> list[float]:
    """Per grid bin (in ``grid_bins`` order): the peak power of its 3x3
    neighbourhood over the median power of the ring around it (13x13 window
    minus the inner 5x5), in dB."""
    power = power_spectrum(y)
    _check_size(tuple(power.shape), scale)
    # A floor far below any real image's spectrum keeps exactly-zero spectra finite (0/0 -> 0 dB).
    floor = max(float(power.sum()) * 1e-15, 1e-300)
    size = 2 * RING_OUTER_HALF + 1
    lo, hi = RING_OUTER_HALF - RING_INNER_HALF, RING_OUTER_HALF + RING_INNER_HALF + 1
    in_ring = torch.ones(size, size, dtype=torch.bool)
    in_ring[lo:hi, lo:hi] = False
    out = []
    for centre in grid_bins(tuple(power.shape), scale):
        peak = float(_window(power, centre, PEAK_HALF).max())
        ring = _window(power, centre, RING_OUTER_HALF)[in_ring]
        # torch's median of an even count is the lower middle value; take the usual mean of the two.
        middle = ring.sort().values[ring.numel() // 2 - 1 : ring.numel() // 2 + 1].mean()
        out.append(10.0 * math.log10((peak + floor) / (float(middle) + floor)))
    return out


def grid_db(y: torch.Tensor, scale: int) -> float:
    """Mean of ``grid_db_per_bin``: the strength of a pattern with the
    upsampling period ``scale`` in a luma plane, in dB."""
    bins = grid_db_per_bin(y, scale)
    return sum(bins) / len(bins)


def high_frequency_mask(shape: tuple[int, int], scale: int) -> torch.Tensor:
    """True for the bins above ``HF_CUTOFF`` cycles per pixel (radially),
    leaving out the 3x3 neighbourhood of every grid bin."""
    h, w = shape
    fy = torch.fft.fftfreq(h, dtype=torch.float64)[:, None]
    fx = torch.fft.fftfreq(w, dtype=torch.float64)[None, :]
    mask = (fy.square() + fx.square()).sqrt() > HF_CUTOFF
    for r, c in grid_bins(shape, scale):
        rows = torch.arange(r - PEAK_HALF, r + PEAK_HALF + 1) % h
        cols = torch.arange(c - PEAK_HALF, c + PEAK_HALF + 1) % w
        mask[rows[:, None], cols[None, :]] = False
    return mask


def high_frequency_power(y: torch.Tensor, scale: int) -> float:
    power = power_spectrum(y)
    return float(power[high_frequency_mask(tuple(power.shape), scale)].sum())


def hf_ratio(y_out: torch.Tensor, y_ref: torch.Tensor, scale: int) -> float:
    """The power of ``y_out`` above 1/4 of the sampling rate over that of the
    ground truth ``y_ref`` (same size), the grid bins left out."""
    if _as_plane(y_out).shape != _as_plane(y_ref).shape:
        raise ValueError(f"hf_ratio needs planes of one size, got {tuple(y_out.shape)} and {tuple(y_ref.shape)}")
    ref = high_frequency_power(y_ref, scale)
    if ref == 0.0:
        raise ValueError("the ground truth has no power above 1/4 of the sampling rate; hf_ratio is undefined")
    return high_frequency_power(y_out, scale) / ref
