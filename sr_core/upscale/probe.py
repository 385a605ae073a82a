"""A small deterministic test picture for measuring a model (receptive field,
reduced-precision quality, memory): smooth shading, soft and hard edges and
fine texture, like the photos and renders people upscale."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def probe_image(channels: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A (1, channels, height, width) float32 picture in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    yy = torch.linspace(0, 1, height).view(1, 1, height, 1)
    xx = torch.linspace(0, 1, width).view(1, 1, 1, width)
    base = torch.rand(1, channels, 1, 1, generator=g) * 0.4 + 0.3
    img = base + 0.25 * (xx - 0.5) * torch.rand(1, channels, 1, 1, generator=g) - 0.2 * (yy - 0.5)
    for cells in (4, 12):  # smooth blotches at two scales
        noise = torch.rand(1, channels, cells, cells, generator=g) - 0.5
        img = img + 0.35 * F.interpolate(noise, size=(height, width), mode="bicubic", align_corners=False)
    for _ in range(6):  # hard-edged discs and bars
        cy, cx = torch.rand(2, generator=g).tolist()
        r = 0.05 + 0.2 * float(torch.rand(1, generator=g))
        value = torch.rand(1, channels, 1, 1, generator=g)
        disc = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r) if float(torch.rand(1, generator=g)) < 0.5 else (
            ((yy - cy).abs() < r / 4) & ((xx - cx).abs() < r * 2)
        )
        img = torch.where(disc, 0.6 * value + 0.4 * img, img)
    stripes = torch.sin(xx * width * 1.7 + yy * height * 0.6) * (yy > 0.7)  # fine regular texture
    img = img + 0.08 * stripes + 0.04 * (torch.rand(1, channels, height, width, generator=g) - 0.5)
    return img.clamp(0, 1).float()
