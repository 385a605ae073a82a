"""The ESRGAN VGG-style and Real-ESRGAN U-Net (spectral norm) discriminators."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gensr.sr_core.discriminators import UNetDiscriminatorSN, VGGStyleDiscriminator, build_discriminator


@pytest.mark.parametrize("size", [128, 256])
def test_vgg_discriminator_gives_one_logit_per_image(size):
    d = VGGStyleDiscriminator(num_feat=4, input_size=size)
    out = d(torch.rand(2, 3, size, size))
    assert out.shape == (2, 1)
    assert torch.isfinite(out).all()
    # five stride-2 stages for 128 px, six for 256 px, each down to 4x4 before the linear layers
    assert hasattr(d, "conv4_1") and hasattr(d, "conv5_1") == (size == 256)
    assert d.linear1.in_features == 4 * 8 * 4 * 4


def test_vgg_discriminator_keys_follow_basicsr():
    keys = set(VGGStyleDiscriminator(num_feat=4).state_dict())
    for k in ("conv0_0.weight", "conv0_0.bias", "conv0_1.weight", "bn0_1.running_mean", "conv4_1.weight",
              "bn4_1.weight", "linear1.weight", "linear2.bias"):
        assert k in keys
    assert "conv0_1.bias" not in keys  # convolutions followed by batch norm have no bias


def test_vgg_discriminator_refuses_other_sizes():
    with pytest.raises(ValueError, match="128 or 256"):
        VGGStyleDiscriminator(input_size=192)
    with pytest.raises(ValueError, match="set gt_size to 128"):
        VGGStyleDiscriminator(num_feat=4)(torch.rand(1, 3, 64, 64))


def test_unet_discriminator_gives_a_logit_map_of_the_input_size():
    d = UNetDiscriminatorSN(num_feat=4)
    out = d(torch.rand(2, 3, 48, 64))
    assert out.shape == (2, 1, 48, 64)
    assert torch.isfinite(out).all()
    with pytest.raises(ValueError, match="multiples of 8"):
        d(torch.rand(1, 3, 30, 32))


def test_unet_discriminator_uses_spectral_norm_with_real_esrgan_keys():
    sd = UNetDiscriminatorSN(num_feat=4).state_dict()
    for i in range(1, 9):
        assert f"conv{i}.weight_orig" in sd and f"conv{i}.weight_u" in sd and f"conv{i}.weight_v" in sd
    assert "conv0.weight" in sd and "conv0.bias" in sd and "conv9.weight" in sd
    assert "conv0.weight_orig" not in sd and "conv9.weight_orig" not in sd


def test_spectral_norm_bounds_the_largest_singular_value():
    torch.manual_seed(0)
    d = UNetDiscriminatorSN(num_feat=4).train()
    with torch.no_grad():
        d.conv4.weight_orig.mul_(50.0)  # a weight with a large spectral norm
        for _ in range(30):  # power iterations run in training-mode forwards
            d(torch.rand(1, 3, 16, 16))
    w = d.conv4.weight.detach().flatten(1)
    assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, abs=0.02)


def test_skip_connections_change_the_output():
    torch.manual_seed(0)
    a = UNetDiscriminatorSN(num_feat=4, skip_connection=True).eval()
    b = UNetDiscriminatorSN(num_feat=4, skip_connection=False).eval()
    b.load_state_dict(a.state_dict())
    x = torch.rand(1, 3, 16, 16)
    assert not torch.allclose(a(x), b(x))


def test_discriminators_train_and_build_by_name():
    torch.manual_seed(0)
    for d, size in ((build_discriminator("unet", {"num_feat": 4}), 16), (build_discriminator("vgg", {"num_feat": 2}), 128)):
        before = [p.detach().clone() for p in d.parameters()]
        opt = torch.optim.Adam(d.parameters(), lr=1e-2)
        d(torch.rand(2, 3, size, size)).mean().backward()
        opt.step()
        assert any(not torch.equal(p, q) for p, q in zip(d.parameters(), before))
    with pytest.raises(ValueError, match="unknown discriminator"):
        build_discriminator("patchgan")
    with pytest.raises(ValueError, match="bad discriminator_config"):
        build_discriminator("unet", {"width": 3})


# --------------------------------------------------------------------------- learning


def easy_pair(n: int, size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(real, fake) batches: smooth images (a random colour and a gentle gradient) versus the
    same images with strong pixel noise, the kind of difference an SR discriminator must see."""
    colour = torch.rand(n, 3, 1, 1, generator=gen) * 0.6 + 0.2
    ramp = torch.linspace(-0.1, 0.1, size).view(1, 1, 1, size) * torch.randn(n, 1, 1, 1, generator=gen).sign()
    real = (colour + ramp).expand(n, 3, size, size).clamp(0, 1)
    fake = (real + 0.25 * torch.randn(n, 3, size, size, generator=gen)).clamp(0, 1)
    return real, fake


def logits_per_image(d: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return d(x).flatten(1).mean(1)  # the U-Net's map is averaged, the VGG gives one logit


@pytest.mark.parametrize("name, config, size", [("unet", {"num_feat": 8}, 32), ("vgg", {"num_feat": 4}, 128)])
def test_each_discriminator_learns_to_separate_two_easy_distributions(name, config, size):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    d = build_discriminator(name, config).train()
    opt = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.5, 0.99))
    labels = torch.cat([torch.ones(8), torch.zeros(8)])
    for _ in range(25):
        real, fake = easy_pair(8, size, gen)
        loss = F.binary_cross_entropy_with_logits(logits_per_image(d, torch.cat([real, fake])), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():  # in training mode, as GAN training uses it (the VGG's batch norm on batch statistics)
        real, fake = easy_pair(32, size, torch.Generator().manual_seed(99))  # images it never saw
        logits = logits_per_image(d, torch.cat([real, fake]))
        lr_, lf = logits[:32], logits[32:]
    accuracy = ((lr_ > 0).float().mean() + (lf < 0).float().mean()).item() / 2
    assert accuracy >= 0.95, f"{name}: accuracy {accuracy:.2f} on held-out images"
    assert lr_.min() > lf.max(), f"{name}: the real and fake logits overlap"


def test_spectral_norm_keeps_every_largest_singular_value_near_one_while_training():
    """Each spectral-norm layer of the U-Net, its raw weights scaled far from norm 1 and
    then trained: the weight the layer uses has its largest singular value at 1."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(2)
    d = UNetDiscriminatorSN(num_feat=8).train()
    with torch.no_grad():
        for i in range(1, 9):  # raw weights of all sizes: spectral norms from ~0.3 to ~20
            getattr(d, f"conv{i}").weight_orig.mul_(float(torch.empty(1).uniform_(0.5, 20.0)))
    opt = torch.optim.Adam(d.parameters(), lr=1e-2)
    for _ in range(40):
        real, fake = easy_pair(4, 32, gen)
        loss = F.softplus(-logits_per_image(d, real)).mean() + F.softplus(logits_per_image(d, fake)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for i in range(1, 9):
        conv = getattr(d, f"conv{i}")
        raw = torch.linalg.matrix_norm(conv.weight_orig.detach().flatten(1), ord=2).item()
        used = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2).item()
        assert abs(raw - 1) > 0.3, f"conv{i}: the raw weight should be far from norm 1 for this to test anything ({raw:.2f})"
        assert used == pytest.approx(1.0, abs=0.05), f"conv{i}: largest singular value {used:.3f}"
