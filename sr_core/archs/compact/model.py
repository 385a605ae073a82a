"""SRVGGNetCompact: Real-ESRGAN's compact generator (Wang et al. 2021).

A plain stack of 3x3 convolutions with PReLU at low resolution, a pixel-shuffle
to the output size, and the nearest-upsampled input added as a residual.
State-dict keys: ``body.N`` (convolutions at even N, PReLU at odd N).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SRVGGNetCompact(nn.Module):
    """Real-ESRGAN Compact.

    Args:
        in_channels / out_channels: image channels (1, 3 or 4).
        num_feat: width of every hidden convolution.
        num_conv: number of hidden 3x3 convolutions after the first one.
        scale: upscaling factor (1 to 4).
    """

    arch = "compact"

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        num_feat: int = 64,
        num_conv: int = 16,
        scale: int = 4,
    ) -> None:
        super().__init__()
        if not 1 <= scale <= 4:
            raise ValueError(f"SRVGGNetCompact supports scales 1 to 4, not {scale}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.scale = scale
        self.size_multiple = 1
        self.config = dict(
            in_channels=in_channels,
            out_channels=out_channels,
            num_feat=num_feat,
            num_conv=num_conv,
            scale=scale,
        )
        layers: list[nn.Module] = [nn.Conv2d(in_channels, num_feat, 3, 1, 1), nn.PReLU(num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), nn.PReLU(num_feat)]
        layers.append(nn.Conv2d(num_feat, out_channels * scale * scale, 3, 1, 1))
        self.body = nn.Sequential(*layers)

    def pixel_shuffle_convs(self) -> list[tuple[nn.Conv2d, int]]:
        """The convolutions whose output goes to a pixel shuffle, with its factor (for ICNR)."""
        return [(self.body[-1], self.scale)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.pixel_shuffle(self.body(x), self.scale)
        base = F.interpolate(x, scale_factor=self.scale, mode="nearest")
        if base.shape[1] != out.shape[1]:
            # Channel counts differ (e.g. RGBA in, RGB out): add the shared channels.
            n = min(base.shape[1], out.shape[1])
            out = torch.cat((out[:, :n] + base[:, :n], out[:, n:]), 1)
            return out
        return out + base
