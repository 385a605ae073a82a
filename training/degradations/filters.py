"""Image filtering helpers for the degradations (torch, (B, C, H, W) floats)."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def _pad(img: torch.Tensor, ph: int, pw: int) -> torch.Tensor:
    if ph == 0 and pw == 0:
        return img
    small = img.shape[-2] <= ph or img.shape[-1] <= pw
    return F.pad(img, (pw, pw, ph, ph), mode="replicate" if small else "reflect")


def filter2d(img: torch.Tensor, kernel: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Correlate every channel of ``img`` with the odd-sized 2-D ``kernel``,
    reflecting the borders (replicating them when the image is smaller than the kernel)."""
    k = torch.as_tensor(kernel, dtype=img.dtype, device=img.device)
    kh, kw = k.shape
    c = img.shape[1]
    weight = k.expand(c, 1, kh, kw)
    return F.conv2d(_pad(img, kh // 2, kw // 2), weight, groups=c)


def filter_separable(img: torch.Tensor, k1d: torch.Tensor) -> torch.Tensor:
    """Filter with the outer product of ``k1d`` with itself, as two 1-D passes."""
    n = k1d.numel()
    c = img.shape[1]
    k = k1d.to(img.dtype).to(img.device)
    x = _pad(img, n // 2, n // 2)
    x = F.conv2d(x, k.view(1, 1, n, 1).expand(c, 1, n, 1), groups=c)
    return F.conv2d(x, k.view(1, 1, 1, n).expand(c, 1, 1, n), groups=c)


def gaussian_1d(size: int, sigma: float = 0.0) -> torch.Tensor:
    """Normalised 1-D Gaussian; sigma <= 0 picks 0.3 * ((size - 1) / 2 - 1) + 0.8
    (OpenCV's rule, which Real-ESRGAN's sharpening relies on)."""
    if sigma <= 0:
        sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return (g / g.sum()).float()


def resize(img: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """Resize to ``size`` with torch's 'area', 'bilinear' or 'bicubic' (no antialiasing),
    the random resize operators of Real-ESRGAN."""
    size = (max(1, int(size[0])), max(1, int(size[1])))
    if mode == "area":
        return F.interpolate(img, size=size, mode="area")
    if mode in ("bilinear", "bicubic"):
        return F.interpolate(img, size=size, mode=mode, align_corners=False)
    raise ValueError(f"unknown resize mode {mode!r}; use area, bilinear or bicubic")


def rgb_to_grey(img: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma (0.299, 0.587, 0.114) of (B, 3, H, W)."""
    w = img.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (img * w).sum(1, keepdim=True)


def next_power_of_two(n: int) -> float:
    return float(2 ** math.ceil(math.log2(max(n, 1))))
