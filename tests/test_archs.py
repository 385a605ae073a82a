"""The generator architectures compute the published functions (checked against
plain functional re-implementations of Real-ESRGAN's RRDBNet and
SRVGGNetCompact), expose the attributes users rely on, and train."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gensr.sr_core.archs import ARCHITECTURES, RRDBNet, SRVGGNetCompact, build_generator


def basicsr_pixel_unshuffle(x: torch.Tensor, s: int) -> torch.Tensor:
    """Real-ESRGAN's pixel_unshuffle, written out with view/permute."""
    b, c, h, w = x.shape
    return x.view(b, c, h // s, s, w // s, s).permute(0, 1, 3, 5, 2, 4).reshape(b, c * s * s, h // s, w // s)


def reference_rrdbnet(sd: dict, x: torch.Tensor, num_block: int, num_upsample: int, unshuffle: int) -> torch.Tensor:
    def conv(name: str, t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, sd[f"{name}.weight"], sd[f"{name}.bias"], padding=1)

    def lrelu(t: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(t, 0.2)

    def rdb(name: str, t: torch.Tensor) -> torch.Tensor:
        feats = [t]
        for j in range(1, 5):
            feats.append(lrelu(conv(f"{name}.conv{j}", torch.cat(feats, 1))))
        return conv(f"{name}.conv5", torch.cat(feats, 1)) * 0.2 + t

    if unshuffle > 1:
        x = basicsr_pixel_unshuffle(x, unshuffle)
    feat = conv("conv_first", x)
    body = feat
    for n in range(num_block):
        r = body
        for k in (1, 2, 3):
            r = rdb(f"body.{n}.rdb{k}", r)
        body = r * 0.2 + body
    feat = feat + conv("conv_body", body)
    for i in range(1, num_upsample + 1):
        feat = lrelu(conv(f"conv_up{i}", F.interpolate(feat, scale_factor=2, mode="nearest")))
    return conv("conv_last", lrelu(conv("conv_hr", feat)))


def reference_compact(sd: dict, x: torch.Tensor, num_conv: int, scale: int) -> torch.Tensor:
    t = x
    for i in range(num_conv + 1):
        t = F.conv2d(t, sd[f"body.{2 * i}.weight"], sd[f"body.{2 * i}.bias"], padding=1)
        t = F.prelu(t, sd[f"body.{2 * i + 1}.weight"])
    last = 2 * (num_conv + 1)
    t = F.conv2d(t, sd[f"body.{last}.weight"], sd[f"body.{last}.bias"], padding=1)
    return F.pixel_shuffle(t, scale) + F.interpolate(x, scale_factor=scale, mode="nearest")


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("scale, num_upsample, unshuffle", [(1, 2, 4), (2, 2, 2), (4, 2, 1), (8, 3, 1)])
def test_rrdbnet_matches_real_esrgan(scale, num_upsample, unshuffle, channels):
    torch.manual_seed(0)
    model = RRDBNet(channels, channels, scale, num_feat=6, num_block=2, num_grow_ch=3).eval()
    assert model.config["num_upsample"] == num_upsample and model.config["unshuffle"] == unshuffle
    assert model.conv_first.in_channels == channels * unshuffle**2
    assert model.size_multiple == unshuffle
    x = torch.rand(2, channels, 8, 12)
    with torch.no_grad():
        out = model(x)
    assert out.shape == (2, channels, 8 * scale, 12 * scale)
    ref = reference_rrdbnet(model.state_dict(), x, 2, num_upsample, unshuffle)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("num_upsample, scale", [(0, 1), (1, 2)])
def test_rrdbnet_without_unshuffle_for_old_esrgan_1x_2x(num_upsample, scale):
    model = RRDBNet(3, 3, scale, num_feat=4, num_block=1, num_grow_ch=2, num_upsample=num_upsample, unshuffle=1).eval()
    assert model.size_multiple == 1 and model.conv_first.in_channels == 3
    x = torch.rand(1, 3, 5, 7)  # any size works without unshuffle
    with torch.no_grad():
        out = model(x)
    assert out.shape == (1, 3, 5 * scale, 7 * scale)
    torch.testing.assert_close(out, reference_rrdbnet(model.state_dict(), x, 1, num_upsample, 1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("scale", [1, 2, 3, 4])
def test_compact_matches_real_esrgan(scale, channels):
    torch.manual_seed(0)
    model = SRVGGNetCompact(channels, channels, num_feat=5, num_conv=3, scale=scale).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.PReLU):
                m.weight.uniform_(0.05, 0.5)
    x = torch.rand(2, channels, 6, 9)
    with torch.no_grad():
        out = model(x)
    assert out.shape == (2, channels, 6 * scale, 9 * scale)
    torch.testing.assert_close(out, reference_compact(model.state_dict(), x, 3, scale), rtol=1e-5, atol=1e-6)


def test_compact_adds_the_nearest_upsampled_input():
    model = SRVGGNetCompact(3, 3, num_feat=4, num_conv=1, scale=3).eval()
    with torch.no_grad():
        model.body[-1].weight.zero_()
        model.body[-1].bias.zero_()
        x = torch.rand(1, 3, 4, 5)
        assert torch.equal(model(x), x.repeat_interleave(3, 2).repeat_interleave(3, 3))


def test_compact_with_different_in_and_out_channels():
    model = SRVGGNetCompact(4, 3, num_feat=4, num_conv=1, scale=2).eval()
    with torch.no_grad():
        model.body[-1].weight.zero_()
        model.body[-1].bias.zero_()
        x = torch.rand(1, 4, 3, 3)
        out = model(x)
    assert out.shape == (1, 3, 6, 6)
    torch.testing.assert_close(out, F.interpolate(x[:, :3], scale_factor=2, mode="nearest"))


def test_output_is_raw_and_unclamped():
    model = SRVGGNetCompact(3, 3, num_feat=4, num_conv=1, scale=2).eval()
    with torch.no_grad():
        model.body[-1].bias.fill_(5.0)
        out = model(torch.rand(1, 3, 4, 4))
    assert out.min() > 1.0


@pytest.mark.parametrize(
    "cls, config",
    [
        (RRDBNet, dict(in_channels=4, out_channels=4, scale=2, num_feat=7, num_block=3, num_grow_ch=5)),
        (RRDBNet, dict(in_channels=1, out_channels=1, scale=1, num_feat=5, num_block=1, num_grow_ch=3, num_upsample=0, unshuffle=1)),
        (SRVGGNetCompact, dict(in_channels=1, out_channels=1, num_feat=9, num_conv=5, scale=3)),
    ],
)
def test_attributes_and_rebuild_from_config(cls, config):
    model = cls(**config)
    assert ARCHITECTURES[model.arch].model is cls
    assert model.scale == config["scale"]
    assert model.in_channels == config["in_channels"] and model.out_channels == config["out_channels"]
    assert model.config.items() >= config.items()
    rebuilt = build_generator(model.arch, model.config)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    assert rebuilt.config == model.config


@pytest.mark.parametrize("bad", [3, 5, 16, 0])
def test_rrdbnet_rejects_unsupported_scales(bad):
    with pytest.raises(ValueError, match="scale"):
        RRDBNet(scale=bad, num_feat=4, num_block=1)


def test_rrdbnet_rejects_an_inconsistent_upsampling_plan():
    with pytest.raises(ValueError, match="scale"):
        RRDBNet(scale=4, num_feat=4, num_block=1, num_upsample=1, unshuffle=1)


@pytest.mark.parametrize("bad", [0, 5, 8])
def test_compact_rejects_unsupported_scales(bad):
    with pytest.raises(ValueError, match="scale"):
        SRVGGNetCompact(scale=bad, num_feat=4, num_conv=1)


def test_build_generator_names_known_architectures():
    with pytest.raises(ValueError, match="rrdbnet.*compact|compact.*rrdbnet"):
        build_generator("swinir", {})


@pytest.mark.parametrize(
    "model",
    [
        RRDBNet(3, 3, 2, num_feat=6, num_block=1, num_grow_ch=3),
        SRVGGNetCompact(3, 3, num_feat=6, num_conv=2, scale=4),
    ],
    ids=["rrdbnet", "compact"],
)
def test_generators_train(model):
    torch.manual_seed(0)
    model.train()
    x = torch.rand(2, 3, 8, 8)
    target = torch.rand(2, 3, 8 * model.scale, 8 * model.scale)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = F.l1_loss(model(x), target)
        loss.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
