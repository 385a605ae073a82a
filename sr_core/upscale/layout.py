"""Image tensor layouts: BCHW (PyTorch) and BHWC (ComfyUI IMAGE)."""
from __future__ import annotations

from typing import Tuple

import torch

LAYOUTS = ("auto", "bchw", "bhwc")
_CHANNELS = (1, 2, 3, 4)


def detect_layout(image: torch.Tensor, layout: str = "auto") -> str:
    """``"bchw"`` or ``"bhwc"`` for a 4D (or 3D, unbatched) image tensor.

    ``auto`` decides by where the channel axis (1 to 4 entries) is: dim 1 for
    BCHW, the last dim for BHWC. When both or neither look like channels (an
    image 4 pixels tall or less) it asks for ``layout=``.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    if image.dim() not in (3, 4):
        raise ValueError(
            f"expected an image tensor of shape (B, C, H, W) or (B, H, W, C) (or without B), got {tuple(image.shape)}"
        )
    shape = image.shape if image.dim() == 4 else (1,) + tuple(image.shape)
    if layout != "auto":
        c = shape[1] if layout == "bchw" else shape[3]
        if c not in _CHANNELS:
            raise ValueError(f"a {layout.upper()} tensor of shape {tuple(image.shape)} has {c} channels; expected 1 to 4")
        return layout
    first, last = shape[1] in _CHANNELS, shape[3] in _CHANNELS
    if first and not last:
        return "bchw"
    if last and not first:
        return "bhwc"
    if first and last:
        raise ValueError(
            f"cannot tell whether an image of shape {tuple(image.shape)} is BCHW or BHWC; pass layout='bchw' or 'bhwc'"
        )
    raise ValueError(f"image of shape {tuple(image.shape)} has no axis of 1 to 4 channels (gray, gray+alpha, RGB, RGBA)")


def as_bchw(image: torch.Tensor, layout: str) -> Tuple[torch.Tensor, bool]:
    """A BCHW view of ``image`` (no copy) and whether a batch axis was added."""
    added = image.dim() == 3
    x = image.unsqueeze(0) if added else image
    return (x.permute(0, 3, 1, 2) if layout == "bhwc" else x), added


def empty_like_layout(
    layout: str, batch: int, channels: int, height: int, width: int, dtype: torch.dtype, device: torch.device
) -> Tuple[torch.Tensor, torch.Tensor]:
    """(tensor in ``layout``, its BCHW view) for the output."""
    if layout == "bhwc":
        out = torch.empty(batch, height, width, channels, dtype=dtype, device=device)
        return out, out.permute(0, 3, 1, 2)
    out = torch.empty(batch, channels, height, width, dtype=dtype, device=device)
    return out, out
