"""A stand-in for the parts of ComfyUI the GenSR nodes use (``comfy.model_management``,
``comfy.utils``, ``comfy.model_patcher``, ``folder_paths``), recording every
call, so node tests can drive the nodes the way ComfyUI does without ComfyUI
installed. Behaviour follows ComfyUI's: the progress hook checks the interrupt
flag, ``get_full_path`` answers ``None`` for unknown names.

It also holds ComfyUI's core "Upscale Image (using Model)" node body, step by
step as in ComfyUI (:func:`core_upscale_with_model`, the newest;
:func:`core_upscale_with_model_0_3`, release 0.3.64), to check that what
GenSR's loaders output works in it."""
from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn.functional as F


class InterruptProcessingException(Exception):
    """ComfyUI's exception for the Cancel button."""


class FakeComfy:
    def __init__(self, models_dir: Path, temp_dir: Path) -> None:
        self.models_dir = models_dir
        self.temp_dir = temp_dir
        self.interrupt = False
        self.interrupt_after_updates: Optional[int] = None  # press Cancel after this many progress updates
        self.calls: list[tuple] = []
        self.progress: list[tuple[int, int, object]] = []  # (value, total, preview)
        self.device = torch.device("cpu")

    # ---- comfy.model_management
    def get_torch_device(self):
        return self.device

    def unet_offload_device(self):
        return torch.device("cpu")

    def intermediate_device(self):
        return torch.device("cpu")

    def intermediate_dtype(self):
        return torch.float32

    def raise_non_oom(self, e: Exception) -> None:
        """Re-raise ``e`` unless it is an out-of-memory error (newer ComfyUI)."""
        if not isinstance(e, torch.OutOfMemoryError):
            raise e

    def free_memory(self, memory_required, device, keep_loaded=()):
        self.calls.append(("free_memory", int(memory_required), device))

    def load_models_gpu(self, models, memory_required=0, force_patch_weights=False, minimum_memory_required=None, force_full_load=False):
        self.calls.append(("load_models_gpu", list(models), int(memory_required), force_full_load))

    def module_size(self, module):
        return sum(t.numel() * t.element_size() for t in module.state_dict().values())

    def throw_exception_if_processing_interrupted(self):
        if self.interrupt:
            self.interrupt = False
            raise InterruptProcessingException()

    # ---- comfy.utils.ProgressBar hook
    def progress_hook(self, value, total, preview):
        self.throw_exception_if_processing_interrupted()
        self.progress.append((value, total, preview))
        if self.interrupt_after_updates is not None and len(self.progress) >= self.interrupt_after_updates:
            self.interrupt = True

    # ---- folder_paths
    def get_filename_list(self, folder):
        assert folder == "upscale_models"
        return sorted(p.name for p in self.models_dir.iterdir() if p.is_file())

    def get_full_path(self, folder, name):
        assert folder == "upscale_models"
        p = self.models_dir / name
        return str(p) if p.is_file() else None

    def get_temp_directory(self):
        return str(self.temp_dir)


