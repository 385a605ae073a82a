"""Detect SPAN weights (spandrel's key layout, the only one SPAN files use):
``conv_1``, ``block_1`` .. ``block_6`` of ``c1_r``/``c2_r``/``c3_r``, ``conv_2``
(re-parameterisable convolutions: ``sk``, ``conv.N``, ``eval_conv``),
``conv_cat``, ``upsampler.0``; a ``no_norm`` tensor marks a model without the
RGB mean shift."""
from __future__ import annotations

import math
import re
from typing import Optional

import torch

from .model import NUM_BLOCKS

MARKERS = (
    "conv_1.sk.weight",
    "block_1.c1_r.sk.weight",
    "block_1.c1_r.eval_conv.weight",
    "block_1.c3_r.eval_conv.weight",
    "conv_cat.weight",
    "conv_2.sk.weight",
    "conv_2.eval_conv.weight",
    "upsampler.0.weight",
)


def scale_and_channels(filters: int, in_channels: int) -> Optional[tuple[int, int]]:
    """(scale, out_channels) with ``scale**2 * out_channels == filters``,
    preferring as many output as input channels, then RGB, RGBA, grey."""
    for channels in dict.fromkeys((in_channels, 3, 4, 1)):
        if filters % channels == 0:
            scale = math.isqrt(filters // channels)
            if scale * scale * channels == filters:
                return scale, channels
    return None


def detect(sd: dict[str, torch.Tensor]) -> Optional[tuple[dict, dict[str, torch.Tensor]]]:
    """(config, state dict) if ``sd`` is a SPAN, else None."""
    if not all(k in sd for k in MARKERS):
        return None
    blocks = {int(m[1]) for k in sd if (m := re.match(r"block_(\d+)\.", k))}
    if blocks != set(range(1, NUM_BLOCKS + 1)):
        return None  # another block count: not the SPAN spandrel and GenSR know
    num_feat, in_channels = sd["conv_1.sk.weight"].shape[:2]
    found = scale_and_channels(sd["upsampler.0.weight"].shape[0], int(in_channels))
    if found is None:
        return None
    scale, out_channels = found
    config = dict(
        in_channels=int(in_channels),
        out_channels=out_channels,
        num_feat=int(num_feat),
        scale=scale,
        norm="no_norm" not in sd,
    )
    return config, dict(sd)
