"""Everything the nodes take from ComfyUI at run time (model management,
progress bar, Cancel, model folders, temp images), degrading gracefully when
ComfyUI is absent (tests, scripts).

Cheap to import: each helper imports the ComfyUI module (and torch) it needs
when called.
"""
from __future__ import annotations

import importlib
import secrets
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Optional


def comfy_module(name: str) -> Optional[ModuleType]:
    """``importlib.import_module(name)``, or ``None`` when ComfyUI (or that
    part of it) is not importable."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _mm() -> Optional[ModuleType]:
    return comfy_module("comfy.model_management")


def torch_device():
    """ComfyUI's compute device, or ``None`` (let the engine choose)."""
    mm = _mm()
    return mm.get_torch_device() if mm is not None else None


def offload_device():
    """Where idle models live: ComfyUI's offload device, else the CPU."""
    import torch

    mm = _mm()
    if mm is not None and hasattr(mm, "unet_offload_device"):
        return mm.unet_offload_device()
    return torch.device("cpu")


def intermediate_device():
    """Where IMAGE tensors travel between nodes (the CPU outside ComfyUI)."""
    import torch

    mm = _mm()
    if mm is not None and hasattr(mm, "intermediate_device"):
        return mm.intermediate_device()
    return torch.device("cpu")


def intermediate_dtype():
    """The dtype IMAGE tensors travel in: ComfyUI's choice when it has one, else float32."""
    import torch

    mm = _mm()
    if mm is not None and hasattr(mm, "intermediate_dtype"):
        return mm.intermediate_dtype()
    return torch.float32


def throw_if_interrupted() -> None:
    """Raise ComfyUI's interrupt exception when the user pressed Cancel."""
    mm = _mm()
    if mm is not None and hasattr(mm, "throw_exception_if_processing_interrupted"):
        mm.throw_exception_if_processing_interrupted()


def cancel_requested() -> bool:
    """For ``gensr.upscale(cancel=...)``: raises ComfyUI's own interrupt
    exception when the user pressed Cancel (so ComfyUI reports a clean stop),
    else False. Checked between tiles and inside long ones."""
    throw_if_interrupted()
    return False


def module_size(module: Any) -> int:
    """Bytes of a module's parameters and buffers."""
    mm = _mm()
    if mm is not None and hasattr(mm, "module_size"):
        return int(mm.module_size(module))
    return sum(t.numel() * t.element_size() for t in list(module.parameters()) + list(module.buffers()))


def load_device(upscale_model: Any):
    """The device :func:`prepare_model` will put ``upscale_model`` on (None outside ComfyUI)."""
    patcher = getattr(upscale_model, "patcher", None)
    mm = _mm()
    if mm is None:
        return None
    if patcher is not None and hasattr(mm, "load_models_gpu"):
        return patcher.load_device
    return mm.get_torch_device()


def prepare_model(upscale_model: Any, memory_required: int):
    """Ask ComfyUI for ``memory_required`` bytes on its device and put the model
    there. Returns ``(device, release)``; call ``release()`` when done.

    Models carrying a ComfyUI ``patcher`` (newer ComfyUI) are loaded through
    ``load_models_gpu`` so ComfyUI can evict them later like any other model;
    older ones get ``free_memory`` and are moved back to the offload device
    afterwards, as ComfyUI's own upscale node does.
    """
    mm = _mm()
    if mm is None:
        return None, lambda: None
    patcher = getattr(upscale_model, "patcher", None)
    if patcher is not None and hasattr(mm, "load_models_gpu"):
        device = patcher.load_device
        mm.load_models_gpu([patcher], memory_required=memory_required, force_full_load=True)
        upscale_model.to(device)  # parameters of non-comfy-ops modules may stay on the offload device
        return device, lambda: None
    device = mm.get_torch_device()
    mm.free_memory(memory_required + module_size(upscale_model.model), device)
    upscale_model.to(device)

    def release() -> None:  # as ComfyUI's node does; the engine's converted copy goes too
        from ..sr_core.upscale import forget_converted_weights

        upscale_model.to(offload_device())
        forget_converted_weights(upscale_model)

    return device, release


