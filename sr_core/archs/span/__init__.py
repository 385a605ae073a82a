"""SPAN (NTIRE 2024 efficient super-resolution winner)."""
from typing import Optional

from torch import nn

from ..registry import Architecture, register
from .detect import detect
from .model import NUM_BLOCKS, SPAN


def is_span(module: nn.Module) -> bool:
    """GenSR's SPAN, or another implementation of the same network (spandrel's,
    which ComfyUI's core loader builds)."""
    if isinstance(module, SPAN):
        return True
    return type(module).__name__ == "SPAN" and all(
        hasattr(module, name) for name in ("conv_1", "conv_2", "conv_cat", "upsampler", f"block_{NUM_BLOCKS}")
    )


def exact_context(module: nn.Module) -> Optional[int]:
    """One pixel per 3x3 convolution on the longest path: ``conv_1``, three per
    block, ``conv_2`` and the upsampler's convolution (the attention and the
    activations are per pixel)."""
    return 1 + 3 * NUM_BLOCKS + 1 + 1


ARCH = register(Architecture(
    id=SPAN.arch,
    name="SPAN",
    model=SPAN,
    detect=detect,
    exact_context=exact_context,
    claims=is_span,
))

__all__ = ["ARCH", "SPAN"]
