"""The ESRGAN VGG-style and Real-ESRGAN U-Net (spectral norm) discriminators."""
from __future__ import annotations

import pytest
import torch

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
