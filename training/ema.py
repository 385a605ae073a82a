"""Exponential moving average of the generator's weights."""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps ``ema = decay * ema + (1 - decay) * weights`` after every step.

    With ``warmup``, update n (1-based) uses ``min(decay, (1 + n) / (10 + n))``
    (TensorFlow's ``num_updates``), so a short run's average is not dominated by
    its starting weights: 0.999 alone keeps e^-3 = 5% of them after 3,000 steps.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = False) -> None:
        self.decay, self.warmup = decay, warmup
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    def decay_at(self, n: int) -> float:
        """The decay of update ``n`` (1-based)."""
        return min(self.decay, (1.0 + n) / (10.0 + n)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module, n: int = 1) -> None:
        """Update ``n`` (1-based; the training iteration that just ended)."""
        weight = 1.0 - self.decay_at(n)
        for e, p in zip(self.module.parameters(), model.parameters()):
            e.lerp_(p.detach(), weight)
        for e, b in zip(self.module.buffers(), model.buffers()):
            e.copy_(b)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, sd: dict) -> None:
        self.module.load_state_dict(sd)
