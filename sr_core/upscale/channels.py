"""Matching an image's channels (gray, gray+alpha, RGB, RGBA) to a model's.

* Colour goes through the model; alpha is interpolated separately and
  re-attached, unless the model itself takes and returns 4 channels.
* Gray through an RGB model is replicated and the result turned back into
  gray (BT.601 luma); RGB through a gray model runs each channel as its own
  plane; an RGB image through an RGBA model gets an opaque alpha.
The output always has the image's channel count.
"""
from __future__ import annotations

from typing import Optional

import torch

from .adapter import ModelSpec

_LUMA = (0.299, 0.587, 0.114)
IMAGE_CHANNELS = (1, 2, 3, 4)


def luma(rgb: torch.Tensor, dim: int) -> torch.Tensor:
    w = torch.tensor(_LUMA, dtype=rgb.dtype, device=rgb.device)
    shape = [1] * rgb.dim()
    shape[dim] = 3
    return (rgb * w.view(shape)).sum(dim, keepdim=True)


class ChannelPlan:
    """How one image's channels go through one model."""

    def __init__(self, image_channels: int, spec: ModelSpec) -> None:
        if image_channels not in IMAGE_CHANNELS:
            raise ValueError(
                f"images must have 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels, not {image_channels}"
            )
        if spec.in_channels not in (1, 3, 4) or spec.out_channels not in (1, 3, 4):
            raise ValueError(
                f"models with {spec.in_channels} input / {spec.out_channels} output channels are not supported "
                "(1, 3 or 4 are)"
            )
        self.image_channels = image_channels
        self.spec = spec
        self.colour = 3 if image_channels >= 3 else 1
        self.has_alpha = image_channels in (2, 4)
        #: the model produces the alpha channel itself
        self.model_alpha = self.has_alpha and spec.in_channels == 4 and spec.out_channels == 4
        #: planes per frame (3 when an RGB image runs through a 1-channel model)
        self.planes = 3 if spec.in_channels == 1 and self.colour == 3 else 1

    def model_input(self, frame: torch.Tensor) -> torch.Tensor:
        """(C, H, W) image frame -> (planes, model in channels, H, W)."""
        colour = frame[: self.colour]
        alpha = frame[self.colour:] if self.has_alpha else None
        cin = self.spec.in_channels
        if cin == 1:
            return colour.unsqueeze(1)  # one plane per colour channel
        rgb = colour.expand(3, -1, -1) if self.colour == 1 else colour
        if cin == 3:
            return rgb.unsqueeze(0)
        a = alpha if alpha is not None else torch.ones_like(rgb[:1])
        return torch.cat((rgb, a), 0).unsqueeze(0)

    @property
    def output_channels(self) -> int:
        """Channels ``model_output`` returns (colour, plus alpha when the model makes it)."""
        return self.colour + (1 if self.model_alpha else 0)

    def model_output(self, y: torch.Tensor) -> torch.Tensor:
        """(planes, model out channels, h, w) -> (output_channels, h, w)."""
        if self.planes == 3:
            y = y[:, :1] if y.shape[1] == 1 else luma(y[:, :3], 1)
            return y[:, 0]
        y = y[0]
        cout = y.shape[0]
        rgb_like = y[:3] if cout >= 3 else y[:1]
        if self.colour == 1:
            colour = luma(rgb_like, 0) if rgb_like.shape[0] == 3 else rgb_like
        else:
            colour = rgb_like.expand(3, -1, -1) if rgb_like.shape[0] == 1 else rgb_like
        if self.model_alpha:
            return torch.cat((colour, y[3:4]), 0)
        return colour

    def interpolated_alpha(self, frame: torch.Tensor) -> Optional[torch.Tensor]:
        """The (1, H, W) alpha to interpolate, or None (no alpha, or the model makes it)."""
        if not self.has_alpha or self.model_alpha:
            return None
        return frame[self.colour: self.colour + 1]
