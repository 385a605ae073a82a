"""Discriminators for GAN training, by short name."""
from __future__ import annotations

from torch import nn

from .unet import UNetDiscriminatorSN
from .vgg import VGGStyleDiscriminator

DISCRIMINATORS: dict[str, type[nn.Module]] = {
    "unet": UNetDiscriminatorSN,
    "vgg": VGGStyleDiscriminator,
}


def build_discriminator(name: str, config: dict | None = None) -> nn.Module:
    """Instantiate the discriminator ``name`` ('unet' or 'vgg') with ``config``."""
    try:
        cls = DISCRIMINATORS[name]
    except KeyError:
        raise ValueError(f"unknown discriminator {name!r}; use one of {', '.join(DISCRIMINATORS)}") from None
    try:
        return cls(**(config or {}))
    except TypeError as e:
        raise ValueError(f"bad discriminator_config for {name!r}: {e}") from None


__all__ = ["DISCRIMINATORS", "UNetDiscriminatorSN", "VGGStyleDiscriminator", "build_discriminator"]
