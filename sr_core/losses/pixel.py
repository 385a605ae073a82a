"""Pixel losses."""
from __future__ import annotations

import torch
from torch import nn


class L1Loss(nn.Module):
    """Mean absolute error."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (pred - target).abs().mean()


class CharbonnierLoss(nn.Module):
    """sqrt((pred - target)^2 + eps^2), a differentiable L1 (Lai et al. 2017)."""

    def __init__(self, eps: float = 1e-3) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.sqrt((pred - target) ** 2 + self.eps**2).mean()


class MSELoss(nn.Module):
    """Mean squared error: what PSNR measures (a last, low-lr polish after L1)."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (pred - target).pow(2).mean()


def pixel_loss(name: str) -> nn.Module:
    """The pixel loss called ``name`` ('l1', 'charbonnier' or 'mse')."""
    losses = {"l1": L1Loss, "charbonnier": CharbonnierLoss, "mse": MSELoss}
    if name not in losses:
        raise ValueError(f"unknown pixel loss {name!r}; use one of {', '.join(losses)}")
    return losses[name]()
