"""RRDBNet: the ESRGAN / Real-ESRGAN / BSRGAN generator (Wang et al. 2018, 2021).

Parameters and state-dict keys follow BasicSR's layout (``conv_first``,
``body.N.rdbK.convJ``, ``conv_body``, ``conv_upN``, ``conv_hr``, ``conv_last``).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convolutions with a scaled residual."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks and a scaled residual."""

    def __init__(self, num_feat: int, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


def default_upsampling(scale: int) -> tuple[int, int]:
    """(num_upsample, unshuffle) that Real-ESRGAN uses for a scale: x1 and x2
    pixel-unshuffle the input by 4 and 2 and then upsample x4."""
    table = {1: (2, 4), 2: (2, 2), 4: (2, 1), 8: (3, 1)}
    if scale not in table:
        raise ValueError(f"RRDBNet supports scales 1, 2, 4 and 8, not {scale}")
    return table[scale]


class RRDBNet(nn.Module):
    """ESRGAN generator.

    Args:
        in_channels / out_channels: image channels (1, 3 or 4).
        scale: output / input size ratio (1, 2, 4 or 8 by default).
        num_feat, num_block, num_grow_ch: width, depth and dense growth.
        num_upsample, unshuffle: explicit upsampling plan (nearest x2 + conv per
            step; pixel-unshuffle factor of the input). Derived from ``scale``
            when left out; old ESRGAN files with 0 or 1 upsampling steps set them.
    """

    arch = "rrdbnet"

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        scale: int = 4,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
        num_upsample: Optional[int] = None,
        unshuffle: Optional[int] = None,
    ) -> None:
        super().__init__()
        if num_upsample is None or unshuffle is None:
            num_upsample, unshuffle = default_upsampling(scale)
        if (2**num_upsample) != scale * unshuffle:
            raise ValueError(
                f"RRDBNet: {num_upsample} upsampling steps with unshuffle {unshuffle} "
                f"give scale {2**num_upsample / unshuffle}, not {scale}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.scale = scale
        self.unshuffle = unshuffle
        self.num_upsample = num_upsample
        self.size_multiple = unshuffle
        self.config = dict(
            in_channels=in_channels,
            out_channels=out_channels,
            scale=scale,
            num_feat=num_feat,
            num_block=num_block,
            num_grow_ch=num_grow_ch,
            num_upsample=num_upsample,
            unshuffle=unshuffle,
        )
        self.conv_first = nn.Conv2d(in_channels * unshuffle**2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(num_feat, num_grow_ch) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        for i in range(1, num_upsample + 1):
            setattr(self, f"conv_up{i}", nn.Conv2d(num_feat, num_feat, 3, 1, 1))
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, out_channels, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for i in range(1, self.num_upsample + 1):
            conv = getattr(self, f"conv_up{i}")
            feat = self.lrelu(conv(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))
