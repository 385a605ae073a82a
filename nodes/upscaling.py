"""What ``GenSRUpscale`` does: run GenSR's tiled engine on each frame of an
IMAGE batch inside ComfyUI's model management, with a per-tile progress bar,
a preview of each finished frame and Cancel checked after every tile."""
from __future__ import annotations

from typing import Any, Union

import torch

from . import comfy_bridge
from .spec import NodeResult

PRECISIONS = ("auto", "fp32", "fp16", "bf16")

#: Side of the tile whose working memory is asked of ComfyUI when ``tile`` is
#: auto; the engine then sizes its tiles to the memory actually free.
REQUEST_TILE = 256


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


def _check_model(upscale_model: Any):
    from ..sr_core.upscale import model_spec

    if not hasattr(upscale_model, "scale") or not hasattr(upscale_model, "model"):
        raise TypeError(
            "upscale_model must be an UPSCALE_MODEL (from GenSR Load Model or ComfyUI's Load Upscale Model), "
            f"got {type(upscale_model).__name__}"
        )
    return model_spec(upscale_model)


def memory_required(spec: Any, image: torch.Tensor, out_hw: tuple[int, int], tile: int) -> int:
    """Bytes to ask ComfyUI to free: one tile's working memory (measured by the
    engine for this model) plus one frame in and out, in float32."""
    from ..sr_core.upscale.memory import bytes_per_pixel

    module = spec.module
    device = next(module.parameters()).device

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return spec.forward(module, x.to(device, next(module.parameters()).dtype))

    per_px = bytes_per_pixel(spec, module, run, torch.float32)
    h, w, c = image.shape[1:]
    side = tile if tile > 0 else REQUEST_TILE
    tile_px = min(h, side) * min(w, side)
    return int(per_px * tile_px + (h * w + out_hw[0] * out_hw[1]) * c * 4)


def run_upscale(
    upscale_model: Any,
    image: torch.Tensor,
    outscale: float = 0.0,
    target_long_side: int = 0,
    tile: int = 0,
    overlap: int = -1,
    precision: str = "auto",
) -> NodeResult:
    """Upscale every frame of ``image``; the batch is returned on ComfyUI's
    intermediate device. ``target_long_side`` (> 0) wins over ``outscale``
    (> 0), which wins over the model's own scale."""
    from ..sr_core.upscale import upscale
    from ..sr_core.upscale.sizes import output_size

    image = _check_image(image)
    spec = _check_model(upscale_model)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if outscale < 0 or target_long_side < 0 or tile < 0 or overlap < -1:
        raise ValueError("outscale, target_long_side and tile must be >= 0 and overlap >= -1 (-1 = auto)")
    size = dict(target=int(target_long_side)) if target_long_side > 0 else dict(outscale=float(outscale)) if outscale > 0 else {}
    batch, height, width = image.shape[:3]
    out_hw = output_size(height, width, spec.scale, size.get("outscale"), size.get("target"))

    needed = memory_required(spec, image, out_hw, tile)
    device, release = comfy_bridge.prepare_model(upscale_model, needed)
    out_device, out_dtype = comfy_bridge.intermediate_device(), comfy_bridge.intermediate_dtype()
    result = torch.empty((batch, *out_hw, image.shape[-1]), dtype=out_dtype, device=out_device)
    progress = comfy_bridge.Progress(batch)
    tile_arg: Union[str, int] = tile if tile > 0 else "auto"
    overlap_arg: Union[str, int] = overlap if overlap >= 0 else "auto"
    try:
        for i in range(batch):
            def on_tile(done: int, total: int, i: int = i) -> None:  # Cancel is checked here
                progress.update(i * total + done, batch * total)

            upscale(
                upscale_model,
                image[i : i + 1],
                out=result[i : i + 1],  # straight into the batch: no per-frame copy
                tile=tile_arg,
                overlap=overlap_arg,
                precision=precision,
                device=device,
                progress=on_tile,
                cancel=comfy_bridge.cancel_requested,
                **size,
            )
            progress.update(progress.total * (i + 1) // batch, None, result[i : i + 1])
    finally:
        release()
    return NodeResult((result,))
