"""Adversarial losses: vanilla (non-saturating BCE), relativistic average
(ESRGAN's RaGAN) and hinge. Discriminator outputs are raw logits of any shape
(one per image for the VGG discriminator, one per pixel for the U-Net)."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

GAN_LOSSES = ("vanilla", "ragan", "hinge")


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def check_gan_loss(kind: str) -> str:
    if kind not in GAN_LOSSES:
        raise ValueError(f"unknown GAN loss {kind!r}; use one of {', '.join(GAN_LOSSES)}")
    return kind


def discriminator_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss from its logits on real and (detached) fake images."""
    check_gan_loss(kind)
    real, fake = real.float(), fake.float()
    if kind == "vanilla":
        return _bce(real, 1.0) + _bce(fake, 0.0)
    if kind == "ragan":
        return 0.5 * (_bce(real - fake.mean(), 1.0) + _bce(fake - real.mean(), 0.0))
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def generator_adversarial_loss(kind: str, fake: torch.Tensor, real: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The generator's adversarial loss from the discriminator's logits on its
    output (``fake``); RaGAN also needs the logits on real images (``real``,
    treated as constants)."""
    check_gan_loss(kind)
    fake = fake.float()
    if kind == "vanilla":
        return _bce(fake, 1.0)
    if kind == "hinge":
        return -fake.mean()
    if real is None:
        raise ValueError("the ragan generator loss needs the discriminator's logits on real images")
    real = real.detach().float()
    return 0.5 * (_bce(real - fake.mean(), 0.0) + _bce(fake - real.mean(), 1.0))
