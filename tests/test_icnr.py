"""ICNR: the convolution before a pixel shuffle starts as one kernel per output
channel for all sub-pixels, so the shuffled output is constant on r x r blocks
(a convolution followed by nearest-neighbour upsampling)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gensr.sr_core.archs import SPAN, RealPLKSR, RRDBNet, SRVGGNetCompact
from gensr.sr_core.archs.icnr import apply_icnr, icnr_, icnr_project_
from gensr.training.loop import build_generator_for
from gensr.training.presets import preset_config


def blocks_are_constant(y: torch.Tensor, r: int) -> bool:
    # Every r x r block equals its top-left pixel repeated.
    return torch.equal(y, F.interpolate(y[..., ::r, ::r], scale_factor=r, mode="nearest"))


def test_icnr_conv_then_shuffle_is_nearest_upsampling():
    torch.manual_seed(0)
    conv = nn.Conv2d(5, 3 * 16, 3, padding=1)
    x = torch.rand(2, 5, 7, 9)
    assert not blocks_are_constant(F.pixel_shuffle(conv(x), 4), 4)  # the default init has a period-4 pattern
    icnr_(conv, 4)
    y = F.pixel_shuffle(conv(x), 4)
    assert blocks_are_constant(y, 4)
    # ... and the per-channel values are a plain convolution with the first kernel of each group.
    ref = F.conv2d(x, conv.weight[::16], conv.bias[::16], padding=1)
    torch.testing.assert_close(y[..., ::4, ::4], ref)


def test_icnr_keeps_pytorchs_scale_of_weights():
    # Kaiming-uniform with a = sqrt(5): U(-b, b), b = 1 / sqrt(fan_in); fan_in = 32 * 3 * 3.
    torch.manual_seed(0)
    conv = nn.Conv2d(32, 48, 3, padding=1)
    icnr_(conv, 4)
    bound = 1 / (32 * 9) ** 0.5
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.9 * bound
    assert conv.bias.abs().max() <= bound


def test_projection_keeps_the_mean_and_is_idempotent():
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 2 * 4, 3, padding=1)
    w0, b0 = conv.weight.detach().clone(), conv.bias.detach().clone()
    icnr_project_(conv, 2)
    # Output channel c gets the mean of the original kernels c*4 .. c*4+3.
    torch.testing.assert_close(conv.weight[0], w0[0:4].mean(0))
    torch.testing.assert_close(conv.weight[7], w0[4:8].mean(0))
    torch.testing.assert_close(conv.bias[5], b0[4:8].mean())
    w1 = conv.weight.detach().clone()
    icnr_project_(conv, 2)
    assert torch.equal(conv.weight, w1)
    assert blocks_are_constant(F.pixel_shuffle(conv(torch.rand(1, 4, 5, 5)), 2), 2)


def test_icnr_compact_model_output_has_no_sub_pixel_pattern():
    torch.manual_seed(0)
    model = SRVGGNetCompact(num_feat=8, num_conv=2, scale=4)
    x = torch.rand(1, 3, 6, 6)
    assert not blocks_are_constant(model(x), 4)
    assert apply_icnr(model) == 1
    # body -> nearest x4, plus the nearest-upsampled input: constant 4x4 blocks.
    assert blocks_are_constant(model(x), 4)


def nearest(x: torch.Tensor, r: int) -> torch.Tensor:
    return F.interpolate(x, scale_factor=r, mode="nearest")


# (model, what the model adds to its pixel-shuffled output: spelled out here
# from each architecture's paper/forward, not taken from the model's code)
PIXEL_SHUFFLE_MODELS = {
    "compact": (lambda: SRVGGNetCompact(num_feat=8, num_conv=2, scale=4), lambda x: nearest(x, 4)),
    "span": (lambda: SPAN(num_feat=8, scale=4), lambda x: 0),
    "span-x2-no-norm": (lambda: SPAN(in_channels=1, out_channels=1, num_feat=8, scale=2, norm=False), lambda x: 0),
    "realplksr": (lambda: RealPLKSR(num_feat=8, num_block=1, kernel_size=5, scale=4), lambda x: nearest(x, 4)),
    "realplksr-x3-layer-norm": (lambda: RealPLKSR(num_feat=8, num_block=1, kernel_size=5, scale=3, layer_norm=True),
                                lambda x: nearest(x, 3)),
}


@pytest.mark.parametrize("name", sorted(PIXEL_SHUFFLE_MODELS))
def test_icnr_output_of_every_pixel_shuffle_architecture_is_nearest_upsampled(name):
    """After ICNR the model's output is its low-resolution output (the conv with
    one kernel per channel) upsampled nearest, plus its residual: no sub-pixel
    pattern at the start of training."""
    build, residual = PIXEL_SHUFFLE_MODELS[name]
    torch.manual_seed(0)
    model = build().eval()
    (conv, r), = model.pixel_shuffle_convs()
    x = torch.rand(1, model.in_channels, 6, 5)
    with torch.no_grad():
        assert not blocks_are_constant(model(x), r)  # the default init has a period-r pattern
        assert apply_icnr(model) == 1
        seen = []
        handle = conv.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
        y = model(x)
        handle.remove()
        # Expected: the conv's input through one kernel per output channel, upsampled nearest.
        g = r * r
        low = F.conv2d(seen[0], conv.weight[::g], conv.bias[::g], padding=conv.padding)
        expected = nearest(low, r) + residual(x)
    assert y.shape == (1, model.out_channels, 6 * r, 5 * r)
    assert blocks_are_constant(y, r)
    torch.testing.assert_close(y, expected, rtol=1e-5, atol=1e-5)


def test_icnr_refuses_dysample_realplksr():
    """DySample samples every channel of RealPLKSR's tail bilinearly at learned
    offsets: no conv feeds a pixel shuffle, so ICNR has nothing to tie."""
    model = RealPLKSR(num_feat=8, num_block=1, kernel_size=5, scale=2, dysample=True)
    assert model.pixel_shuffle_convs() == []
    with pytest.raises(ValueError, match="RealPLKSR has no convolution before a pixel shuffle"):
        apply_icnr(model)


def test_icnr_refuses_architectures_without_pixel_shuffle():
    with pytest.raises(ValueError, match="no convolution before a pixel shuffle"):
        apply_icnr(RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, scale=4))
    with pytest.raises(ValueError, match="not a multiple of 4x4"):
        icnr_(nn.Conv2d(3, 20, 3), 4)


def test_training_option_icnr(tmp_path):
    cfg = preset_config("tiny-test").replace(icnr=True)
    torch.manual_seed(0)
    model = build_generator_for(cfg)
    assert blocks_are_constant(model(torch.rand(1, 3, 5, 5)), 4)
    # Over pretrained weights: the tail becomes the mean of its sub-pixel kernels.
    from gensr.weights import save_model

    torch.manual_seed(1)
    trained = SRVGGNetCompact(num_feat=8, num_conv=2, scale=4)
    path = save_model(trained, tmp_path / "m.safetensors")
    model = build_generator_for(cfg.replace(pretrained=str(path)))
    torch.testing.assert_close(model.body[-1].weight[:16], trained.body[-1].weight[:16].mean(0).expand(16, -1, -1, -1))
    torch.testing.assert_close(model.body[0].weight, trained.body[0].weight)
