"""Devices: choosing one, how much memory is free on it, recognising
out-of-memory errors, and what the CPU can do fast."""
from __future__ import annotations

import functools
import os
from typing import Union

import torch

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


@functools.lru_cache(maxsize=None)
def cpu_has_fast_bf16() -> bool:
    """Whether the CPU runs bfloat16 natively (AVX512-BF16 or AMX)."""
    cpu = getattr(torch, "cpu", None)
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        fn = getattr(cpu, probe, None)
        if fn is not None:
            try:
                if fn():
                    return True
            except Exception:  # noqa: BLE001 - a probe failing means "no"
                pass
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


@functools.lru_cache(maxsize=None)
def cpu_cache_bytes() -> int:
    """Size of the CPU's largest (last-level) cache, 16 MiB if unknown."""
    best = 0
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for entry in os.listdir(base):
            if not entry.startswith("index"):
                continue
            try:
                with open(os.path.join(base, entry, "size")) as f:
                    text = f.read().strip().upper()
            except OSError:
                continue
            mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
            digits = text.rstrip("KMG")
            if digits.isdigit():
                best = max(best, int(digits) * mult)
    except OSError:
        pass
    return best or (16 << 20)
