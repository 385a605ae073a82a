"""What ``GenSRUpscale`` does: run GenSR's tiled engine on each frame of an
IMAGE batch inside ComfyUI's model management, with a per-tile progress bar,
a preview of each finished frame and Cancel checked at every tile."""
from __future__ import annotations

from typing import Any, Optional, Union

import torch

from . import comfy_bridge
from .spec import NodeResult

PRECISIONS = ("auto", "fp32", "fp16", "bf16")


def _check_image(image: Any) -> torch.Tensor:
    if not isinstance(image, torch.Tensor) or image.ndim != 4:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"image must be an IMAGE batch (B, H, W, C); got {shape}")
    if image.shape[-1] not in (1, 3, 4):
        raise ValueError(f"image must have 1, 3 or 4 channels (last dimension); got {image.shape[-1]}")
    if image.shape[0] == 0 or image.shape[1] == 0 or image.shape[2] == 0:
        raise ValueError(f"image is empty: shape {tuple(image.shape)}")
    if not image.is_floating_point():
        raise ValueError(f"image must hold floats in 0..1, got dtype {image.dtype}")
    return image


def _model_scale(upscale_model: Any) -> float:
    scale = getattr(upscale_model, "scale", None)
    if scale is None:
        raise TypeError(
            f"upscale_model must be an UPSCALE_MODEL (from GenSR Load Model or ComfyUI's Load Upscale Model), "
            f"got {type(upscale_model).__name__}"
        )
    return float(scale)


def output_size(height: int, width: int, model_scale: float, outscale: float, target_long_side: int) -> tuple[int, int]:
    """(H, W) of the result: ``target_long_side`` wins when > 0, else ``outscale``
    (0 = the model's scale)."""
    if target_long_side > 0:
        factor = target_long_side / max(height, width)
    else:
        factor = outscale if outscale > 0 else model_scale
    return max(1, round(height * factor)), max(1, round(width * factor))


def memory_estimate(upscale_model: Any, frame: torch.Tensor, out_hw: tuple[int, int], tile: int) -> int:
    """Bytes to ask ComfyUI to free: the frame in and out plus the working
    memory of one tile (activations of the model's widest layer, a few times over)."""
    module = getattr(upscale_model, "model", upscale_model)
    convs = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    width = max((m.out_channels for m in convs), default=64)
    h, w = frame.shape[1:3]
    side = tile if tile > 0 else min(max(h, w), 512)
    scale = max(float(getattr(upscale_model, "scale", 1)), 1.0)
    tile_px = side * side
    working = tile_px * width * 4 * 8 + tile_px * scale * scale * 4 * 8  # fp32 features + upscaled maps, generous
    frames = (frame.numel() + out_hw[0] * out_hw[1] * frame.shape[-1]) * 4
    return int(working + frames)


def run_upscale(
    upscale_model: Any,
    image: torch.Tensor,
    outscale: float = 0.0,
    target_long_side: int = 0,
    tile: int = 0,
    overlap: int = -1,
    precision: str = "auto",
) -> NodeResult:
    """Upscale every frame of ``image`` and return the batch on ComfyUI's intermediate device."""
    from ..sr_core.upscale import upscale

    image = _check_image(image)
    model_scale = _model_scale(upscale_model)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if outscale < 0 or target_long_side < 0 or tile < 0 or overlap < -1:
        raise ValueError("outscale, target_long_side and tile must be >= 0 and overlap >= -1 (-1 = auto)")
    batch, height, width = image.shape[:3]
    out_h, out_w = output_size(height, width, model_scale, outscale, target_long_side)

    device, release = comfy_bridge.prepare_model(upscale_model, memory_estimate(upscale_model, image[:1], (out_h, out_w), tile))
    out_device, out_dtype = comfy_bridge.intermediate_device(), comfy_bridge.intermediate_dtype()
    progress = comfy_bridge.Progress(batch)
    result: Optional[torch.Tensor] = None
    tile_arg: Union[str, int] = tile if tile > 0 else "auto"
    overlap_arg: Union[str, int] = overlap if overlap >= 0 else "auto"
    try:
        for i in range(batch):
            def on_tile(done: int, total: int, i: int = i) -> None:
                progress.update(i * total + done, batch * total)

            frame = upscale(
                upscale_model,
                image[i : i + 1],
                tile=tile_arg,
                overlap=overlap_arg,
                precision=precision,
                device=device,
                outscale=outscale if outscale > 0 and target_long_side <= 0 else None,
                target=target_long_side if target_long_side > 0 else None,
                out_dtype=torch.float32,
                progress=on_tile,
            )
            if result is None:
                result = torch.empty((batch, *frame.shape[1:]), dtype=out_dtype, device=out_device)
            result[i] = frame[0].clamp(0, 1).to(out_device, out_dtype)
            done = progress.total * (i + 1) // batch
            progress.update(done, None, frame)
    finally:
        release()
    return NodeResult((result,))
