"""RealPLKSR: the community's real-world variant of PLKSR (Lee et al. 2024,
"Partial Large Kernel CNNs for Efficient Super-Resolution"), as spandrel and
traiNNer-redux define it.

A 3x3 head, ``num_block`` PLK blocks (a doubled 3x3 channel mixer, a large
kernel convolution over the first ``split_ratio`` of the channels, element-wise
attention, a 1x1 refinement and a group norm, or a per-pixel layer norm in
front instead), a 3x3 tail to ``channels * scale**2`` maps plus the input
repeated that many times, then a pixel shuffle or DySample.

State-dict keys: ``feats.0`` (head), ``feats.1`` .. ``feats.N`` (blocks:
``channel_mixer.0/2``, ``lk.conv``, ``attn.f.0``, ``refine``, ``norm`` or
``layer_norm``), ``feats.N+2`` (tail; ``feats.N+1`` is a parameter-free
dropout), and ``to_img.*`` for DySample.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .dysample import DySample


class ChannelLayerNorm(nn.Module):
    """Layer norm over the channels of every pixel (eps 1e-6), with its
    statistics in float32 (squared deviations overflow fp16 beyond 256)."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        wide = x.float()
        centred = wide - wide.mean(1, keepdim=True)
        scaled = (centred * torch.rsqrt(centred.pow(2).mean(1, keepdim=True) + self.eps)).to(x.dtype)
        return scaled * self.weight.view(1, -1, 1, 1).to(x.dtype) + self.bias.view(1, -1, 1, 1).to(x.dtype)


class PartialLargeKernel(nn.Module):
    """A ``kernel_size`` convolution over the first ``channels`` feature maps;
    the others pass through."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.channels = channels
        self.conv = nn.Conv2d(channels, channels, kernel_size, 1, kernel_size // 2)
        nn.init.trunc_normal_(self.conv.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            return torch.cat((self.conv(x[:, : self.channels]), x[:, self.channels :]), 1)
        x[:, : self.channels] = self.conv(x[:, : self.channels])  # inference: no copy of the rest
        return x


class ElementAttention(nn.Module):
    """``x * sigmoid(conv3x3(x))``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.f = nn.Sequential(nn.Conv2d(dim, dim, 3, 1, 1), nn.Sigmoid())
        nn.init.trunc_normal_(self.f[0].weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.f(x)


class PLKBlock(nn.Module):
    def __init__(self, dim: int, kernel_size: int, split_channels: int, use_ea: bool, norm_groups: int, layer_norm: bool) -> None:
        super().__init__()
        self.layer_norm = ChannelLayerNorm(dim) if layer_norm else nn.Identity()
        self.channel_mixer = nn.Sequential(nn.Conv2d(dim, dim * 2, 3, 1, 1), nn.Mish(), nn.Conv2d(dim * 2, dim, 3, 1, 1))
        nn.init.trunc_normal_(self.channel_mixer[2].weight, std=0.02)
        self.lk = PartialLargeKernel(split_channels, kernel_size)
        self.attn = ElementAttention(dim) if use_ea else nn.Identity()
        self.refine = nn.Conv2d(dim, dim, 1)
        nn.init.trunc_normal_(self.refine.weight, std=0.02)
        self.norm = nn.Identity() if layer_norm else nn.GroupNorm(norm_groups, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.lk(self.channel_mixer(self.layer_norm(x)))
        return self.norm(self.refine(self.attn(y))) + x


def split_channels(num_feat: int, split_ratio: float) -> int:
    """Channels of the large-kernel convolution (robust to ``ratio * dim``
    landing a hair below an integer in floating point)."""
    return int(num_feat * split_ratio + 1e-6)


class RealPLKSR(nn.Module):
    """RealPLKSR.

    Args:
        channels: image channels, in and out (spandrel only loads 3).
        num_feat: feature width (``dim``; 64 in the published models).
        num_block: PLK blocks (28 published; 12 or so in "small" variants).
        scale: upscaling factor.
        kernel_size: large-kernel size (17).
        split_ratio: share of the channels the large kernel sees (0.25).
        use_ea: element-wise attention in every block.
        norm_groups: groups of the group norms (4; not stored in files).
        dropout: channel dropout before the tail while training (0).
        dysample: DySample upsampler instead of a pixel shuffle.
        layer_norm: a per-pixel layer norm at the start of every block instead
            of the group norm at the end (the fp16-safe variant).
    """

    arch = "realplksr"

    def __init__(
        self,
        channels: int = 3,
        num_feat: int = 64,
        num_block: int = 28,
        scale: int = 4,
        kernel_size: int = 17,
        split_ratio: float = 0.25,
        use_ea: bool = True,
        norm_groups: int = 4,
        dropout: float = 0.0,
        dysample: bool = False,
        layer_norm: bool = False,
    ) -> None:
        super().__init__()
        pdim = split_channels(num_feat, split_ratio)
        if scale < 1:
            raise ValueError(f"RealPLKSR needs a scale of 1 or more, not {scale}")
        if not 1 <= pdim <= num_feat:
            raise ValueError(f"RealPLKSR split_ratio {split_ratio} of {num_feat} features gives {pdim} large-kernel channels")
        if kernel_size % 2 == 0:
            raise ValueError(f"RealPLKSR needs an odd kernel_size, not {kernel_size}")
        if not layer_norm and num_feat % norm_groups:
            raise ValueError(f"RealPLKSR num_feat ({num_feat}) must be divisible by norm_groups ({norm_groups})")
        self.in_channels = self.out_channels = channels
        self.scale = scale
        self.size_multiple = 1
        self.config = dict(
            channels=channels, num_feat=num_feat, num_block=num_block, scale=scale, kernel_size=kernel_size,
            split_ratio=split_ratio, use_ea=use_ea, norm_groups=norm_groups, dropout=dropout,
            dysample=dysample, layer_norm=layer_norm,
        )
        head = nn.Conv2d(channels, num_feat, 3, 1, 1)
        tail = nn.Conv2d(num_feat, channels * scale * scale, 3, 1, 1)
        nn.init.trunc_normal_(head.weight, std=0.02)
        nn.init.trunc_normal_(tail.weight, std=0.02)
        blocks = [PLKBlock(num_feat, kernel_size, pdim, use_ea, norm_groups, layer_norm) for _ in range(num_block)]
        self.feats = nn.Sequential(head, *blocks, nn.Dropout2d(dropout), tail)
        if dysample:
            groups = channels if scale % 2 else 4
            self.to_img: nn.Module = DySample(channels * scale * scale, channels, scale, groups)
        else:
            self.to_img = nn.PixelShuffle(scale)

    def pixel_shuffle_convs(self) -> list[tuple[nn.Conv2d, int]]:
        """The convolutions whose output goes to a pixel shuffle, with its factor
        (for ICNR): the tail, unless DySample upsamples. DySample samples all of
        the tail's channels bilinearly at learned positions, so no channel
        belongs to one sub-pixel and there is nothing for ICNR to tie."""
        if isinstance(self.to_img, nn.PixelShuffle):
            return [(self.feats[-1], self.scale)]
        return []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The input repeated scale**2 times per channel: a nearest upsampling after the shuffle.
        return self.to_img(self.feats(x) + torch.repeat_interleave(x, self.scale * self.scale, dim=1))
