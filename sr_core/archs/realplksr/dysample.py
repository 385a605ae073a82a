"""DySample (Liu et al. 2023, "Learning to Upsample by Learning to Sample"),
the learned upsampler of RealPLKSR's DySample variant.

Every output pixel is a bilinear sample of the input at a learned offset from
its sub-pixel position; channels are sampled in ``groups``, each group with its
own offsets. Keys: ``offset``, ``scope`` (1x1 convolutions predicting the
offsets and their range), ``init_pos`` (the sub-pixel positions), and
``end_conv`` (a 1x1 convolution to the image channels) when the scale is > 1.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def subpixel_positions(scale: int, groups: int) -> torch.Tensor:
    """(1, 2 * groups * scale**2, 1, 1): x then y offsets, in input pixels, of
    the ``scale x scale`` output pixels inside one input pixel, for each group."""
    centres = (torch.arange(scale, dtype=torch.float32) - (scale - 1) / 2) / scale
    xs = centres.view(1, scale).expand(scale, scale)  # varies along the output column
    ys = centres.view(scale, 1).expand(scale, scale)  # varies along the output row
    grid = torch.stack((xs, ys)).unsqueeze(1).expand(2, groups, scale, scale)
    return grid.reshape(1, -1, 1, 1).clone()


class DySample(nn.Module):
    """Learned-offset upsampler: ``in_channels`` feature maps to ``out_channels``
    images ``scale`` times larger."""

    def __init__(self, in_channels: int, out_channels: int, scale: int, groups: int) -> None:
        super().__init__()
        if in_channels % groups:
            raise ValueError(f"DySample needs in_channels ({in_channels}) divisible by groups ({groups})")
        self.scale, self.groups = scale, groups
        offsets = 2 * groups * scale * scale
        self.offset = nn.Conv2d(in_channels, offsets, 1)
        self.scope = nn.Conv2d(in_channels, offsets, 1, bias=False)
        nn.init.trunc_normal_(self.offset.weight, std=0.02)
        nn.init.zeros_(self.scope.weight)
        self.register_buffer("init_pos", subpixel_positions(scale, groups))
        self.end_conv = nn.Conv2d(in_channels, out_channels, 1) if scale != 1 else None

    def sampling_grid(self, x: torch.Tensor) -> torch.Tensor:
        """(batch * groups, scale * H, scale * W, 2) float32 sampling positions in
        ``grid_sample``'s [-1, 1] coordinates (pixel centres, no corner alignment)."""
        b, _, h, w = x.shape
        s, g = self.scale, self.groups
        offset = self.offset(x).float() * torch.sigmoid(self.scope(x).float()) * 0.5 + self.init_pos.float()
        offset = offset.view(b, 2, g, s, s, h, w)
        col = torch.arange(w, device=x.device, dtype=torch.float32) + 0.5
        row = torch.arange(h, device=x.device, dtype=torch.float32) + 0.5
        px = (offset[:, 0] + col.view(1, 1, 1, 1, 1, w)) * (2 / w) - 1
        py = (offset[:, 1] + row.view(1, 1, 1, 1, h, 1)) * (2 / h) - 1
        # (b, g, sub-row i, sub-col j, h, w) -> (b, g, h, i, w, j): output pixel (h*s+i, w*s+j)
        grid = torch.stack((px, py), -1).permute(0, 1, 4, 2, 5, 3, 6)
        return grid.reshape(b * g, h * s, w * s, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        # Sampling positions need float32: in [-1, 1] coordinates fp16 resolves
        # ~1/2000 and bf16 ~1/250 of the width, i.e. whole pixels on large windows.
        grid = self.sampling_grid(x)
        with torch.autocast(x.device.type, enabled=False):
            out = F.grid_sample(
                x.float().reshape(b * self.groups, c // self.groups, h, w), grid,
                mode="bilinear", padding_mode="border", align_corners=False,
            ).view(b, c, h * self.scale, w * self.scale)
        out = out.to(x.dtype)
        return self.end_conv(out) if self.end_conv is not None else out
