"""Compute precision: what ``auto`` picks, and the quality check that makes a
model fall back to float32 when reduced precision hurts its output."""
from __future__ import annotations

import math
import weakref
from typing import Callable, Dict, Tuple, Union

import torch
from torch import nn

from .adapter import ModelSpec
from .context import weights_fingerprint
from .devices import cpu_has_fast_bf16
from .probe import probe_image
from .resample import resize

PrecisionLike = Union[str, torch.dtype]

NAMES = {
    "fp32": torch.float32,
    "float32": torch.float32,
    "fp16": torch.float16,
    "float16": torch.float16,
    "half": torch.float16,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
}

#: ``auto`` keeps reduced precision only if the probe's PSNR against the ground
#: truth drops by at most this much compared with float32 ...
MAX_QUALITY_LOSS_DB = 0.5
#: ... and the reduced-precision output stays this close to the float32 output.
MIN_PSNR_VS_FP32_DB = 40.0

_DECISIONS: "weakref.WeakKeyDictionary[nn.Module, Dict[Tuple, bool]]" = weakref.WeakKeyDictionary()


def auto_dtype(device: torch.device, spec: ModelSpec) -> torch.dtype:
    """The precision ``auto`` tries first: bf16 on CPUs with native bf16
    (AVX512-BF16 / AMX), fp16 on CUDA, fp32 otherwise."""
    if device.type == "cuda":
        if spec.supports_half:
            return torch.float16
        if spec.supports_bfloat16 and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if device.type == "cpu" and spec.supports_bfloat16 and cpu_has_fast_bf16():
        return torch.bfloat16
    return torch.float32


def parse_precision(precision: PrecisionLike) -> Union[str, torch.dtype]:
    """``"auto"`` or a dtype, from a name or a dtype."""
    if isinstance(precision, torch.dtype):
        if precision not in (torch.float32, torch.float16, torch.bfloat16):
            raise ValueError(f"precision {precision} is not supported; use fp32, fp16 or bf16")
        return precision
    key = str(precision).lower()
    if key == "auto":
        return "auto"
    if key not in NAMES:
        raise ValueError(f"unknown precision {precision!r}; choose auto, fp32, fp16 or bf16")
    return NAMES[key]


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of two images in [0, 1] (inf when identical, nan on non-finite input)."""
    mse = float(((a.float() - b.float()) ** 2).mean())
    if math.isnan(mse) or math.isinf(mse):
        return float("nan")
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)


def reduced_precision_ok(
    spec: ModelSpec,
    run_fp32: Callable[[torch.Tensor], torch.Tensor],
    run_low: Callable[[torch.Tensor], torch.Tensor],
    size: int = 48,
) -> Tuple[bool, float, float]:
    """(ok, PSNR loss vs ground truth in dB, PSNR of low vs fp32) on a probe:
    a picture downscaled by the model's scale is upscaled both ways."""
    m = spec.multiple
    side = -(-max(size, spec.minimum) // m) * m
    hr = probe_image(spec.in_channels, side * spec.scale, side * spec.scale, seed=3)
    lr = resize(hr, (side, side), "bicubic").clamp(0, 1) if spec.scale > 1 else hr
    ref = run_fp32(lr).clamp(0, 1)
    low = run_low(lr).clamp(0, 1)
    if not torch.isfinite(low).all():
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
    spec: ModelSpec,
    device: torch.device,
    dtype: torch.dtype,
    make_runner: Callable[[torch.dtype], Callable[[torch.Tensor], torch.Tensor]],
) -> torch.dtype:
    """``dtype`` if it passes the quality check for this model (decision cached
    per model, weights version, device type and dtype), else float32."""
    if dtype == torch.float32:
        return dtype
    decisions = _DECISIONS.setdefault(spec.module, {})
    key = (weights_fingerprint(spec.module), device.type, dtype)
    if key not in decisions:
        try:
            ok, _loss, _close = reduced_precision_ok(spec, make_runner(torch.float32), make_runner(dtype))
        except RuntimeError:
            ok = False  # e.g. an op without a kernel for this dtype on this device
        decisions[key] = ok
    return dtype if decisions[key] else torch.float32
