"""Focal frequency loss against hand-derived values: by Parseval, a difference
made of cosines puts its energy a^2/2 (per pixel) on their frequency bins, each
weighted by its amplitude over the largest one."""
from __future__ import annotations

import math

import pytest
import torch

from gensr.sr_core.losses import focal_frequency_loss


def _cosine(size: int, k: int, l: int, amplitude: float) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64), indexing="ij")
    return amplitude * torch.cos(2 * math.pi * (k * y + l * x) / size)


def test_identical_images_cost_nothing():
    gt = torch.rand(2, 3, 16, 16)
    assert focal_frequency_loss(gt, gt.clone()).item() == 0.0


def test_one_frequency_costs_its_energy():
    gt = torch.rand(1, 1, 32, 32, dtype=torch.float64)
    out = gt + _cosine(32, 4, 4, 0.1)  # a pure x4 grid pattern
    # both of its bins carry the peak error (weight 1): the loss is the pixel MSE, a^2/2
    assert focal_frequency_loss(out, gt).item() == pytest.approx(0.1**2 / 2, rel=1e-5)


def test_smaller_errors_are_weighted_down_by_their_amplitude():
    gt = torch.zeros(1, 1, 32, 32)
    out = (_cosine(32, 0, 8, 0.2) + _cosine(32, 3, 1, 0.1)).float()[None, None]
    # weights 1 and 0.1 / 0.2 = 1/2: 0.2^2/2 + (0.1^2/2) / 2, where the plain MSE is 0.2^2/2 + 0.1^2/2
    assert focal_frequency_loss(out, gt).item() == pytest.approx(0.02 + 0.0025, rel=1e-4)
    assert focal_frequency_loss(out, gt, alpha=0.0).item() == pytest.approx(0.025, rel=1e-4)


def test_the_weight_carries_no_gradient_and_shapes_must_match():
    gt = torch.zeros(1, 1, 8, 8)
    out = torch.full((1, 1, 8, 8), 0.5, requires_grad=True)
    focal_frequency_loss(out, gt).backward()
    # only the DC bin differs (weight 1): d/dout mean(|F(out)|^2) = 2 * out / N, with N = 64
    assert torch.allclose(out.grad, torch.full_like(out, 2 * 0.5 / 64))
    with pytest.raises(ValueError, match="differ in shape"):
        focal_frequency_loss(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 4))


def test_training_adds_the_weighted_frequency_loss():
    from gensr.training.config import TrainConfig
    from gensr.training.losses import GeneratorLosses

    hr = torch.full((1, 3, 32, 32), 0.5)
    out = hr + _cosine(32, 8, 8, 0.05).float()
    loss, logs = GeneratorLosses(TrainConfig(fft_weight=2.0), torch.device("cpu")).generator_loss(out, hr, 0)
    assert logs["l_fft"] == pytest.approx(0.05**2 / 2, rel=1e-4)
    assert loss.item() == pytest.approx(logs["l_pix"] + 2.0 * logs["l_fft"], rel=1e-6)
