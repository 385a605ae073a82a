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


def psnr(a: torch.Tensor, b: torch.Tensor, max_val: float = 1.0) -> float:
    """PSNR in dB over all elements (inf when identical)."""
    mse = torch.mean((a.double() - b.double()) ** 2).item()
    return math.inf if mse == 0 else 10 * math.log10(max_val**2 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(a: torch.Tensor, b: torch.Tensor, max_val: float = 1.0) -> float:
    """Mean SSIM (Wang et al. 2004: 11x11 Gaussian, sigma 1.5, valid region)
    of (B, C, H, W) or (C, H, W) tensors, averaged over channels and batch."""
    if a.ndim == 3:
        a, b = a[None], b[None]
    a, b = a.double(), b.double()
    c = a.shape[1]
    if min(a.shape[-2:]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 pixels, got {tuple(a.shape[-2:])}")
    win = _gaussian_window().to(a.device).expand(c, 1, 11, 11)
    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, win, groups=c)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean().item()


def crop_border(x: torch.Tensor, border: int) -> torch.Tensor:
    return x[..., border:-border, border:-border] if border > 0 else x


def y_psnr_ssim(sr: torch.Tensor, hr: torch.Tensor, border: int) -> tuple[float, float]:
    """(PSNR, SSIM) on the Y channel with ``border`` pixels cropped, the way SR
    papers report them. Inputs: (C, H, W) or (B, C, H, W) in 0..1, already
    quantised to 8 bits as saved images are; Y is computed in 0..255 units."""
    ys = crop_border(rgb_to_y(sr) * 255.0, border)
    yh = crop_border(rgb_to_y(hr) * 255.0, border)
    return psnr(ys, yh, 255.0), ssim(ys, yh, 255.0)
