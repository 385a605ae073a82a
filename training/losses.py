"""The generator objective L = a * L_perceptual + b * L_pixel + c * L_adv and,
for GAN runs, the discriminator and its optimiser."""
from __future__ import annotations

from typing import Any, Callable

import torch

from ..sr_core.losses import pixel_loss
from .config import TrainConfig


class GeneratorLosses:
    """Computes the generator loss; owns the discriminator when ``cfg.gan``."""

    def __init__(self, cfg: TrainConfig, device: torch.device) -> None:
        self.cfg = cfg
        self.pixel = pixel_loss(cfg.pixel_loss).to(device)
        if cfg.gan or cfg.perceptual_weight:
            raise ValueError("GAN and perceptual losses are not available in this build yet")

    def generator_loss(self, out: torch.Tensor, hr: torch.Tensor, iteration: int) -> tuple[torch.Tensor, dict[str, float]]:
        l_pix = self.pixel(out, hr)
        loss = self.cfg.pixel_weight * l_pix
        return loss, {"loss": float(loss.detach()), "l_pix": float(l_pix.detach())}

    def discriminator_step(self, out: torch.Tensor, hr: torch.Tensor, iteration: int) -> dict[str, float]:
        return {}

    def set_lr(self, schedule: Callable[[float], float]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass
