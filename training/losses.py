"""The generator objective L = a * L_perceptual + b * L_pixel + c * L_adv and,
for GAN runs, the discriminator with its Adam optimiser, learning-rate
schedule, mixed precision and checkpoint state."""
from __future__ import annotations

import contextlib
import math
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import torch
import torch.distributed as dist
from torch import nn

from ..sr_core.discriminators import build_discriminator
from ..sr_core.losses import (
    PerceptualLoss,
    discriminator_loss,
    focal_frequency_loss,
    generator_adversarial_loss,
    ldl_loss,
    pixel_loss,
)
from ..sr_core.losses.adversarial import check_gan_loss
from .config import TrainConfig
from .degradations.sharpen import usm_sharpen
from .distributed import any_rank

# VGG19 ImageNet weights (torchvision's, as timm republished them as safetensors).
DEFAULT_VGG19_SOURCE = "hf://timm/vgg19.tv_in1k/model.safetensors"


def resolve_vgg19_weights(source: Optional[str]) -> Path:
    """A local path for the perceptual loss's VGG19 weights: ``source`` as a file,
    or an ``hf://`` source (default: timm/vgg19.tv_in1k) fetched through the Hub code."""
    source = source or DEFAULT_VGG19_SOURCE
    if not str(source).startswith("hf://"):
        path = Path(source).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"perceptual_weights_source {path} does not exist")
        return path
    from ..weights.hub import resolve_hub_file

    try:
        return resolve_hub_file(source)
    except Exception as e:
        raise RuntimeError(
            f"could not get the VGG19 weights for the perceptual loss from {source}: {e}\n"
            "Download a vgg19 .safetensors (e.g. timm/vgg19.tv_in1k model.safetensors) and set "
            "perceptual_weights_source to its path, or set perceptual_weight to 0."
        ) from e


