"""Exact context of Compact-style models: one pixel per 3x3 convolution."""
from __future__ import annotations

from typing import Optional

from torch import nn


def is_compact(module: nn.Module) -> bool:
    """GenSR's Compact, or another implementation of it (spandrel's, which
    ComfyUI's core loader builds): a ``body`` of convolutions and activations."""
    name = type(module).__name__
    body = getattr(module, "body", None)
    return (name == "SRVGGNetCompact" or getattr(module, "arch", None) == "compact") and isinstance(body, nn.Sequential)


def conv_stack_context(module: nn.Module) -> Optional[int]:
    """Exact context of a Compact-style model: a ``body`` of stride-1
    convolutions and pointwise activations, upsampled pixel-wise at the end."""
    if not is_compact(module):
        return None
    body = module.body
    radius = 0
    for layer in body:
        if isinstance(layer, nn.Conv2d):
            if layer.stride != (1, 1) or layer.groups != 1 and layer.groups != layer.in_channels:
                return None
            kh, kw = layer.kernel_size
            radius += max((kh - 1) // 2 * layer.dilation[0], (kw - 1) // 2 * layer.dilation[1])
        elif any(p.dim() > 1 for p in layer.parameters()):
            return None  # something that mixes pixels and that we do not know
    return radius


