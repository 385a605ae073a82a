"""Working memory of a model per input pixel, and the tile size that fits a budget."""
from __future__ import annotations

import math
import weakref
from typing import Callable, Dict, Optional, Tuple

import torch
from torch import nn

from .adapter import ModelSpec
from .context import weights_fingerprint
from .devices import free_memory

_CACHE: "weakref.WeakKeyDictionary[nn.Module, Dict[Tuple, float]]" = weakref.WeakKeyDictionary()

#: Default cap of the tile working memory on the CPU: larger tiles gain
#: little once the overlap is a small fraction of them.
CPU_BUDGET_CAP = 1 << 30


def elements_per_pixel(spec: ModelSpec, module: nn.Module, run: Callable[[torch.Tensor], torch.Tensor]) -> float:
    """Estimated peak number of live activation elements per input pixel:
    three times the largest layer output (input, output and one temporary
    alive at once) plus three copies of the model output, measured with
    forward hooks on a small probe."""
    m = spec.multiple
    side = max(16, spec.minimum)
    side = -(-side // m) * m
    largest = [0]

    def hook(_mod, _inp, out):
        if isinstance(out, torch.Tensor):
            largest[0] = max(largest[0], out.numel())

    handles = [mod.register_forward_hook(hook) for mod in module.modules() if not list(mod.children())]
    try:
        out = run(torch.rand(1, spec.in_channels, side, side, generator=torch.Generator().manual_seed(0)))
    finally:
        for h in handles:
            h.remove()
    px = side * side
    return 3 * largest[0] / px + 3 * out.numel() / px + spec.in_channels


def bytes_per_pixel(spec: ModelSpec, module: nn.Module, run: Callable[[torch.Tensor], torch.Tensor], dtype: torch.dtype) -> float:
    """Working memory in bytes per input pixel of a tile (cached per model)."""
    cache = _CACHE.setdefault(spec.module, {})
    key = (weights_fingerprint(spec.module),)
    if key not in cache:
        cache[key] = elements_per_pixel(spec, module, run)
    elem = torch.empty((), dtype=dtype).element_size()
    # Outputs are converted to float32 per tile.
    return cache[key] * elem + spec.out_channels * spec.scale**2 * 4


def memory_budget(device: torch.device, model_bytes: int = 0) -> int:
    """Bytes the tiles of one model call may use on ``device``."""
    free = free_memory(device)
    if device.type == "cpu":
        return int(min(free * 0.5, CPU_BUDGET_CAP))
    return int(max(free * 0.75 - model_bytes, 64 << 20))


def tile_for_budget(budget: int, bpp: float, height: int, width: int, multiple: int, batch: int = 1) -> Tuple[int, int]:
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
