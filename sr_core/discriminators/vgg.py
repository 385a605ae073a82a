"""The ESRGAN VGG-style discriminator (Wang et al. 2018, after SRGAN).

Pairs of (3x3 conv, 4x4 stride-2 conv) with batch normalisation halve the
image down to 4x4, then two linear layers give one logit per image. Inputs
must be exactly ``input_size`` pixels square (128 or 256). Key names follow
BasicSR's ``VGGStyleDiscriminator`` (``conv0_0``, ``bn0_1``, ``linear1`` ...),
so its published weights load unchanged.
"""
from __future__ import annotations

import torch
from torch import nn


class VGGStyleDiscriminator(nn.Module):
    """Args:
        in_channels: image channels.
        num_feat: width of the first stage (doubled up to 8x).
        input_size: 128 (five stride-2 stages) or 256 (six).
    """

    def __init__(self, in_channels: int = 3, num_feat: int = 64, input_size: int = 128) -> None:
        super().__init__()
        if input_size not in (128, 256):
            raise ValueError(f"VGGStyleDiscriminator takes 128 or 256 px inputs, not {input_size}; "
                             "use the 'unet' discriminator for other patch sizes")
        self.input_size = input_size
        widths = [num_feat, num_feat * 2, num_feat * 4, num_feat * 8, num_feat * 8, num_feat * 8]
        stages = 5 if input_size == 128 else 6
        self.conv0_0 = nn.Conv2d(in_channels, num_feat, 3, 1, 1, bias=True)
        self.conv0_1 = nn.Conv2d(num_feat, num_feat, 4, 2, 1, bias=False)
        self.bn0_1 = nn.BatchNorm2d(num_feat, affine=True)
        for i in range(1, stages):
            cin, cout = widths[i - 1], widths[i]
            setattr(self, f"conv{i}_0", nn.Conv2d(cin, cout, 3, 1, 1, bias=False))
            setattr(self, f"bn{i}_0", nn.BatchNorm2d(cout, affine=True))
            setattr(self, f"conv{i}_1", nn.Conv2d(cout, cout, 4, 2, 1, bias=False))
            setattr(self, f"bn{i}_1", nn.BatchNorm2d(cout, affine=True))
        self.stages = stages
        self.linear1 = nn.Linear(num_feat * 8 * 4 * 4, 100)
        self.linear2 = nn.Linear(100, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.input_size, self.input_size):
            raise ValueError(f"VGGStyleDiscriminator expects {self.input_size}x{self.input_size} inputs, "
                             f"got {tuple(x.shape[-2:])}; set gt_size to {self.input_size}")
        feat = self.lrelu(self.conv0_0(x))
        feat = self.lrelu(self.bn0_1(self.conv0_1(feat)))
        for i in range(1, self.stages):
            feat = self.lrelu(getattr(self, f"bn{i}_0")(getattr(self, f"conv{i}_0")(feat)))
            feat = self.lrelu(getattr(self, f"bn{i}_1")(getattr(self, f"conv{i}_1")(feat)))
        feat = feat.flatten(1)
        return self.linear2(self.lrelu(self.linear1(feat)))
