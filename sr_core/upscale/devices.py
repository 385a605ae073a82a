"""Devices: choosing one, how much memory is free on it, recognising
out-of-memory errors."""
from __future__ import annotations

import os
from typing import Union

import torch

from ..hardware import cpu_cache_bytes, cpu_has_fast_bf16  # noqa: F401 - re-exported for the engine

DeviceLike = Union[str, torch.device, None]


def resolve_device(device: DeviceLike, fallback: torch.device) -> torch.device:
    """``device`` as a ``torch.device``; ``None`` means ``fallback`` (the model's device)."""
    if device is None or device == "auto":
        return fallback
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here; use device='cpu'")
    if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError(f"device {device!r} requested but MPS is not available here; use device='cpu'")
    return dev


def is_oom(error: BaseException) -> bool:
    """Whether ``error`` is an out-of-memory error of any device."""
    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(error, oom_type):
        return True
    if isinstance(error, (RuntimeError, MemoryError)):
        text = str(error).lower()
        return isinstance(error, MemoryError) or "out of memory" in text or "can't allocate memory" in text
    return False


def release_cached_memory(device: torch.device) -> None:
    """Give cached blocks back after an out-of-memory error."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()


def _cpu_available_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def free_memory(device: torch.device) -> int:
    """Bytes that can still be allocated on ``device`` (approximate)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        # Blocks cached by PyTorch's allocator are free for us too.
        stats = torch.cuda.memory_stats(device)
        cached = stats.get("reserved_bytes.all.current", 0) - stats.get("allocated_bytes.all.current", 0)
        return int(free + max(0, cached))
    if device.type == "mps":
        try:
            return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
        except AttributeError:
            return _cpu_available_bytes() // 2
    return _cpu_available_bytes()
