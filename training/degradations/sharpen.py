"""Unsharp masking, as Real-ESRGAN applies to its ground truth (``gt_usm``)."""
from __future__ import annotations

import torch

from .filters import filter_separable, gaussian_1d


def usm_sharpen(img: torch.Tensor, weight: float = 0.5, threshold: float = 10.0, radius: int = 50) -> torch.Tensor:
    """Sharpen (B, C, H, W) images in 0..1: img + weight * (img - blur), applied
    through a soft mask of the pixels whose detail exceeds ``threshold``/255, so
    flat areas and their noise are left alone. ``radius`` 50 means a 51-tap
    Gaussian (sigma 8)."""
    size = radius + 1 if radius % 2 == 0 else radius
    k = gaussian_1d(size)
    blur = filter_separable(img, k)
    residual = img - blur
    mask = (residual.abs() * 255 > threshold).to(img.dtype)
    soft = filter_separable(mask, k)
    sharp = (img + weight * residual).clamp(0, 1)
    return soft * sharp + (1 - soft) * img
