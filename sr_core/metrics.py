"""Image quality metrics: PSNR and SSIM, and the SR literature's Y-channel
convention (ITU-R BT.601 luma of RGB, a border of ``scale`` pixels cropped)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """BT.601 luma of a (..., 3, H, W) RGB tensor in 0..1, in 0..1 units
    (16/255..235/255, as MATLAB's rgb2ycbcr). One-channel input is already luma
    and is returned unchanged, as the SR evaluation scripts treat grey images."""
    if x.shape[-3] == 1:
        return x
    r, g, b = x[..., 0:1, :, :], x[..., 1:2, :, :], x[..., 2:3, :, :]
    return (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0


# Elements of one image slice processed at a time by psnr and ssim: 4 MiB per float32 map,
# so memory stays bounded (a few such maps) whatever the batch and frame size.
CHUNK_ELEMENTS = 1 << 20


def _row_chunks(h: int, c: int, w: int, overlap: int = 0) -> list[tuple[int, int]]:
    """(first, end) output rows of slices of about CHUNK_ELEMENTS input elements;
    each slice reads ``overlap`` more rows below its end."""
    rows = max(1, CHUNK_ELEMENTS // max(1, c * w) - overlap)
    return [(r, min(r + rows, h)) for r in range(0, h, rows)]


def psnr(a: torch.Tensor, b: torch.Tensor, max_val: float = 1.0) -> float:
    """PSNR in dB over all elements (inf when identical). Squared errors are
    summed slice by slice in float64, so no full-size copy is made."""
    if a.shape != b.shape:
        raise ValueError(f"PSNR needs tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.ndim < 3:
        a, b = a.reshape(1, 1, -1), b.reshape(1, 1, -1)
    a2, b2 = a.reshape(-1, *a.shape[-2:]), b.reshape(-1, *b.shape[-2:])  # (frames x channels, H, W)
    total = 0.0
    for i in range(a2.shape[0]):
        for r0, r1 in _row_chunks(a2.shape[-2], 1, a2.shape[-1]):
            d = a2[i, r0:r1].float() - b2[i, r0:r1].float()
            total += float(d.square().sum(dtype=torch.float64))
    mse = total / a.numel()
    return math.inf if mse == 0 else 10 * math.log10(max_val**2 / mse)


def _gaussian_1d(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _ssim_sum(a: torch.Tensor, b: torch.Tensor, g: torch.Tensor, c1: float, c2: float) -> float:
    """Sum of the SSIM map (valid region) of one (1, C, h, W) float32 slice pair.

    Each slice is shifted by its own mean first: variances and covariances do
    not change, and float32 then keeps them exact to ~1e-7 of the signal."""
    c = a.shape[1]
    gh = g.view(1, 1, 1, -1).expand(c, 1, 1, g.numel())
    gv = g.view(1, 1, -1, 1).expand(c, 1, g.numel(), 1)

    def blur(x: torch.Tensor) -> torch.Tensor:  # the 11x11 Gaussian, as two 1-D passes
        return F.conv2d(F.conv2d(x, gh, groups=c), gv, groups=c)

    sa, sb = a.mean(), b.mean()
    a, b = a - sa, b - sb
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a
    var_b = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    mu_a, mu_b = mu_a + sa, mu_b + sb
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2))
    return float(s.sum(dtype=torch.float64))


def ssim(a: torch.Tensor, b: torch.Tensor, max_val: float = 1.0) -> float:
    """Mean SSIM (Wang et al. 2004: 11x11 Gaussian, sigma 1.5, valid region)
    of (B, C, H, W) or (C, H, W) tensors, averaged over channels and batch.

    Computed in float32, frame by frame and in slices of rows, so the memory it
    needs does not grow with the batch or the frame size."""
    if a.ndim == 3:
        a, b = a[None], b[None]
    if a.shape != b.shape:
        raise ValueError(f"SSIM needs tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if min(a.shape[-2:]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 pixels, got {tuple(a.shape[-2:])}")
    frames, c, h, w = a.shape
    g = _gaussian_1d().to(a.device, torch.float32)
    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
    total = 0.0
    for i in range(frames):
        for r0, r1 in _row_chunks(h - 10, c, w, overlap=10):
            rows = slice(r0, r1 + 10)  # an output row needs the 10 input rows below it
            total += _ssim_sum(a[i : i + 1, :, rows].float(), b[i : i + 1, :, rows].float(), g, c1, c2)
    return total / (frames * c * (h - 10) * (w - 10))


def crop_border(x: torch.Tensor, border: int) -> torch.Tensor:
    return x[..., border:-border, border:-border] if border > 0 else x


def y_psnr_ssim(sr: torch.Tensor, hr: torch.Tensor, border: int) -> tuple[float, float]:
    """(PSNR, SSIM) on the Y channel with ``border`` pixels cropped, the way SR
    papers report them. Inputs: (C, H, W) or (B, C, H, W) in 0..1, already
    quantised to 8 bits as saved images are; Y is computed in 0..255 units."""
    ys = crop_border(rgb_to_y(sr) * 255.0, border)
    yh = crop_border(rgb_to_y(hr) * 255.0, border)
    return psnr(ys, yh, 255.0), ssim(ys, yh, 255.0)
