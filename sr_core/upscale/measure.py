"""What the engine measures about a model, once per model and weights
version: how much context a window needs for the tiled output to equal the
untiled one, its working memory per pixel, whether reduced precision keeps
its output's quality, and the probe picture they use.

Context: plain convolution stacks (Real-ESRGAN Compact) have an exact answer
(asked of the architecture registry). Deep networks (RRDBNet has ~350
convolutions in a row) have a huge theoretical receptive field but a small
effective one, so it is measured: the model runs on a probe picture and on the
probe cut short, and the context is the distance from the cut beyond which
the two outputs agree to within ``TOLERANCE``.

Every cache here is keyed weakly on the module and on :func:`weights_key`,
which survives the model moving between devices (ComfyUI loads and offloads
models) but changes when its weights are replaced or trained.
"""
from __future__ import annotations

import itertools
import math
import statistics
import weakref
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..archs.registry import architecture_of
from ..metrics import psnr
from .devices import cpu_cache_bytes, free_memory
from .spec import ModelSpec

_TOKENS = itertools.count(1)
_TOKEN_ATTR = "_gensr_weights_token"


def weights_key(module: nn.Module) -> Tuple:
    """A key for what a model computes: a token attached to the module once
    (stable across ``module.to(...)``) and a signature of its first and last
    weights' values (sums in float64 on the CPU: the same wherever the weights
    live, different once they are replaced or trained). Not ``data_ptr``,
    which changes whenever ComfyUI moves the model."""
    token = module.__dict__.get(_TOKEN_ATTR)
    if token is None:
        token = next(_TOKENS)
        module.__dict__[_TOKEN_ATTR] = token
    params = list(module.parameters())
    picked = params[:2] + params[-2:] if len(params) > 4 else params
    with torch.no_grad():
        sums = tuple(float(p.detach().to("cpu", torch.float64).sum()) for p in picked)
    return (token, len(params), tuple(tuple(p.shape) for p in picked), tuple(str(p.dtype) for p in picked), sums)


# ------------------------------------------------------------------ probe


def probe_image(channels: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A (1, channels, height, width) float32 picture in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    yy = torch.linspace(0, 1, height).view(1, 1, height, 1)
    xx = torch.linspace(0, 1, width).view(1, 1, 1, width)
    base = torch.rand(1, channels, 1, 1, generator=g) * 0.4 + 0.3
    img = base + 0.25 * (xx - 0.5) * torch.rand(1, channels, 1, 1, generator=g) - 0.2 * (yy - 0.5)
    for cells in (4, 12):  # smooth blotches at two scales
        noise = torch.rand(1, channels, cells, cells, generator=g) - 0.5
        img = img + 0.35 * F.interpolate(noise, size=(height, width), mode="bicubic", align_corners=False)
    for _ in range(6):  # hard-edged discs and bars
        cy, cx = torch.rand(2, generator=g).tolist()
        r = 0.05 + 0.2 * float(torch.rand(1, generator=g))
        value = torch.rand(1, channels, 1, 1, generator=g)
        disc = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r) if float(torch.rand(1, generator=g)) < 0.5 else (
            ((yy - cy).abs() < r / 4) & ((xx - cx).abs() < r * 2)
        )
        img = torch.where(disc, 0.6 * value + 0.4 * img, img)
    stripes = torch.sin(xx * width * 1.7 + yy * height * 0.6) * (yy > 0.7)  # fine regular texture
    img = img + 0.08 * stripes + 0.04 * (torch.rand(1, channels, height, width, generator=g) - 0.5)
    return img.clamp(0, 1).float()


# ------------------------------------------------------------------ context

_CONTEXTS: "weakref.WeakKeyDictionary[nn.Module, Dict[Tuple, int]]" = weakref.WeakKeyDictionary()

#: Largest context measured (input pixels); models needing more are capped here.
MAX_CONTEXT = 96
#: Range of the first, cheaper measurement.
FIRST_LIMIT = 24
#: Output difference (0..1 scale) below which a pixel counts as unaffected by a tile edge.
TOLERANCE = 0.5 / 255