def _autocast(device: torch.device, dtype: Optional[torch.dtype]):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def average_gradients(module: nn.Module, world_size: int) -> None:
    """All-reduce ``module``'s gradients (mean over ranks) and its floating
    buffers (batch-norm statistics), so every rank keeps the same weights."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    bufs = [b for b in module.buffers() if b.is_floating_point()]
    for group in (grads, bufs):
        if not group:
            continue
        flat = torch.cat([t.reshape(-1).float() for t in group])
        dist.all_reduce(flat)
        flat /= world_size
        offset = 0
        for t in group:
            n = t.numel()
            t.copy_(flat[offset : offset + n].view_as(t))
            offset += n


class NonFiniteLoss(FloatingPointError):
    """A loss is NaN or infinite; raised before anything steps on it."""

    def __init__(self, name: str, value: float) -> None:
        super().__init__(f"{name} is {value}")
        self.name, self.value = name, value


class GeneratorLosses:
    """Computes the generator loss; owns the discriminator when ``cfg.gan``."""

    def __init__(
        self,
        cfg: TrainConfig,
        device: torch.device,
        amp: Optional[torch.dtype] = None,
        world_size: int = 1,
        memory_format: torch.memory_format = torch.contiguous_format,
    ) -> None:
        self.cfg, self.device, self.amp, self.world_size = cfg, device, amp, world_size
        self.memory_format = memory_format
        self.pixel = pixel_loss(cfg.pixel_loss).to(device) if cfg.pixel_weight else None
        self.perceptual: Optional[PerceptualLoss] = None
        if cfg.perceptual_weight:
            weights = resolve_vgg19_weights(cfg.perceptual_weights_source)
            self.perceptual = PerceptualLoss(weights, cfg.perceptual_layers or None).to(device)
            self.perceptual.to(memory_format=memory_format)
        if cfg.adv_weight and not cfg.gan:
            raise ValueError("adv_weight is set but gan is false; set gan = true for an adversarial stage")
        self.discriminator: Optional[nn.Module] = None
        if cfg.gan:
            check_gan_loss(cfg.gan_loss)
            if not cfg.adv_weight:
                raise ValueError("gan = true needs adv_weight > 0 (Real-ESRGAN uses 0.1)")
            d_config = dict(cfg.discriminator_config)
            if cfg.discriminator == "vgg":
                d_config.setdefault("input_size", cfg.gt_size)
            self.discriminator = build_discriminator(cfg.discriminator, d_config).to(device).train()
            self.discriminator.to(memory_format=memory_format)
            if world_size > 1:  # identical start on every rank
                for t in list(self.discriminator.parameters()) + list(self.discriminator.buffers()):
                    dist.broadcast(t.data, 0)
            self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.d_lr, betas=tuple(cfg.betas),
                                          weight_decay=cfg.weight_decay)
            self.scaler_d = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)
        unknown = set(cfg.gt_usm_losses) - {"pixel", "perceptual"}
        if unknown:
            raise ValueError(f"gt_usm_losses names {sorted(unknown)}; it takes 'pixel' and/or 'perceptual'")
        if self.pixel is None and self.perceptual is None and self.discriminator is None:
            raise ValueError("every loss weight is 0: set pixel_weight, perceptual_weight or adv_weight")

    def _target(self, loss: str, hr: torch.Tensor, sharp: Optional[torch.Tensor]) -> torch.Tensor:
        """``hr`` or its unsharp-masked ``sharp`` for ``loss``, as gt_usm / gt_usm_losses say."""
        return sharp if sharp is not None and loss in self.cfg.gt_usm_losses else hr

    def _d(self, x: torch.Tensor) -> torch.Tensor:
        with _autocast(self.device, self.amp):
            return self.discriminator(x.contiguous(memory_format=self.memory_format)).float()

    def generator_loss(self, out: torch.Tensor, hr: torch.Tensor, iteration: int,
                       ema_out: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, dict[str, float]]:
        """``ema_out``: the EMA generator's output for the same input (needed when ``cfg.ldl_weight``)."""
        cfg = self.cfg
        logs: dict[str, float] = {}
        loss = out.new_zeros(())
        sharp = None
        if cfg.gt_usm and (self.pixel is not None or self.perceptual is not None):
            sharp = usm_sharpen(hr)
        if self.pixel is not None:
            l_pix = self.pixel(out, self._target("pixel", hr, sharp))
            loss = loss + cfg.pixel_weight * l_pix
            logs["l_pix"] = float(l_pix.detach())
        if self.perceptual is not None:
            with _autocast(self.device, self.amp):
                l_per = self.perceptual(out, self._target("perceptual", hr, sharp))
            loss = loss + cfg.perceptual_weight * l_per.float()
            logs["l_percep"] = float(l_per.detach())
        if cfg.fft_weight:
            l_fft = focal_frequency_loss(out, hr)
            loss = loss + cfg.fft_weight * l_fft
            logs["l_fft"] = float(l_fft.detach())
        if cfg.ldl_weight:
            if ema_out is None:
                raise ValueError("ldl_weight needs the EMA generator's output (ema_out)")
            l_ldl = ldl_loss(out, hr, ema_out)
            loss = loss + cfg.ldl_weight * l_ldl
            logs["l_ldl"] = float(l_ldl.detach())
        if self.discriminator is not None:
            for p in self.discriminator.parameters():
                p.requires_grad_(False)
            fake = self._d(out)
            real = None
            if cfg.gan_loss == "ragan":
                with torch.no_grad():
                    real = self._d(hr)
            l_adv = generator_adversarial_loss(cfg.gan_loss, fake, real)
            loss = loss + cfg.adv_weight * l_adv
            logs["l_adv"] = float(l_adv.detach())
        logs = {"loss": float(loss.detach()), **logs}
        return loss, logs

    def discriminator_step(self, out: torch.Tensor, hr: torch.Tensor, iteration: int) -> dict[str, float]:
        """One Adam step of the discriminator on real ``hr`` and detached ``out``."""
        if self.discriminator is None:
            return {}
        for p in self.discriminator.parameters():
            p.requires_grad_(True)
        real = self._d(hr)
        fake = self._d(out.detach())
        l_d = discriminator_loss(self.cfg.gan_loss, real, fake)
        value = float(l_d.detach())
        if any_rank(not math.isfinite(value), l_d.device):  # before stepping: every rank skips together
            raise NonFiniteLoss("l_d", value)
        self.opt_d.zero_grad(set_to_none=True)
        self.scaler_d.scale(l_d).backward()
        if self.world_size > 1:
            average_gradients(self.discriminator, self.world_size)
        self.scaler_d.step(self.opt_d)
        self.scaler_d.update()
        return {"l_d": value, "d_real": float(real.detach().mean()), "d_fake": float(fake.detach().mean())}

    def set_lr(self, schedule: Callable[[float], float]) -> None:
        if self.discriminator is not None:
            lr = schedule(self.cfg.d_lr)
            for group in self.opt_d.param_groups:
                group["lr"] = lr

    def state_dict(self) -> dict[str, Any]:
        if self.discriminator is None:
            return {}
        return {
            "discriminator": self.discriminator.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scaler_d": self.scaler_d.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.discriminator is None:
            return
        if not state:  # a stage-1 checkpoint resumed as a GAN run: the discriminator starts fresh
            print("note: the checkpoint has no discriminator; it starts from scratch", file=sys.stderr)
            return
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.scaler_d.load_state_dict(state["scaler_d"])
