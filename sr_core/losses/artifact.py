"""The LDL artefact loss (Liang et al. 2022, "Details or Artifacts: A Locally
Discriminative Learning Approach to Realistic Image Super-Resolution").

GAN training makes both real detail and artefacts; artefacts are where the
error is large, locally irregular, and larger than the error of the EMA
(slowly moving, more stable) generator. The artefact map weights each pixel by

    var(residual over the patch) ** (1/5) * var(residual in a k x k window)

with residual = |gt - out| summed over channels, and is 0 where the output is
already closer to the ground truth than the EMA output. The loss is the L1
distance between map * output and map * ground truth; the map itself is a
weighting and carries no gradient.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

LDL_WINDOW = 7  # the paper's local window


def local_variance(x: torch.Tensor, ksize: int = LDL_WINDOW) -> torch.Tensor:
    """Unbiased variance of each ``ksize`` x ``ksize`` window of (B, 1, H, W)
    ``x`` (reflect padding), centred on every pixel."""
    pad = ksize // 2
    windows = F.pad(x, (pad, pad, pad, pad), mode="reflect").unfold(2, ksize, 1).unfold(3, ksize, 1)
    return windows.flatten(-2).var(-1, unbiased=True)


@torch.no_grad()
def artifact_map(out: torch.Tensor, gt: torch.Tensor, ema_out: torch.Tensor, ksize: int = LDL_WINDOW) -> torch.Tensor:
    """LDL's (B, 1, H, W) artefact weight of BCHW ``out`` against ``gt``,
    given the EMA generator's output ``ema_out`` for the same input."""
    residual = (gt - out).abs().sum(1, keepdim=True)
    residual_ema = (gt - ema_out).abs().sum(1, keepdim=True)
    patch = residual.flatten(1).var(1, unbiased=True).pow(0.2).view(-1, 1, 1, 1)
    weight = patch * local_variance(residual, ksize)
    return weight.masked_fill(residual < residual_ema, 0.0)


def ldl_loss(out: torch.Tensor, gt: torch.Tensor, ema_out: torch.Tensor, ksize: int = LDL_WINDOW) -> torch.Tensor:
    """Mean |map * out - map * gt| over all elements (see ``artifact_map``)."""
    weight = artifact_map(out.detach(), gt, ema_out, ksize)
    return (weight * (out - gt)).abs().mean()