def attach_patcher(descriptor: Any) -> Any:
    """Give ``descriptor`` the ``.patcher`` that newer ComfyUI's core upscale
    node expects (a no-op outside ComfyUI)."""
    mm = _mm()
    mp = comfy_module("comfy.model_patcher")
    if mm is None or mp is None:
        return descriptor
    cls = getattr(mp, "CoreModelPatcher", None) or mp.ModelPatcher
    descriptor.patcher = cls(descriptor.model, load_device=mm.get_torch_device(), offload_device=offload_device())
    return descriptor


class Progress:
    """Per-step progress for one node run: ComfyUI's progress bar (with an
    optional preview image) and its Cancel check; silent outside ComfyUI."""

    PREVIEW_SIZE = 512

    def __init__(self, total: int) -> None:
        utils = comfy_module("comfy.utils")
        self.total = max(int(total), 1)
        self._bar = utils.ProgressBar(self.total) if utils is not None else None

    def update(self, done: int, total: Optional[int] = None, preview_bhwc: Any = None) -> None:
        """Report ``done`` of ``total`` steps; raises if the user cancelled."""
        throw_if_interrupted()
        if total is not None:
            self.total = max(int(total), 1)
        if self._bar is not None:
            preview = self._preview(preview_bhwc) if preview_bhwc is not None else None
            self._bar.update_absolute(min(int(done), self.total), self.total, preview)

    def _preview(self, image: Any):
        import torch

        frame = image[0] if image.ndim == 4 else image  # (H, W, C)
        step = max(frame.shape[0], frame.shape[1]) // (2 * self.PREVIEW_SIZE)
        if step > 1:  # shrink on the tensor first: a 4096 px frame converts to PIL 16x faster
            frame = torch.nn.functional.avg_pool2d(
                frame.movedim(-1, 0)[None].float(), step, ceil_mode=True
            )[0].movedim(0, -1)
        pil = tensor_to_pil(frame)
        pil.thumbnail((self.PREVIEW_SIZE, self.PREVIEW_SIZE))
        return ("JPEG", pil.convert("RGB"), self.PREVIEW_SIZE)


def upscale_model_names() -> list[str]:
    """Files in ComfyUI's ``upscale_models`` folders (``extra_model_paths.yaml`` applies)."""
    fp = comfy_module("folder_paths")
    if fp is None:
        return []
    return list(fp.get_filename_list("upscale_models"))


def upscale_model_path(name: str) -> Optional[str]:
    """Full path of ``name`` in ComfyUI's ``upscale_models`` folders, or ``None``."""
    fp = comfy_module("folder_paths")
    if fp is None:
        return None
    return fp.get_full_path("upscale_models", name)


def temp_image_writer() -> Optional[Callable[[Any, str], list[dict]]]:
    """A function saving a BHWC batch as temp PNGs for the UI and returning
    ComfyUI's ``{"filename", "subfolder", "type"}`` records; ``None`` outside ComfyUI."""
    fp = comfy_module("folder_paths")
    if fp is None:
        return None

    def write(images: Any, prefix: str) -> list[dict]:
        return save_temp_pngs(images, fp.get_temp_directory(), prefix)

    return write


def tensor_to_pil(image: Any):
    """One HWC image (1, 3 or 4 channels, 0..1, any float dtype) as a PIL image."""
    import torch
    from PIL import Image

    arr = (image.detach().to("cpu", torch.float32).clamp(0, 1) * 255.0).round().to(torch.uint8).numpy()
    channels = arr.shape[-1]
    if channels == 1:
        return Image.fromarray(arr[..., 0], mode="L")
    if channels not in (3, 4):
        raise ValueError(f"cannot show an image with {channels} channels (expected 1, 3 or 4)")
    return Image.fromarray(arr, mode="RGB" if channels == 3 else "RGBA")


def save_temp_pngs(images: Any, folder: str, prefix: str) -> list[dict]:
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