def install(fake: FakeComfy, *, with_patcher: bool) -> dict:
    """Put fake ``comfy``/``folder_paths`` modules into ``sys.modules``;
    returns the previous entries for :func:`uninstall`."""
    names = ["comfy", "comfy.model_management", "comfy.utils", "comfy.model_patcher", "folder_paths"]
    saved = {n: sys.modules.get(n) for n in names}

    mm = types.ModuleType("comfy.model_management")
    for attr in ("get_torch_device", "unet_offload_device", "intermediate_device", "free_memory", "module_size",
                 "throw_exception_if_processing_interrupted"):
        setattr(mm, attr, getattr(fake, attr))
    if with_patcher:  # newer ComfyUI
        for attr in ("load_models_gpu", "intermediate_dtype", "raise_non_oom"):
            setattr(mm, attr, getattr(fake, attr))
    mm.InterruptProcessingException = InterruptProcessingException
    mm.OOM_EXCEPTION = torch.OutOfMemoryError

    utils = types.ModuleType("comfy.utils")

    class ProgressBar:
        def __init__(self, total, node_id=None):
            self.total = total
            self.current = 0

        def update_absolute(self, value, total=None, preview=None):
            if total is not None:
                self.total = total
            self.current = min(value, self.total)
            fake.progress_hook(self.current, self.total, preview)

        def update(self, value):
            self.update_absolute(self.current + value, self.total)

    utils.ProgressBar = ProgressBar
    utils.get_tiled_scale_steps = get_tiled_scale_steps
    utils.tiled_scale = tiled_scale
    utils.common_upscale = common_upscale

    comfy = types.ModuleType("comfy")
    comfy.__path__ = []  # a package
    comfy.model_management, comfy.utils = mm, utils
    sys.modules.update({"comfy": comfy, "comfy.model_management": mm, "comfy.utils": utils})

    if with_patcher:
        mp = types.ModuleType("comfy.model_patcher")

        class ModelPatcher:
            def __init__(self, model, load_device, offload_device, size=0, weight_inplace_update=False, fast_disk=False):
                self.model, self.load_device, self.offload_device = model, load_device, offload_device

        class CoreModelPatcher(ModelPatcher):
            pass

        mp.ModelPatcher, mp.CoreModelPatcher = ModelPatcher, CoreModelPatcher
        comfy.model_patcher = mp
        sys.modules["comfy.model_patcher"] = mp
    else:
        sys.modules.pop("comfy.model_patcher", None)

    fp = types.ModuleType("folder_paths")
    fp.get_filename_list = fake.get_filename_list
    fp.get_full_path = fake.get_full_path
    fp.get_temp_directory = fake.get_temp_directory
    sys.modules["folder_paths"] = fp
    return saved


def uninstall(saved: dict) -> None:
    for name, module in saved.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module


# ---- comfy.utils' tiling, our own implementation of what ComfyUI's does


def _tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, tile - overlap))
    return starts + [size - tile]


def get_tiled_scale_steps(width: int, height: int, tile_x: int, tile_y: int, overlap: int) -> int:
    return len(_tile_starts(height, tile_y, overlap)) * len(_tile_starts(width, tile_x, overlap))


def tiled_scale(samples: torch.Tensor, function: Callable, tile_x: int = 64, tile_y: int = 64, overlap: int = 8,
                upscale_amount: float = 4, out_channels: int = 3, output_device="cpu", pbar=None) -> torch.Tensor:
    """``function`` on overlapping tiles of a (B, C, H, W) batch, frame by
    frame, blended with linear feathers over the overlap; frames that fit one
    tile go through ``function`` whole, as in ComfyUI."""
    b, _, h, w = samples.shape
    if h <= tile_y and w <= tile_x:  # fits one tile: the function on each whole frame
        out = torch.cat([function(samples[i : i + 1]).to(output_device) for i in range(b)])
        if pbar is not None:
            pbar.update(b)
        return out
    out_h, out_w = round(h * upscale_amount), round(w * upscale_amount)
    out = torch.zeros((b, out_channels, out_h, out_w), device=output_device)
    weight = torch.zeros((b, 1, out_h, out_w), device=output_device)
    feather = round(overlap * upscale_amount)
    for y in _tile_starts(h, tile_y, overlap):
        for x in _tile_starts(w, tile_x, overlap):
            for i in range(b):
                res = function(samples[i : i + 1, :, y : y + tile_y, x : x + tile_x]).to(output_device)
                mask = torch.ones_like(res[:, :1])
                for t in range(feather):
                    a = (t + 1) / feather
                    mask[..., t, :] *= a
                    mask[..., -1 - t, :] *= a
                    mask[..., :, t] *= a
                    mask[..., :, -1 - t] *= a
                oy, ox = round(y * upscale_amount), round(x * upscale_amount)
                out[i : i + 1, :, oy : oy + res.shape[2], ox : ox + res.shape[3]] += res * mask
                weight[i : i + 1, :, oy : oy + res.shape[2], ox : ox + res.shape[3]] += mask
            if pbar is not None:
                pbar.update(1)
    return out / weight


def common_upscale(samples: torch.Tensor, width: int, height: int, upscale_method: str, crop: str) -> torch.Tensor:
    """``comfy.utils.common_upscale`` for the methods torch interpolates itself, without cropping."""
    assert crop == "disabled" and upscale_method in ("nearest-exact", "bilinear", "area", "bicubic")
    return F.interpolate(samples, size=(height, width), mode=upscale_method)


