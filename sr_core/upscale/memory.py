"""Working memory of a model per input pixel, and the tile size that fits a
memory budget (and, on the CPU, the last-level cache)."""
from __future__ import annotations

import math
import statistics
import weakref
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import torch
from torch import nn

from .adapter import ModelSpec
from .context import weights_fingerprint
from .devices import cpu_cache_bytes, free_memory

#: Default cap of the tile working memory on the CPU.
CPU_BUDGET_CAP = 1 << 30


@dataclass(frozen=True)
class ActivationProfile:
    """Activation elements per input pixel, from forward hooks on a probe."""

    peak: float  # estimated peak of live elements (for memory)
    typical: float  # median layer output (what most layers stream through the cache)


_CACHE: "weakref.WeakKeyDictionary[nn.Module, Dict[Tuple, ActivationProfile]]" = weakref.WeakKeyDictionary()


def activation_profile(spec: ModelSpec, module: nn.Module, run: Callable[[torch.Tensor], torch.Tensor]) -> ActivationProfile:
    """Measure ``module`` on a small probe: peak = three times the largest
    layer output (its input, output and a temporary alive at once) plus three
    copies of the model output; typical = the median layer output."""
    m = spec.multiple
    side = -(-max(16, spec.minimum) // m) * m
    sizes = []

    def hook(_mod, _inp, out):
        if isinstance(out, torch.Tensor):
            sizes.append(out.numel())

    handles = [mod.register_forward_hook(hook) for mod in module.modules() if not list(mod.children())]
    try:
        out = run(torch.rand(1, spec.in_channels, side, side, generator=torch.Generator().manual_seed(0)))
    finally:
        for h in handles:
            h.remove()
    px = side * side
    largest = max(sizes, default=out.numel())
    typical = statistics.median(sizes) if sizes else out.numel()
    return ActivationProfile(peak=(3 * largest + 3 * out.numel()) / px + spec.in_channels, typical=typical / px)


def model_profile(spec: ModelSpec, module: nn.Module, run: Callable[[torch.Tensor], torch.Tensor]) -> ActivationProfile:
    """``activation_profile``, cached per model and weights version."""
    cache = _CACHE.setdefault(spec.module, {})
    key = (weights_fingerprint(spec.module),)
    if key not in cache:
        cache[key] = activation_profile(spec, module, run)
    return cache[key]


def profile_bytes_per_pixel(profile: ActivationProfile, spec: ModelSpec, dtype: torch.dtype) -> float:
    """Working memory in bytes per input pixel of a tile."""
    elem = torch.empty((), dtype=dtype).element_size()
    return profile.peak * elem + spec.out_channels * spec.scale**2 * 4  # output made float32 per tile


def bytes_per_pixel(spec: ModelSpec, module: nn.Module, run: Callable[[torch.Tensor], torch.Tensor], dtype: torch.dtype) -> float:
    """Working memory in bytes per input pixel of a tile of ``spec``'s model
    (``run`` calls ``module`` on a tensor; measured once per model)."""
    return profile_bytes_per_pixel(model_profile(spec, module, run), spec, dtype)


def cache_friendly_pixels(profile: ActivationProfile, dtype: torch.dtype) -> int:
    """Tile pixels whose typical layer output still fits the CPU's last-level
    cache: beyond that every layer streams from RAM and the throughput per
    pixel drops (measured ~1.6x for Compact on a 32 MiB L3)."""
    elem = torch.empty((), dtype=dtype).element_size()
    return int(cpu_cache_bytes() / max(1.0, profile.typical * elem))


def memory_budget(device: torch.device, model_bytes: int = 0) -> int:
    """Bytes the tiles of one model call may use on ``device``."""
    free = free_memory(device)
    if device.type == "cpu":
        return int(min(free * 0.5, CPU_BUDGET_CAP))
    return int(max(free * 0.75 - model_bytes, 64 << 20))


def tile_for_budget(budget: float, bpp: float, height: int, width: int, multiple: int, batch: int = 1) -> Tuple[int, int]:
    """Largest (tile_h, tile_w) with ``batch`` tiles in ``budget`` bytes,
    preferring square tiles and no larger than the image."""
    pixels = max(1.0, budget / (bpp * batch))
    side = int(math.isqrt(int(pixels)))
    th = min(height, max(multiple, side - side % multiple))
    tw = int(pixels // th)
    tw = min(width, max(multiple, tw - tw % multiple))
    if tw == width and th < height:  # narrow image: give the spare pixels to the height
        th = int(pixels // tw)
        th = min(height, max(multiple, th - th % multiple))
    return th, tw


def max_tile_batch(budget: int, bpp: float, tile: Tuple[int, int], cap: int = 16) -> int:
    """How many tiles of ``tile`` pixels fit in ``budget`` at once (at least 1)."""
    return max(1, min(cap, int(budget // (bpp * tile[0] * tile[1]))))


def default_budget(device: torch.device, module: nn.Module, requested: Optional[int]) -> int:
    if requested is not None:
        if requested <= 0:
            raise ValueError(f"memory_budget must be a positive number of bytes, not {requested}")
        return int(requested)
    model_bytes = sum(p.numel() * p.element_size() for p in module.parameters())
    return memory_budget(device, model_bytes)
