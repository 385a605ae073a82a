"""Detect Real-ESRGAN Compact (SRVGGNetCompact) weights: keys ``body.N``, with
convolutions at even N and PReLU weights at odd N."""
from __future__ import annotations

import math
import re
from typing import Optional

import torch



def detect(sd: dict[str, torch.Tensor]) -> Optional[tuple[dict, dict[str, torch.Tensor]]]:
    """(config, state dict) if ``sd`` is a Compact model, else None."""
    if "body.0.weight" not in sd or sd["body.0.weight"].ndim != 4:
        return None
    if any(not re.match(r"body\.\d+\.(weight|bias)$", k) for k in sd):
        return None
    convs = sorted(int(k.split(".")[1]) for k, v in sd.items() if k.endswith(".weight") and v.ndim == 4)
    if convs != list(range(0, 2 * len(convs), 2)) or len(convs) < 2:
        return None
    if "body.1.weight" not in sd:  # PReLU is the activation Compact uses
        return None
    first, last = sd["body.0.weight"], sd[f"body.{convs[-1]}.weight"]
    num_feat, in_channels = first.shape[0], first.shape[1]
    # The last convolution has out_channels * scale^2 filters; output channels
    # equal input channels in every published Compact model, RGB otherwise.
    for out_channels in dict.fromkeys((in_channels, 3, 1, 4)):
        scale = math.isqrt(last.shape[0] // out_channels)
        if scale * scale * out_channels == last.shape[0] and 1 <= scale <= 4:
            break
    else:
        return None
    config = dict(
        in_channels=int(in_channels),
        out_channels=int(out_channels),
        num_feat=int(num_feat),
        num_conv=len(convs) - 2,
        scale=int(scale),
    )
    return config, dict(sd)
