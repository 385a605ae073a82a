"""LR synthesis from HR patches: MATLAB-style bicubic (whole image, once) or the
Real-ESRGAN second-order pipeline (per patch, in the data-loader workers)."""
from __future__ import annotations

from typing import Optional

from ..config import TrainConfig
from ..data import Degradation
from .realesrgan import RealESRGANDegradation, RealESRGANOptions
from .sharpen import usm_sharpen

DEGRADATIONS = ("bicubic", "realesrgan")


def get_degradation(cfg: TrainConfig) -> Optional[Degradation]:
    """The per-patch degradation for ``cfg``; None means whole-image bicubic,
    computed once per image (or the paired LR folder)."""
    if cfg.degradation == "bicubic":
        if cfg.degradation_options:
            raise ValueError("degradation_options apply to the 'realesrgan' degradation; bicubic has none")
        return None
    if cfg.degradation == "realesrgan":
        if cfg.lr_data:
            raise ValueError("lr_data (paired LR images) and the 'realesrgan' degradation exclude each other")
        return RealESRGANDegradation(RealESRGANOptions.from_dict(dict(cfg.degradation_options)))
    raise ValueError(f"unknown degradation {cfg.degradation!r}; use {' or '.join(DEGRADATIONS)}")


__all__ = ["DEGRADATIONS", "RealESRGANDegradation", "RealESRGANOptions", "get_degradation", "usm_sharpen"]
