"""LR synthesis from HR patches."""
from __future__ import annotations

from typing import Optional

from ..config import TrainConfig
from ..data import Degradation


def get_degradation(cfg: TrainConfig) -> Optional[Degradation]:
    """The per-patch degradation for ``cfg``; None means whole-image bicubic,
    computed once per image (or the paired LR folder)."""
    if cfg.degradation == "bicubic":
        return None
    raise ValueError(f"unknown degradation {cfg.degradation!r}; use 'bicubic' or 'realesrgan'")
