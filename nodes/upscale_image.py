"""GenSR Upscale Image: GenSR's tiled engine on each frame of an IMAGE batch,
inside ComfyUI's model management, with a per-tile progress bar, a preview of
each finished frame and Cancel checked inside every tile."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from . import comfy_bridge
from .comfy_io import CATEGORY, io, schema

if TYPE_CHECKING:
    import torch

#: The engine's precision names (``sr_core.upscale.PRECISIONS``), literal here
#: so that registering the node imports no torch.
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
log = logging.getLogger("GenSR")

#: Side of the tile whose working memory is asked of ComfyUI when ``tile`` is
#: auto; the engine then sizes its tiles to the memory actually free.
REQUEST_TILE = 256


class GenSRUpscale(io.ComfyNode):
    """Upscales an IMAGE batch with any ``UPSCALE_MODEL``."""

    @classmethod
    def define_schema(cls):
        return schema(
            node_id="GenSRUpscale",
            display_name="GenSR Upscale Image",
            category=CATEGORY,
            description=(
                "Upscales images with any upscale model (GenSR's loaders or ComfyUI's Load Upscale Model) using "
                "seam-free tiling. Batches are processed frame by frame; Cancel stops it within one tile."
            ),
            search_aliases=("upscale", "super resolution", "esrgan", "enlarge image"),
            inputs=[
                io.UpscaleModel.Input("upscale_model", tooltip="Model from GenSR Load Model or ComfyUI's Load Upscale Model."),
                io.Image.Input("image", tooltip="Images to upscale (a batch is processed frame by frame; RGBA keeps its alpha)."),
                io.Float.Input(
                    "outscale", default=0.0, min=0.0, max=16.0, step=0.05,
                    tooltip="Final scale factor; the model's output is resized to it. 0 = the model's own scale.",
                ),
                io.Int.Input(
                    "target_long_side", default=0, min=0, max=16384,
                    tooltip="Resize the result so its longer side has this many pixels (overrides outscale). 0 = off.",
                ),
                io.Int.Input(
                    "tile", default=0, min=0, max=8192,
                    tooltip="Largest window given to the model, context included, in input pixels (0 = auto: as large "
                    "as the free memory allows). If it is too small for the context the model needs, the context "
                    "shrinks and a warning says faint seams may show.",
                ),
                io.Int.Input(
                    "overlap", default=-1, min=-1, max=512,
                    tooltip="Overlap between tiles in input pixels. -1 = auto (enough for this model to leave no seams).",
                ),
                io.Combo.Input(
                    "precision", options=list(PRECISIONS), default="auto",
                    tooltip="Compute precision. auto = fp16 on CUDA GPUs, bf16 on CPUs with native bf16 (AVX512-BF16/AMX), "
                    "each kept only if a quality check on this model passes; fp32 otherwise.",
                ),
            ],
            # V3 ids must differ from input ids; the socket is still named "image".
            outputs=[io.Image.Output("image_out", display_name="image", tooltip="The upscaled images (same channels as the input).")],
        )

    @classmethod
    def execute(cls, upscale_model: Any, image: "torch.Tensor", outscale: float = 0.0, target_long_side: int = 0,
                tile: int = 0, overlap: int = -1, precision: str = "auto"):
        """Upscale every frame; the batch is returned on ComfyUI's intermediate
        device. ``target_long_side`` (> 0) wins over ``outscale`` (> 0), which
        wins over the model's own scale."""
        import torch

        from ..sr_core.upscale import UpscaleOptions, output_size

        image = _check_image(image)
        spec = _check_model(upscale_model)
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
        if outscale < 0 or target_long_side < 0 or tile < 0 or overlap < -1:
            raise ValueError("outscale, target_long_side and tile must be >= 0 and overlap >= -1 (-1 = auto)")
        size = dict(target=int(target_long_side)) if target_long_side > 0 else dict(outscale=float(outscale)) if outscale > 0 else {}
        batch, height, width = image.shape[:3]
        out_hw = output_size(height, width, spec.scale, size.get("outscale"), size.get("target"))
        needed = memory_required(spec, image, out_hw, tile) + _weights_memory(upscale_model, precision)
        device, release = comfy_bridge.prepare_model(upscale_model, needed)
        warned: list[str] = []

        def on_warning(message: str) -> None:  # once per run, in ComfyUI's log
            if message not in warned:
                warned.append(message)
                log.warning("GenSR Upscale: %s", message)

        options = UpscaleOptions(
            tile=tile if tile > 0 else "auto", overlap=overlap if overlap >= 0 else "auto", precision=precision,
            device=device, cancel=comfy_bridge.cancel_requested, on_warning=on_warning, **size,
        )
        out_device, out_dtype = comfy_bridge.intermediate_device(), comfy_bridge.intermediate_dtype()
        result = torch.empty((batch, *out_hw, image.shape[-1]), dtype=out_dtype, device=out_device)
        progress = comfy_bridge.Progress(batch)
        try:
            for i in range(batch):
                def on_tile(done: int, total: int, i: int = i) -> None:  # Cancel is checked here
                    progress.update(i * total + done, batch * total)

                upscale_frame(upscale_model, image[i : i + 1], result[i : i + 1], options, on_tile)
                progress.update(progress.total * (i + 1) // batch, None, result[i : i + 1])
        finally:
            release()
        return io.NodeOutput(result)


def upscale_frame(upscale_model: Any, frame: "torch.Tensor", out: "torch.Tensor", options: Any, on_tile) -> None:
    """The node's one call into GenSR's engine: upscale one (1, H, W, C) frame
    straight into ``out`` (a view of the batch: no per-frame copy)."""
    from ..sr_core.upscale import upscale

    upscale(upscale_model, frame, options, out=out, progress=on_tile)


def _weights_memory(upscale_model: Any, precision: str) -> int:
    """Bytes of the engine's converted copy of the weights (e.g. fp16 on a GPU),
    kept for the model's life: ComfyUI's memory accounting must know of it."""
    from ..sr_core.upscale import weights_memory_required

    device = comfy_bridge.load_device(upscale_model)
    return weights_memory_required(upscale_model, device if device is not None else "auto", precision)


def _check_image(image: Any) -> "torch.Tensor":
    import torch

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


def memory_required(spec: Any, image: "torch.Tensor", out_hw: tuple[int, int], tile: int) -> int:
    """Bytes to ask ComfyUI to free: one tile's working memory (measured by the
    engine for this model) plus one frame in and out, in float32."""
    import torch

    from ..sr_core.upscale.measure import bytes_per_pixel

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
