"""How many pixels of context a model needs around a tile for the tiled output
to equal the untiled one (the ``overlap="auto"`` value).

Plain convolution stacks (Real-ESRGAN Compact) have an exact answer: one pixel
per 3x3 convolution. Deep networks (RRDBNet has ~350 convolutions in a row)
have a huge theoretical receptive field but a small effective one, so it is
measured: the model runs on a probe picture and on the probe cut short, and
the context is the distance from the cut beyond which the two outputs agree
to within ``tolerance``.
"""
from __future__ import annotations

import weakref
from typing import Callable, Dict, Optional, Tuple

import torch
from torch import nn

from ..archs.registry import architecture_of
from .adapter import ModelSpec
from .probe import probe_image

_CACHE: "weakref.WeakKeyDictionary[nn.Module, Dict[Tuple, int]]" = weakref.WeakKeyDictionary()

#: Largest context measured (input pixels); models needing more are capped here.
MAX_CONTEXT = 96
#: Range of the first, cheaper measurement.
FIRST_LIMIT = 24
#: Output difference (0..1 scale) below which a pixel counts as unaffected by a tile edge.
TOLERANCE = 0.5 / 255


def weights_fingerprint(module: nn.Module) -> Tuple:
    """Changes when the module's weights are replaced or modified in place."""
    params = list(module.parameters())
    picked = params[:2] + params[-2:] if len(params) > 4 else params
    # Inference tensors (weights created under torch.inference_mode, as in
    # ComfyUI) have no version counter; they cannot be modified in place
    # outside inference mode either, so their address is enough.
    return tuple((p.data_ptr(), -1 if p.is_inference() else p._version, tuple(p.shape)) for p in picked)


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
    cache = _CACHE.setdefault(spec.module, {})
    full_key = (weights_fingerprint(spec.module),) + tuple(key)
    if full_key not in cache:
        # A cheap probe first; most models settle well within it.
        found = measure_context(run, spec, limit=FIRST_LIMIT)
        if found >= FIRST_LIMIT:
            found = measure_context(run, spec, limit=MAX_CONTEXT)
        cache[full_key] = found
    return cache[full_key]
