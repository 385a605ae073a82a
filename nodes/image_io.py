"""IMAGE tensors (ComfyUI's BHWC floats in 0..1) to PIL images and temp PNGs."""
from __future__ import annotations

import secrets
from pathlib import Path

import torch


def tensor_to_pil(image: torch.Tensor):
    """One HWC image (1, 3 or 4 channels, 0..1, any float dtype) as a PIL image."""
    from PIL import Image

    arr = (image.detach().to("cpu", torch.float32).clamp(0, 1) * 255.0).round().to(torch.uint8).numpy()
    channels = arr.shape[-1]
    if channels == 1:
        return Image.fromarray(arr[..., 0], mode="L")
    if channels not in (3, 4):
        raise ValueError(f"cannot show an image with {channels} channels (expected 1, 3 or 4)")
    return Image.fromarray(arr, mode="RGB" if channels == 3 else "RGBA")


def save_temp_pngs(images: torch.Tensor, folder: str, prefix: str) -> list[dict]:
    """Save each image of a BHWC batch as ``folder/prefix_<random>_<i>.png``
    (atomically) and return ComfyUI's UI records for them."""
    from ..weights.save import atomic_write

    folder_path = Path(folder)
    tag = secrets.token_hex(4)
    records = []
    for i, image in enumerate(images):
        name = f"{prefix}_{tag}_{i:05d}.png"
        pil = tensor_to_pil(image)
        atomic_write(folder_path / name, lambda tmp, pil=pil: pil.save(tmp, format="PNG", compress_level=1))
        records.append({"filename": name, "subfolder": "", "type": "temp"})
    return records
