"""SPAN: Swift Parameter-free Attention Network (Wan et al., NTIRE 2024
efficient super-resolution winner), in the key layout spandrel and
traiNNer-redux use.

Every 3x3 convolution is a re-parameterisable :class:`RepConv3`: in training
mode it runs its branches (1x1 -> 3x3 -> 1x1 expansion plus a 1x1 skip), in
eval mode one fused 3x3 convolution, ``eval_conv``, computed from them. Files
hold both; the fused one is always recomputed from the branches (on loading,
on switching to eval and before ``state_dict()``), as spandrel does, so
exported weights give the same output there.

State-dict keys: ``conv_1``, ``block_1`` .. ``block_6`` (each ``c1_r``,
``c2_r``, ``c3_r``), ``conv_2`` (all :class:`RepConv3`: ``sk``,
``conv.0/1/2``, ``eval_conv``), ``conv_cat``, ``upsampler.0``, and a
``no_norm`` marker when the input is not mean-shifted.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: SPAN always has six attention blocks (spandrel and the paper).
NUM_BLOCKS = 6
#: Expansion of the hidden branch of every :class:`RepConv3`.
GAIN = 2
#: Input normalisation of the published models (not stored in files).
RGB_MEAN = (0.4488, 0.4371, 0.4040)
IMG_RANGE = 255.0


class FusedConv(nn.Module):
    """The fused 3x3 convolution of a :class:`RepConv3`: derived weights,
    held as buffers (saved, loaded and moved with the model, never trained)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.register_buffer("weight", torch.zeros(c_out, c_in, 3, 3))
        self.register_buffer("bias", torch.zeros(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias, padding=1)


class RepConv3(nn.Module):
    """A 3x3 convolution trained as ``conv1x1 -> conv3x3 -> conv1x1`` (hidden
    width ``GAIN`` times the input / output) plus a 1x1 skip, and run as the
    single 3x3 convolution they add up to (SPAN's ``Conv3XC``).

    The branch input is zero-padded before the first 1x1 convolution, so the
    padded border carries that convolution's bias, exactly as the fused
    convolution's bias assumes: training and eval outputs are equal up to
    rounding, borders included.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.sk = nn.Conv2d(c_in, c_out, 1)
        self.conv = nn.Sequential(
            nn.Conv2d(c_in, c_in * GAIN, 1),
            nn.Conv2d(c_in * GAIN, c_out * GAIN, 3),
            nn.Conv2d(c_out * GAIN, c_out, 1),
        )
        self.eval_conv = FusedConv(c_in, c_out)
        self.register_load_state_dict_post_hook(_fuse_after_loading)
        self.fuse()

    @torch.no_grad()
    def fused(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(weight, bias) of the 3x3 convolution equal to the branches, in float32 at least."""
        dtype = torch.promote_types(self.sk.weight.dtype, torch.float32)
        first, mid, last = (c.weight.to(dtype) for c in self.conv)
        b_first, b_mid, b_last = (c.bias.to(dtype) for c in self.conv)
        w_first, w_last = first[:, :, 0, 0], last[:, :, 0, 0]  # (hidden_in, c_in), (c_out, hidden_out)
        weight = torch.einsum("on,nmyx,mi->oiyx", w_last, mid, w_first)
        bias = w_last @ (b_mid + torch.einsum("nmyx,m->n", mid, b_first)) + b_last
        weight[:, :, 1, 1] += self.sk.weight[:, :, 0, 0].to(dtype)
        return weight, bias + self.sk.bias.to(dtype)

    @torch.no_grad()
    def fuse(self) -> None:
        """Recompute ``eval_conv`` from the branches. New tensors are assigned
        rather than written in place, so this also works on inference tensors."""
        weight, bias = self.fused()
        old = self.eval_conv.weight
        self.eval_conv.weight = weight.to(old.device, old.dtype).contiguous()
        self.eval_conv.bias = bias.to(old.device, old.dtype)

    def train(self, mode: bool = True) -> "RepConv3":
        super().train(mode)
        if not mode:
            self.fuse()
        return self

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:
        self.fuse()  # exported weights always carry the fused convolution of their branches
        return super().state_dict(*args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return self.conv(F.pad(x, (1, 1, 1, 1))) + self.sk(x)
        return self.eval_conv(x)


def _fuse_after_loading(module: RepConv3, incompatible_keys: object) -> None:
    """Loaded weights: the fused convolution follows the loaded branches, as in
    spandrel (a module-level function, so that models stay picklable)."""
    module.fuse()


class AttentionBlock(nn.Module):
    """SPAN's parameter-free attention block (SPAB): three re-parameterised
    convolutions with SiLU between them; the third one's output, centred by
    ``sigmoid - 0.5``, weighs itself plus the block input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.c1_r = RepConv3(channels, channels)
        self.c2_r = RepConv3(channels, channels)
        self.c3_r = RepConv3(channels, channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(block output, activated output of the first convolution)."""
        first = F.silu(self.c1_r(x))
        third = self.c3_r(F.silu(self.c2_r(first)))
        return (third + x) * (torch.sigmoid(third) - 0.5), first


class SPAN(nn.Module):
    """SPAN.

    Args:
        in_channels / out_channels: image channels (out defaults to in).
        num_feat: width of every convolution (48 in the published models).
        scale: upscaling factor (pixel-shuffle upsampler).
        norm: subtract the RGB mean and multiply by 255 before the network
            (the published models do; ``False`` is stored as a ``no_norm`` buffer).
            Needs 3 input channels.
    """

    arch = "span"

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        num_feat: int = 48,
        scale: int = 4,
        norm: bool = True,
    ) -> None:
        super().__init__()
        if scale < 1:
            raise ValueError(f"SPAN needs a scale of 1 or more, not {scale}")
        if norm and in_channels != 3:
            raise ValueError(f"SPAN's input normalisation is for RGB; build a {in_channels}-channel SPAN with norm=False")
        self.in_channels, self.out_channels, self.scale = in_channels, out_channels, scale
        self.size_multiple = 1
        self.config = dict(in_channels=in_channels, out_channels=out_channels, num_feat=num_feat, scale=scale, norm=norm)
        self.norm = norm
        self.register_buffer("rgb_mean", torch.tensor(RGB_MEAN).view(1, 3, 1, 1), persistent=False)
        if not norm:
            self.register_buffer("no_norm", torch.zeros(1))
        self.conv_1 = RepConv3(in_channels, num_feat)
        for i in range(1, NUM_BLOCKS + 1):
            self.add_module(f"block_{i}", AttentionBlock(num_feat))
        self.conv_cat = nn.Conv2d(num_feat * 4, num_feat, 1)
        self.conv_2 = RepConv3(num_feat, num_feat)
        self.upsampler = nn.Sequential(nn.Conv2d(num_feat, out_channels * scale * scale, 3, padding=1), nn.PixelShuffle(scale))

    def pixel_shuffle_convs(self) -> list[tuple[nn.Conv2d, int]]:
        """The convolutions whose output goes to a pixel shuffle, with its factor (for ICNR)."""
        return [(self.upsampler[0], self.scale)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm:
            x = (x - self.rgb_mean.to(x.dtype)) * IMG_RANGE
        head = self.conv_1(x)
        feat = head
        for i in range(1, NUM_BLOCKS + 1):
            feat, first = getattr(self, f"block_{i}")(feat)
            if i == 1:
                after_first = feat
        # ``first`` is now the last block's activated first convolution.
        tail = self.conv_2(feat)
        return self.upsampler(self.conv_cat(torch.cat((head, tail, after_first, first), 1)))
