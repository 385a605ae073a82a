"""Named training recipes. A preset is a set of TrainConfig fields."""
from __future__ import annotations

from .config import TrainConfig

PRESETS: dict[str, dict] = {
    # The bundled default model: Compact x4, bicubic degradation, PSNR-oriented,
    # trained on ../shared/data/train (T91 + BSD200) on a 2-core CPU.
    "gensr-x4": dict(
        arch="compact",
        arch_config=dict(num_feat=32, num_conv=12),
        scale=4,
        degradation="bicubic",
        gt_size=192,
        batch_size=16,
        iterations=8000,
        lr=5e-4,
        lr_schedule="cosine",
        lr_min=1e-6,
        warmup=100,
        pixel_loss="l1",
        ema_decay=0.999,
        val_every=500,
        checkpoint_every=250,
    ),
    # A seconds-long recipe for tests and smoke checks.
    "tiny-test": dict(
        arch="compact",
        arch_config=dict(num_feat=8, num_conv=2),
        scale=4,
        gt_size=64,
        batch_size=4,
        iterations=60,
        lr=2e-3,
        lr_schedule="constant",
        num_workers=0,
        val_every=30,
        checkpoint_every=30,
        log_every=10,
        ema_decay=0.9,
        samples=1,
    ),
}


def preset_config(name: str) -> TrainConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; available: {', '.join(PRESETS)}")
    return TrainConfig.from_dict({**PRESETS[name], "recipe": name, "name": name})
