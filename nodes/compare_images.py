"""GenSR Compare Images: PSNR / SSIM of two IMAGE batches, a difference
heat-map, a side-by-side view, and the pair and the numbers for the UI."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import comfy_bridge
from .comfy_io import CATEGORY, io, schema

if TYPE_CHECKING:
    import torch


class GenSRCompare(io.ComfyNode):
    """Compares two IMAGE batches."""

    @classmethod
    def define_schema(cls):
        return schema(
            node_id="GenSRCompare",
            display_name="GenSR Compare Images",
            category=CATEGORY,
            description=(
                "PSNR and SSIM between two images (or batches), a difference heat-map and a side-by-side view; "
                "shows the pair for compare-slider widgets and the numbers on the node. image_b is resized to "
                "image_a's size when they differ (noted in the text)."
            ),
            search_aliases=("psnr", "ssim", "difference", "image compare"),
            is_output_node=True,  # runs (and shows its numbers) even with nothing connected
            inputs=[
                io.Image.Input("image_a", tooltip="Reference images (e.g. the ground truth or one upscaler's result)."),
                io.Image.Input("image_b", tooltip="Images compared with image_a; resized to image_a's size when it differs."),
            ],
            outputs=[
                io.Float.Output("psnr", tooltip="Peak signal-to-noise ratio in dB on RGB (higher = closer; inf when identical)."),
                io.Float.Output(
                    "ssim", tooltip="Structural similarity on RGB, mean over the batch (1 = identical; NaN below 11x11 pixels)."
                ),
                io.Image.Output("heatmap", tooltip="Per-pixel absolute difference: black = none, white = 0.25 or more."),
                io.Image.Output("side_by_side", tooltip="image_a and image_b next to each other."),
                # V3 ids must differ from input ids; the socket is still named "image_a".
                io.Image.Output("image_a_out", display_name="image_a", tooltip="image_a, passed through unchanged."),
            ],
        )

    @classmethod
    def execute(cls, image_a: "torch.Tensor", image_b: "torch.Tensor"):
        """The UI gets ``a_images`` and ``b_images`` (compare-slider convention),
        ``images`` (the pair, for the plain preview) and ``text`` (the numbers)."""
        result = compare(image_a, image_b)
        device, dtype = comfy_bridge.intermediate_device(), comfy_bridge.intermediate_dtype()
        heat = result.heatmap.to(device, dtype)
        side = result.side_by_side.to(device, dtype)
        ui: dict = {"text": [result.summary()]}
        write = comfy_bridge.temp_image_writer()
        if write is not None:
            a_records = write(image_a, "gensr_compare_a")
            b_records = write(result.image_b, "gensr_compare_b")
            ui.update(a_images=a_records, b_images=b_records, images=a_records + b_records)
        return io.NodeOutput(float(result.psnr), float(result.ssim), heat, side, image_a, ui=ui)


#: Mean absolute difference (0..1) that the heat-map shows at full intensity.
HEATMAP_FULL_SCALE = 0.25

#: Heat-map colours from no difference to ``HEATMAP_FULL_SCALE`` (black, purple, red, orange, yellow, white).
_RAMP = ((0.0, 0.0, 0.0), (0.35, 0.05, 0.55), (0.85, 0.15, 0.25), (1.0, 0.55, 0.0), (1.0, 0.9, 0.1), (1.0, 1.0, 1.0))


@dataclass
class Comparison:
    psnr: float
    ssim: float
    heatmap: torch.Tensor
    side_by_side: torch.Tensor
    image_b: torch.Tensor  # b as compared: resized to a and with a's batch size
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the node: the numbers, then any notes."""
        ssim = "n/a" if math.isnan(self.ssim) else f"{self.ssim:.4f}"
        psnr = "inf (identical)" if math.isinf(self.psnr) else f"{self.psnr:.2f} dB"
        text = f"PSNR {psnr} | SSIM {ssim}"
        return text + "".join(f"\n{n}" for n in self.notes)


def _rgb(x: torch.Tensor) -> torch.Tensor:
    """BHWC with 1..4 channels -> 3 channels (grey expanded, alpha dropped)."""
    if x.shape[-1] == 1:
        return x.expand(*x.shape[:-1], 3)
    return x[..., :3]


def _match_batches(a: torch.Tensor, b: torch.Tensor, notes: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    if a.shape[0] == b.shape[0]:
        return a, b
    if b.shape[0] == 1:
        notes.append(f"image_b (1 image) compared with each of the {a.shape[0]} images of image_a")
        return a, b.expand(a.shape[0], *b.shape[1:])
    if a.shape[0] == 1:
        notes.append(f"image_a (1 image) compared with each of the {b.shape[0]} images of image_b")
        return a.expand(b.shape[0], *a.shape[1:]), b
    raise ValueError(
        f"image_a has {a.shape[0]} images and image_b has {b.shape[0]}: give batches of the same size "
        "(or a single image on one side)"
    )


def resize_to(b: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize a BHWC batch to ``height`` x ``width`` (bicubic, antialiased, clamped)."""
    import torch.nn.functional as F

    x = b.movedim(-1, 1)
    x = F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False, antialias=True)
    return x.clamp(0, 1).movedim(1, -1)


def heatmap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """BHWC RGB heat-map of the mean absolute difference per pixel, on a fixed
    scale (``HEATMAP_FULL_SCALE`` and above shows as white) so maps compare across runs."""
    import torch

    d = ((a - b).abs().mean(-1) / HEATMAP_FULL_SCALE).clamp(0, 1)
    pos = d * (len(_RAMP) - 1)
    lo = pos.floor().long().clamp(max=len(_RAMP) - 2)
    t = (pos - lo).unsqueeze(-1)
    ramp = torch.tensor(_RAMP, device=a.device)
    return ramp[lo] * (1 - t) + ramp[lo + 1] * t


def compare(a: torch.Tensor, b: torch.Tensor) -> Comparison:
    """Compare BHWC batches ``a`` and ``b`` (0..1). ``b`` is resized to ``a``'s
    size when they differ, with a note saying so. PSNR / SSIM are on RGB, the
    mean over the batch (PSNR from the mean squared error of all frames)."""
    import torch

    from ..sr_core.metrics import psnr, ssim

    for name, x in (("image_a", a), ("image_b", b)):
        if x.ndim != 4 or x.shape[-1] not in (1, 3, 4) or x.shape[1] == 0 or x.shape[2] == 0:
            raise ValueError(f"{name} must be an IMAGE batch (B, H, W, C) with 1, 3 or 4 channels; got shape {tuple(x.shape)}")
    notes: list[str] = []
    a = _rgb(a.detach().float())
    b = _rgb(b.detach().float().to(a.device))
    a, b = _match_batches(a, b, notes)
    h, w = a.shape[1:3]
    if b.shape[1:3] != a.shape[1:3]:
        notes.append(f"image_b resized from {b.shape[2]}x{b.shape[1]} to {w}x{h} (image_a's size) before comparing")
        b = resize_to(b, h, w)
    a = a.clamp(0, 1)
    b = b.clamp(0, 1)
    a_bchw, b_bchw = a.movedim(-1, 1), b.movedim(-1, 1)
    psnr_value = psnr(a_bchw, b_bchw, max_val=1.0)
    if min(h, w) >= 11:
        ssim_value = ssim(a_bchw, b_bchw)
    else:
        ssim_value = float("nan")
        notes.append(f"SSIM needs images of at least 11x11 pixels; these are {w}x{h}")
    side = torch.cat((a, b), dim=2)
    return Comparison(psnr_value, ssim_value, heatmap(a, b), side, b.contiguous(), notes)