def measure_context(
    run: Callable[[torch.Tensor], torch.Tensor],
    spec: ModelSpec,
    limit: int = MAX_CONTEXT,
    tolerance: float = TOLERANCE,
) -> int:
    """Measured context (input pixels) of ``run`` (a tile -> output callable)."""
    m = spec.multiple
    up = lambda v: -(-v // m) * m  # noqa: E731
    rows = up(max(32, spec.minimum))
    cut = up(limit + 1)
    full = cut + up(limit)
    probe = probe_image(spec.in_channels, rows, full, seed=7)
    ref = run(probe).clamp(0, 1)
    short = run(probe[..., :cut]).clamp(0, 1)
    s = spec.scale
    diff = (short - ref[..., : cut * s]).abs().amax(dim=(0, 1, 2))  # per output column
    per_px = diff.view(cut, s).amax(1).flip(0)  # [d] = error d input pixels from the cut
    bad = (per_px > tolerance).nonzero()
    return 0 if bad.numel() == 0 else min(limit, int(bad.max()) + 1)


def model_context(spec: ModelSpec, run: Callable[[torch.Tensor], torch.Tensor], key: Tuple = ()) -> int:
    """Context needed by ``spec``'s model, exact when known, else measured once
    per model (and weights version, and ``key``, e.g. device and dtype)."""
    arch = architecture_of(spec.module)
    exact = arch.exact_context(spec.module) if arch is not None and arch.exact_context is not None else None
    if exact is not None:
        return exact
    cache = _CONTEXTS.setdefault(spec.module, {})
    full_key = (weights_key(spec.module),) + tuple(key)
    if full_key not in cache:
        # A cheap probe first; most models settle well within it.
        found = measure_context(run, spec, limit=FIRST_LIMIT)
        if found >= FIRST_LIMIT:
            found = measure_context(run, spec, limit=MAX_CONTEXT)
        cache[full_key] = found
    return cache[full_key]


# ------------------------------------------------------------------ memory

#: Default cap of the tile working memory on the CPU.
CPU_BUDGET_CAP = 1 << 30


@dataclass(frozen=True)
class ActivationProfile:
    """Activation elements per input pixel, from forward hooks on a probe."""

    peak: float  # estimated peak of live elements (for memory)
    typical: float  # median layer output (what most layers stream through the cache)


_PROFILES: "weakref.WeakKeyDictionary[nn.Module, Dict[Tuple, ActivationProfile]]" = weakref.WeakKeyDictionary()


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
    cache = _PROFILES.setdefault(spec.module, {})
    key = (weights_key(spec.module),)
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


# ------------------------------------------------------------------ precision quality

#: ``auto`` keeps reduced precision only if the probe's PSNR against the ground
#: truth drops by at most this much compared with float32 ...
MAX_QUALITY_LOSS_DB = 0.5
#: ... and the reduced-precision output stays this close to the float32 output.
MIN_PSNR_VS_FP32_DB = 40.0

_DECISIONS: "weakref.WeakKeyDictionary[nn.Module, Dict[Tuple, bool]]" = weakref.WeakKeyDictionary()


def reduced_precision_ok(
    spec, run_fp32: Callable[[torch.Tensor], torch.Tensor], run_low: Callable[[torch.Tensor], torch.Tensor],
    size: int = 48,
) -> Tuple[bool, float, float]:
    """(ok, PSNR loss vs ground truth in dB, PSNR of low vs fp32) on a probe:
    a picture downscaled by the model's scale is upscaled both ways."""
    from .resample import resize

    m = spec.multiple
    side = -(-max(size, spec.minimum) // m) * m
    hr = probe_image(spec.in_channels, side * spec.scale, side * spec.scale, seed=3)
    lr = resize(hr, (side, side), "bicubic").clamp(0, 1) if spec.scale > 1 else hr
    ref = run_fp32(lr).clamp(0, 1).cpu()
    low = run_low(lr).clamp(0, 1).cpu()
    if not (torch.isfinite(low).all() and torch.isfinite(ref).all()):
        return False, float("inf"), float("nan")
    if ref.shape[1] <= hr.shape[1]:
        target = hr[:, : ref.shape[1]]
        loss = psnr(ref, target) - psnr(low, target)
    else:  # no ground truth for extra output channels: judge by closeness alone
        loss = 0.0
    close = psnr(low, ref)
    ok = loss <= MAX_QUALITY_LOSS_DB and close >= MIN_PSNR_VS_FP32_DB
    return ok, loss, close


def checked_precision(
    spec, device: torch.device, dtype: torch.dtype, key: Tuple,
    make_runner: Callable[[torch.dtype], Callable[[torch.Tensor], torch.Tensor]],
) -> torch.dtype:
    """``dtype`` if it passes the quality check for this model (decision cached
    per model, ``key`` (its weights version), device type and dtype), else float32."""
    if dtype == torch.float32:
        return dtype
    decisions = _DECISIONS.setdefault(spec.module, {})
    full = (key, device.type, dtype)
    if full not in decisions:
        try:
            ok, _loss, _close = reduced_precision_ok(spec, make_runner(torch.float32), make_runner(dtype))
        except RuntimeError:
            ok = False  # e.g. an op without a kernel for this dtype on this device
        decisions[full] = ok
    return dtype if decisions[full] else torch.float32
