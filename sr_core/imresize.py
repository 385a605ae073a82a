"""MATLAB-compatible ``imresize`` with the bicubic kernel and antialiasing.

The SR literature's "bicubic" LR images and bicubic baselines are made with
MATLAB's ``imresize(img, 1/scale, 'bicubic')``, which widens the cubic kernel
when downscaling (antialiasing) and mirrors the image at its borders. PyTorch's
``interpolate(mode='bicubic')`` uses another kernel (a=-0.75) and no mirroring,
so its results differ by several grey levels; this module reproduces MATLAB.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import torch


def cubic(x: torch.Tensor) -> torch.Tensor:
    """Keys' cubic kernel with a = -0.5 (MATLAB's)."""
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))


def resize_matrix(in_len: int, out_len: int, scale: float, antialias: bool = True) -> torch.Tensor:
    """(out_len, in_len) float64 matrix that resizes one axis as MATLAB does."""
    kernel_width = 4.0
    shrink = scale < 1 and antialias
    if shrink:
        kernel_width /= scale
    x = torch.arange(1, out_len + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)  # output pixel centre in input coordinates (1-based)
    left = torch.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    idx = left[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]
    dist = u[:, None] - idx
    w = scale * cubic(dist * scale) if shrink else cubic(dist)
    w = w / w.sum(1, keepdim=True)
    idx = idx.long() - 1  # 0-based, then mirror at the borders (MATLAB's 'symmetric')
    period = 2 * in_len
    idx = idx % period
    idx = torch.where(idx >= in_len, period - 1 - idx, idx)
    m = torch.zeros(out_len, in_len, dtype=torch.float64)
    m.scatter_add_(1, idx, w)
    return m


def imresize(
    image: torch.Tensor,
    scale: Optional[float] = None,
    size: Optional[Sequence[int]] = None,
    antialias: bool = True,
) -> torch.Tensor:
    """Resize a (..., H, W) float tensor like MATLAB's bicubic ``imresize``.

    Give ``scale`` (e.g. 0.25) or ``size`` (out_h, out_w). Height is resized
    first, then width, in float64; the result has the input's dtype and is not
    clamped (round and clamp yourself to imitate MATLAB's uint8 output).
    """
    h, w = image.shape[-2:]
    if size is None:
        if scale is None:
            raise ValueError("imresize needs scale or size")
        size = (math.ceil(h * scale), math.ceil(w * scale))
        sh = sw = float(scale)
    else:
        sh, sw = size[0] / h, size[1] / w
    if h == 0 or w == 0 or size[0] <= 0 or size[1] <= 0:
        raise ValueError(f"cannot resize a {h}x{w} image to {size[0]}x{size[1]}")
    x = image.to(torch.float64)
    mh = resize_matrix(h, size[0], sh, antialias).to(x.device)
    mw = resize_matrix(w, size[1], sw, antialias).to(x.device)
    x = torch.matmul(mh, x)  # (..., out_h, W)
    x = torch.matmul(x, mw.T)  # (..., out_h, out_w)
    return x.to(image.dtype if image.is_floating_point() else torch.float32)


def imresize_uint8(image: torch.Tensor, scale: Union[float, None] = None, size: Optional[Sequence[int]] = None) -> torch.Tensor:
    """MATLAB's imresize on a uint8 image: resize, round, clamp to 0..255."""
    out = imresize(image.to(torch.float64), scale=scale, size=size)
    return out.round().clamp(0, 255).to(torch.uint8)
