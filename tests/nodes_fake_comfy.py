"""A stand-in for the parts of ComfyUI the GenSR nodes use (``comfy.model_management``,
``comfy.utils.ProgressBar``, ``comfy.model_patcher``, ``folder_paths``), recording
every call, so node tests can drive the nodes the way ComfyUI does without
ComfyUI installed. Behaviour follows ComfyUI's: the progress hook checks the
interrupt flag, ``get_full_path`` answers ``None`` for unknown names."""
from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Optional

import torch


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
    if with_patcher:
        mm.load_models_gpu = fake.load_models_gpu
    mm.InterruptProcessingException = InterruptProcessingException

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

    utils.ProgressBar = ProgressBar

    comfy = types.ModuleType("comfy")
    comfy.__path__ = []  # a package
    comfy.model_management, comfy.utils = mm, utils
    sys.modules.update({"comfy": comfy, "comfy.model_management": mm, "comfy.utils": utils})

    if with_patcher:
        mp = types.ModuleType("comfy.model_patcher")

        class ModelPatcher:
            def __init__(self, model, load_device, offload_device, size=0, weight_inplace_update=False):
                self.model, self.load_device, self.offload_device = model, load_device, offload_device

        mp.ModelPatcher = ModelPatcher
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
