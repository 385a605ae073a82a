"""Learning-rate schedules as pure functions of the iteration (trivially resumable)."""
from __future__ import annotations

import math

from .config import TrainConfig


def learning_rate(cfg: TrainConfig, base_lr: float, iteration: int) -> float:
    """Learning rate for ``iteration`` (0-based): linear warm-up, then the schedule."""
    if cfg.warmup and iteration < cfg.warmup:
        return base_lr * (iteration + 1) / cfg.warmup
    if cfg.lr_schedule == "constant":
        return base_lr
    if cfg.lr_schedule == "multistep":
        return base_lr * cfg.lr_gamma ** sum(iteration >= m for m in cfg.lr_milestones)
    if cfg.lr_schedule == "cosine":
        span = max(1, cfg.iterations - cfg.warmup)
        t = min(1.0, (iteration - cfg.warmup) / span)
        return cfg.lr_min + 0.5 * (base_lr - cfg.lr_min) * (1 + math.cos(math.pi * t))
    raise ValueError(f"unknown lr_schedule {cfg.lr_schedule!r}: use cosine, multistep or constant")
