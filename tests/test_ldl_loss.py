"""LDL artefact loss on errors whose map is derivable by hand."""
from __future__ import annotations

import pytest
import torch

from gensr.sr_core.losses import artifact_map, ldl_loss
from gensr.training.losses import GeneratorLosses
from gensr.training.presets import preset_config


def test_single_pixel_artefact_by_hand():
    # One pixel of one channel is off by d; the EMA output is exact. Residual map: d at one pixel of
    # n = H * W, else 0. Patch variance (unbiased) = (d^2 - d^2 / n) / (n - 1) = d^2 / n; local
    # variance of the 7x7 window centred on it = d^2 / 49 (same formula, n = 49). The map is zero
    # wherever the output is exact, so loss = weight * d / (C * H * W).
    c, h, w, d = 3, 16, 20, 0.5
    gt = torch.rand(1, c, h, w, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = gt.clone()
    out[0, 1, 8, 10] += d
    weight = (d * d / (h * w)) ** 0.2 * (d * d / 49)
    amap = artifact_map(out, gt, gt)
    assert amap[0, 0, 8, 10].item() == pytest.approx(weight, rel=1e-9)
    assert ldl_loss(out, gt, gt).item() == pytest.approx(weight * d / (c * h * w), rel=1e-9)


def test_uniform_error_is_detail_not_artefact():
    # The same error everywhere: zero variance, zero map.
    gt = torch.rand(2, 3, 12, 12)
    assert ldl_loss(gt + 0.1, gt, gt).item() == pytest.approx(0.0, abs=1e-12)  # float rounding of gt + 0.1 - gt


def test_pixels_better_than_the_ema_are_not_penalised():
    g = torch.Generator().manual_seed(1)
    gt = torch.rand(1, 3, 12, 12, generator=g)
    noise = torch.randn(1, 3, 12, 12, generator=g)
    out, ema = gt + 0.05 * noise, gt + 0.1 * noise  # every pixel closer to gt than the EMA's
    assert ldl_loss(out, gt, ema).item() == 0.0
    assert ldl_loss(ema, gt, out).item() > 0.0


def test_gradient_pushes_the_artefact_towards_the_target():
    gt = torch.zeros(1, 1, 9, 9)
    out = gt.clone()
    out[0, 0, 4, 4] = 1.0
    out.requires_grad_(True)
    ldl_loss(out, gt, gt).backward()
    assert out.grad[0, 0, 4, 4] > 0  # descending lowers the spike
    assert out.grad.count_nonzero() == 1  # the map is a weight, not differentiated


def test_generator_loss_adds_weighted_ldl():
    cfg = preset_config("tiny-test").replace(ldl_weight=2.0)
    losses = GeneratorLosses(cfg, torch.device("cpu"))
    gt = torch.rand(1, 3, 16, 16)
    out = gt.clone()
    out[0, 0, 8, 8] += 0.3
    total, logs = losses.generator_loss(out, gt, 0, ema_out=gt)
    expected_ldl = ldl_loss(out, gt, gt).item()
    assert logs["l_ldl"] == pytest.approx(expected_ldl)
    assert total.item() == pytest.approx(logs["l_pix"] + 2.0 * expected_ldl)
    with pytest.raises(ValueError, match="EMA"):
        losses.generator_loss(out, gt, 0)


def test_gan_run_with_ldl_and_icnr(tmp_path):
    import json

    from gensr.training.loop import Trainer
    from training_env import tiny_config

    stage1 = Trainer(tiny_config(tmp_path, iterations=4, val=None)).run()
    cfg = tiny_config(tmp_path, preset="tiny-test-gan", pretrained=str(stage1), iterations=3, log_every=1,
                      ldl_weight=1.0, icnr=True, val_every=3)
    Trainer(cfg).run()
    records = [json.loads(l) for l in (tmp_path / "runs" / "tiny-test-gan" / "log.jsonl").read_text().splitlines()]
    steps = [r for r in records if "l_ldl" in r]
    assert len(steps) == 3
    assert steps[0]["loss"] == pytest.approx(steps[0]["l_pix"] + steps[0]["l_ldl"] + 0.1 * steps[0]["l_adv"], rel=1e-4)
    val = [r["validation"] for r in records if "validation" in r]
    assert all("grid_db" in v and "hf_ratio" in v for v in val)
