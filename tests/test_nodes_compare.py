"""GenSR Compare Images: the numbers, the heat-map, the side-by-side view and
what the UI receives."""
from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

from nodes_helpers import fake_comfy, run_node  # noqa: F401


def _gradient(b=1, h=24, w=32, c=3):
    y = torch.linspace(0, 1, h)[:, None, None]
    x = torch.linspace(0, 1, w)[None, :, None]
    img = (0.6 * y + 0.4 * x).expand(h, w, c).clone()
    return img.unsqueeze(0).repeat(b, 1, 1, 1)


def test_identical_images():
    a = _gradient()
    (psnr, ssim, heat, side, passthrough), ui = run_node("GenSRCompare", image_a=a, image_b=a.clone())
    assert math.isinf(psnr) and ssim == pytest.approx(1.0)
    assert heat.shape == a.shape and heat.abs().max() == 0  # no difference = black
    assert side.shape == (1, 24, 64, 3)
    assert passthrough is a
    assert ui["text"][0].startswith("PSNR inf")


def test_known_psnr_and_a_heatmap_on_a_fixed_scale():
    a = torch.full((2, 16, 16, 3), 0.5)
    b = a + 0.1  # MSE 0.01 -> 20 dB
    b[:, :4, :4] = a[:, :4, :4] + 0.3  # a brighter patch
    (psnr, ssim, heat, _, _), ui = run_node("GenSRCompare", image_a=a, image_b=b)
    mse = ((a - b) ** 2).mean().item()
    assert psnr == pytest.approx(10 * math.log10(1 / mse), abs=1e-6)
    assert ssim < 1.0
    assert heat[:, 0, 0].sum() > heat[:, 10, 10].sum() > 0  # larger difference = brighter
    assert torch.allclose(heat[:, 0, 0], torch.ones(2, 3))  # >= 0.25 saturates to white
    assert f"PSNR {psnr:.2f} dB" in ui["text"][0]


def test_b_is_resized_to_a_with_a_note():
    a = _gradient(h=32, w=48)
    b = _gradient(h=16, w=24)
    (psnr, _, heat, side, _), ui = run_node("GenSRCompare", image_a=a, image_b=b)
    assert heat.shape == (1, 32, 48, 3) and side.shape == (1, 32, 96, 3)
    assert psnr > 30  # a smooth gradient survives the resize
    assert "resized from 24x16 to 48x32" in ui["text"][0]


def test_batches_pair_frame_by_frame_and_single_images_broadcast():
    a = _gradient(b=3)
    b = a.clone()
    b[1] = 1 - b[1]
    (psnr, _, heat, _, _), _ = run_node("GenSRCompare", image_a=a, image_b=b)
    assert heat.shape[0] == 3 and heat[0].max() == 0 and heat[2].max() == 0 and heat[1].max() > 0
    (_, _, heat1, _, _), ui = run_node("GenSRCompare", image_a=a, image_b=a[:1])
    assert heat1.shape[0] == 3 and "compared with each" in ui["text"][0]
    with pytest.raises(ValueError, match="same size"):
        run_node("GenSRCompare", image_a=a, image_b=_gradient(b=2))


def test_rgba_fp16_and_tiny_images():
    a = torch.rand(1, 16, 16, 4)
    (psnr, ssim, _, _, _), _ = run_node("GenSRCompare", image_a=a, image_b=a[..., :3].half())
    assert psnr > 45 and ssim > 0.99  # alpha is ignored, fp16 rounding only
    (psnr, ssim, _, _, _), ui = run_node("GenSRCompare", image_a=torch.rand(1, 8, 8, 3), image_b=torch.rand(1, 8, 8, 3))
    assert math.isnan(ssim) and "at least 11x11" in ui["text"][0]


def test_bad_input_says_what_an_image_is():
    with pytest.raises(ValueError, match=r"\(B, H, W, C\)"):
        run_node("GenSRCompare", image_a=torch.rand(16, 16, 3), image_b=torch.rand(16, 16, 3))


def test_ui_gets_the_pair_for_compare_sliders(fake_comfy):
    a, b = _gradient(b=2), _gradient(b=2) * 0.9
    _, ui = run_node("GenSRCompare", image_a=a, image_b=b)
    assert len(ui["a_images"]) == 2 and len(ui["b_images"]) == 2
    assert ui["images"] == ui["a_images"] + ui["b_images"]
    for record in ui["a_images"] + ui["b_images"]:
        assert record["type"] == "temp" and record["subfolder"] == ""
        with Image.open(fake_comfy.temp_dir / record["filename"]) as im:
            assert im.size == (32, 24) and im.mode == "RGB"
    assert [p.name for p in fake_comfy.temp_dir.iterdir() if p.name.endswith(".tmp")] == []
