"""Detect RealPLKSR weights (spandrel's key layout): ``feats.0`` head,
``feats.1..N`` PLK blocks with ``channel_mixer`` (spelled right: the original
PLKSR's ``channe_mixer`` is another architecture), ``lk.conv`` and ``refine``,
``feats.N+2`` tail; ``layer_norm`` in the blocks and ``to_img.init_pos``
(DySample) mark the variants, ``attn.f.0`` the element-wise attention."""
from __future__ import annotations

import math
import re
from typing import Optional

import torch

MARKERS = ("feats.0.weight", "feats.1.lk.conv.weight", "feats.1.refine.weight", "feats.1.channel_mixer.0.weight")


def detect(sd: dict[str, torch.Tensor]) -> Optional[tuple[dict, dict[str, torch.Tensor]]]:
    """(config, state dict) if ``sd`` is a RealPLKSR, else None."""
    if not all(k in sd for k in MARKERS):
        return None
    blocks = sorted({int(m[1]) for k in sd if (m := re.match(r"feats\.(\d+)\.refine\.weight$", k))})
    num_block = len(blocks)
    if blocks != list(range(1, num_block + 1)):
        return None
    head = sd["feats.0.weight"]
    num_feat, channels = int(head.shape[0]), int(head.shape[1])
    tail = sd[f"feats.{num_block + 2}.weight"]
    scale = math.isqrt(tail.shape[0] // channels)
    if scale * scale * channels != tail.shape[0]:
        return None
    large = sd["feats.1.lk.conv.weight"]
    config = dict(
        channels=channels,
        num_feat=num_feat,
        num_block=num_block,
        scale=scale,
        kernel_size=int(large.shape[2]),
        split_ratio=large.shape[0] / num_feat,
        use_ea="feats.1.attn.f.0.weight" in sd,
        norm_groups=4,  # not recorded in files; every known model uses 4
        dysample="to_img.init_pos" in sd,
        layer_norm="feats.1.layer_norm.weight" in sd,
    )
    return config, dict(sd)
