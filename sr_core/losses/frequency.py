"""Focal frequency loss (Jiang et al. 2021, "Focal Frequency Loss for Image
Reconstruction and Synthesis").

The distance between the 2-D Fourier spectra of output and ground truth, each
frequency weighted by its own (normalised) error: the frequencies a generator
gets most wrong, such as the spectral peaks of an upsampling grid or missing
texture, dominate, and those it already matches fade out. The weight is
detached, as in the paper.
"""
from __future__ import annotations

import torch


def focal_frequency_loss(out: torch.Tensor, gt: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Mean over (B, C, H, W) of w * |F(out) - F(gt)|^2 with w = (|F(out) - F(gt)| / its max per image)^alpha.

    ``F`` is the orthonormal 2-D FFT of each channel, computed in float32.
    """
    if out.shape != gt.shape:
        raise ValueError(f"output {tuple(out.shape)} and ground truth {tuple(gt.shape)} differ in shape")
    diff = torch.fft.fft2(out.float(), norm="ortho") - torch.fft.fft2(gt.float(), norm="ortho")
    distance = diff.real.square() + diff.imag.square()
    with torch.no_grad():
        weight = distance.sqrt().pow(alpha)
        peak = weight.flatten(1).amax(dim=1).clamp_min(1e-12)
        weight = (weight / peak.view(-1, 1, 1, 1)).clamp(0.0, 1.0)
    return (weight * distance).mean()