# ---- ComfyUI's core "Upscale Image (using Model)" (ImageUpscaleWithModel)


def core_upscale_with_model(upscale_model, image: torch.Tensor) -> torch.Tensor:
    """ImageUpscaleWithModel.execute of the newest ComfyUI found
    (comfy_extras/nodes_upscale_model.py at Comfy-Org/ComfyUI 30a74432c780),
    step by step: device from ``upscale_model.patcher``, alpha split off,
    ``load_models_gpu([patcher], force_full_load=True)``, ``.to(device)``, the
    model on float tiles of 512 px (halved on OOM, down to 128), output on the
    intermediate device and dtype, alpha upscaled bilinearly and re-attached."""
    import comfy.model_management as mm
    import comfy.utils

    device = upscale_model.patcher.load_device
    alpha = None
    if image.shape[-1] == 4:
        alpha, image = image[..., 3:4], image[..., :3]
    memory_required = (512 * 512 * 3) * image.element_size() * max(upscale_model.scale, 1.0) * 384.0
    memory_required += image.nelement() * image.element_size()
    mm.load_models_gpu([upscale_model.patcher], memory_required=memory_required, force_full_load=True)
    in_img = image.movedim(-1, -3).to(device)
    tile, overlap = 512, 32
    output_device = mm.intermediate_device()
    upscale_model.to(device)  # spandrel modules are not comfy ops: ComfyUI moves them itself
    while True:
        try:
            steps = in_img.shape[0] * comfy.utils.get_tiled_scale_steps(in_img.shape[3], in_img.shape[2], tile_x=tile, tile_y=tile, overlap=overlap)
            pbar = comfy.utils.ProgressBar(steps)
            s = comfy.utils.tiled_scale(in_img, lambda a: upscale_model(a.float()), tile_x=tile, tile_y=tile,
                                        overlap=overlap, upscale_amount=upscale_model.scale, pbar=pbar,
                                        output_device=output_device)
            break
        except Exception as e:
            mm.raise_non_oom(e)
            tile //= 2
            if tile < 128:
                raise e
    s = torch.clamp(s.movedim(-3, -1), min=0, max=1.0).to(mm.intermediate_dtype())
    if alpha is not None:
        alpha = comfy.utils.common_upscale(alpha.movedim(-1, -3).to(s), s.shape[2], s.shape[1], "bilinear", "disabled")
        s = torch.cat((s, alpha.movedim(-3, -1)), dim=-1)
    return s


def core_upscale_with_model_0_3(upscale_model, image: torch.Tensor) -> torch.Tensor:
    """ImageUpscaleWithModel.upscale of ComfyUI 0.3.64, step by step: no
    patcher; ``free_memory`` for ``module_size(.model)`` plus an estimate,
    ``.to(device)``, 512 px tiles (halved on OOM), ``.to("cpu")`` afterwards."""
    import comfy.model_management as mm
    import comfy.utils

    device = mm.get_torch_device()
    memory_required = mm.module_size(upscale_model.model)
    memory_required += (512 * 512 * 3) * image.element_size() * max(upscale_model.scale, 1.0) * 384.0
    memory_required += image.nelement() * image.element_size()
    mm.free_memory(memory_required, device)
    upscale_model.to(device)
    in_img = image.movedim(-1, -3).to(device)
    tile, overlap = 512, 32
    while True:
        try:
            steps = in_img.shape[0] * comfy.utils.get_tiled_scale_steps(in_img.shape[3], in_img.shape[2], tile_x=tile, tile_y=tile, overlap=overlap)
            pbar = comfy.utils.ProgressBar(steps)
            s = comfy.utils.tiled_scale(in_img, lambda a: upscale_model(a), tile_x=tile, tile_y=tile, overlap=overlap,
                                        upscale_amount=upscale_model.scale, pbar=pbar)
            break
        except mm.OOM_EXCEPTION as e:
            tile //= 2
            if tile < 128:
                raise e
    upscale_model.to("cpu")
    return torch.clamp(s.movedim(-3, -1), min=0, max=1.0)
