"""Node bodies of the loaders and the compare node (the upscale node's is in
``upscaling.py``). Each takes the node's inputs and returns a ``NodeResult``."""
from __future__ import annotations

import torch

from . import comfy_bridge
from .spec import NodeResult


def run_model_loader(model_name: str) -> NodeResult:
    from .loading import load_local

    return NodeResult((load_local(model_name),))


def run_hub_loader(repo_id: str, filename: str, revision: str = "main") -> NodeResult:
    from .loading import load_hub

    return NodeResult((load_hub(repo_id, filename, revision),))


def run_compare(image_a: torch.Tensor, image_b: torch.Tensor) -> NodeResult:
    """PSNR / SSIM / heat-map / side-by-side; the UI gets ``a_images`` and
    ``b_images`` (compare-slider convention), ``images`` (the pair, for the
    plain preview) and ``text`` (the numbers)."""
    from .comparing import compare

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
    return NodeResult((float(result.psnr), float(result.ssim), heat, side, image_a), ui)
