"""The Real-ESRGAN U-Net discriminator with spectral normalisation (Wang et al. 2021).

Three stride-2 stages down, three bilinear x2 stages up with skip connections,
and a per-pixel realness logit map of the input's size. Spectrally normalised
convolutions (``torch.nn.utils.spectral_norm``: keys ``convN.weight_orig``,
``weight_u``, ``weight_v``) keep it stable against the strong degradations
of Real-ESRGAN training. Key names follow Real-ESRGAN's ``UNetDiscriminatorSN``,
so its published discriminator weights load unchanged.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm


class UNetDiscriminatorSN(nn.Module):
    """Args:
        in_channels: image channels.
        num_feat: width of the first stage (x2, x4, x8 deeper down).
        skip_connection: add the encoder features to the decoder's.

    Input sides must be multiples of 8.
    """

    def __init__(self, in_channels: int = 3, num_feat: int = 64, skip_connection: bool = True) -> None:
        super().__init__()
        self.skip_connection = skip_connection
        nf = num_feat
        self.conv0 = nn.Conv2d(in_channels, nf, 3, 1, 1)
        # encoder
        self.conv1 = spectral_norm(nn.Conv2d(nf, nf * 2, 4, 2, 1, bias=False))
        self.conv2 = spectral_norm(nn.Conv2d(nf * 2, nf * 4, 4, 2, 1, bias=False))
        self.conv3 = spectral_norm(nn.Conv2d(nf * 4, nf * 8, 4, 2, 1, bias=False))
        # decoder
        self.conv4 = spectral_norm(nn.Conv2d(nf * 8, nf * 4, 3, 1, 1, bias=False))
        self.conv5 = spectral_norm(nn.Conv2d(nf * 4, nf * 2, 3, 1, 1, bias=False))
        self.conv6 = spectral_norm(nn.Conv2d(nf * 2, nf, 3, 1, 1, bias=False))
        # head
        self.conv7 = spectral_norm(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.conv8 = spectral_norm(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(nf, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] % 8 or x.shape[-1] % 8:
            raise ValueError(f"UNetDiscriminatorSN needs sides that are multiples of 8, got {tuple(x.shape[-2:])}")

        def act(t: torch.Tensor) -> torch.Tensor:
            return F.leaky_relu(t, negative_slope=0.2, inplace=True)

        def up(t: torch.Tensor) -> torch.Tensor:
            return F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)

        x0 = act(self.conv0(x))
        x1 = act(self.conv1(x0))
        x2 = act(self.conv2(x1))
        x3 = act(self.conv3(x2))
        x4 = act(self.conv4(up(x3)))
        if self.skip_connection:
            x4 = x4 + x2
        x5 = act(self.conv5(up(x4)))
        if self.skip_connection:
            x5 = x5 + x1
        x6 = act(self.conv6(up(x5)))
        if self.skip_connection:
            x6 = x6 + x0
        out = act(self.conv7(x6))
        out = act(self.conv8(out))
        return self.conv9(out)
