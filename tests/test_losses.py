"""Pixel, VGG19 perceptual and adversarial losses."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from gensr.sr_core.losses import (
    DEFAULT_LAYER_WEIGHTS,
    VGG19_LAYERS,
    CharbonnierLoss,
    L1Loss,
    PerceptualLoss,
    VGG19Features,
    discriminator_loss,
    generator_adversarial_loss,
    pixel_loss,
)

# ---------------------------------------------------------------- pixel


def test_pixel_losses_known_values():
    a = torch.tensor([0.0, 0.5, 1.0])
    b = torch.tensor([0.0, 0.0, 0.0])
    assert L1Loss()(a, b).item() == pytest.approx(0.5)
    expected = (1e-3 + math.sqrt(0.25 + 1e-6) + math.sqrt(1 + 1e-6)) / 3
    assert CharbonnierLoss()(a, b).item() == pytest.approx(expected, rel=1e-6)
    assert isinstance(pixel_loss("charbonnier"), CharbonnierLoss)
    assert pixel_loss("mse")(a, b).item() == pytest.approx((0.25 + 1.0) / 3)  # PSNR's error: 10*log10(1/that)
    with pytest.raises(ValueError, match="unknown pixel loss"):
        pixel_loss("l3")


# ---------------------------------------------------------------- VGG19


def timm_like_vgg19(last: str = "conv2_2", seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights with timm/vgg19.tv_in1k key names: features.N.* plus classifier keys."""
    torch.manual_seed(seed)
    sd = {f"features.{k}": v for k, v in VGG19Features(last).features.state_dict().items()}
    sd["pre_logits.fc1.weight"] = torch.zeros(8, 512, 1, 1)  # ignored
    sd["head.fc.weight"] = torch.zeros(10, 8)  # ignored
    return sd


def test_vgg19_layer_indices_match_torchvision_and_timm():
    # features.N in torchvision/timm vgg19: conv1_2 = 2, conv2_2 = 7, conv3_4 = 16, conv4_4 = 25, conv5_4 = 34
    assert [VGG19_LAYERS.index(n) for n in DEFAULT_LAYER_WEIGHTS] == [2, 7, 16, 25, 34]
    assert VGG19_LAYERS.index("pool5") == 36
    with torch.device("meta"):  # shapes only
        sd = VGG19Features("conv5_4").state_dict()
    conv_indices = sorted({int(k.split(".")[1]) for k in sd})
    assert conv_indices == [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
    assert sd["features.34.weight"].shape == (512, 512, 3, 3)
    assert sd["features.0.weight"].shape == (64, 3, 3, 3)


def test_default_layer_weights_are_esrgans():
    assert DEFAULT_LAYER_WEIGHTS == {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0}


def test_perceptual_loss_matches_a_hand_computation(tmp_path):
    sd = timm_like_vgg19("conv2_2")
    path = tmp_path / "vgg19.safetensors"
    save_file(sd, str(path))
    loss = PerceptualLoss(path, {"conv1_2": 0.1, "conv2_2": 1.0})
    torch.manual_seed(1)
    x, y = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)

    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def feats(t):  # conv1_1, relu, conv1_2 (before relu) ... by hand from the raw weights
        t = (t - mean) / std
        t = F.relu(F.conv2d(t, sd["features.0.weight"], sd["features.0.bias"], padding=1))
        c12 = F.conv2d(t, sd["features.2.weight"], sd["features.2.bias"], padding=1)
        t = F.max_pool2d(F.relu(c12), 2)
        t = F.relu(F.conv2d(t, sd["features.5.weight"], sd["features.5.bias"], padding=1))
        c22 = F.conv2d(t, sd["features.7.weight"], sd["features.7.bias"], padding=1)
        return c12, c22

    (a1, a2), (b1, b2) = feats(x), feats(y)
    expected = 0.1 * (a1 - b1).abs().mean() + 1.0 * (a2 - b2).abs().mean()
    assert loss(x, y).item() == pytest.approx(expected.item(), rel=1e-5)
    assert loss(x, x).item() == 0.0
    # features before ReLU can be negative: the loss compares them, not their ReLU
    assert (a1 < 0).any()


def test_perceptual_loss_gradient_reaches_the_prediction_only():
    loss = PerceptualLoss(timm_like_vgg19("conv1_2"), {"conv1_2": 1.0})
    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    y = torch.rand(1, 3, 8, 8, requires_grad=True)
    loss(x, y).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert y.grad is None
    assert all(not p.requires_grad for p in loss.parameters())
    loss.train()
    assert not loss.vgg.training


def test_perceptual_loss_accepts_prefixed_state_dicts_and_builds_only_needed_layers():
    sd = {f"module.{k}": v for k, v in timm_like_vgg19("conv1_2").items()}
    loss = PerceptualLoss(sd, {"conv1_2": 1.0})
    assert len(loss.vgg.features) == 3  # conv1_1, relu1_1, conv1_2


def test_perceptual_loss_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="lack .*features.5.weight"):
        PerceptualLoss(timm_like_vgg19("conv1_2"), {"conv2_2": 1.0})
    with pytest.raises(ValueError, match="unknown VGG19 layer"):
        PerceptualLoss(timm_like_vgg19("conv1_2"), {"conv9_9": 1.0})
    bad = timm_like_vgg19("conv1_2")
    bad["features.2.weight"] = torch.zeros(32, 64, 3, 3)
    with pytest.raises(ValueError, match="shape"):
        PerceptualLoss(bad, {"conv1_2": 1.0})
    with pytest.raises(ValueError, match=".safetensors"):
        PerceptualLoss(tmp_path / "vgg19.pth", {"conv1_2": 1.0})
    with pytest.raises(ValueError, match="RGB"):
        PerceptualLoss(timm_like_vgg19("conv1_2"), {"conv1_2": 1.0})(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))


# ---------------------------------------------------------------- adversarial


def bce(x, target):
    return -(target * math.log(1 / (1 + math.exp(-x))) + (1 - target) * math.log(1 - 1 / (1 + math.exp(-x))))


def test_vanilla_gan_losses_known_values():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])
    d = discriminator_loss("vanilla", real, fake).item()
    assert d == pytest.approx((bce(2, 1) + bce(0, 1)) / 2 + (bce(-1, 0) + bce(1, 0)) / 2, rel=1e-6)
    g = generator_adversarial_loss("vanilla", fake).item()
    assert g == pytest.approx((bce(-1, 1) + bce(1, 1)) / 2, rel=1e-6)


def test_ragan_losses_known_values():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])
    mr, mf = 1.0, 0.0
    d = discriminator_loss("ragan", real, fake).item()
    exp_d = 0.5 * ((bce(2 - mf, 1) + bce(0 - mf, 1)) / 2 + (bce(-1 - mr, 0) + bce(1 - mr, 0)) / 2)
    assert d == pytest.approx(exp_d, rel=1e-6)
    g = generator_adversarial_loss("ragan", fake, real).item()
    exp_g = 0.5 * ((bce(2 - mf, 0) + bce(0 - mf, 0)) / 2 + (bce(-1 - mr, 1) + bce(1 - mr, 1)) / 2)
    assert g == pytest.approx(exp_g, rel=1e-6)
    with pytest.raises(ValueError, match="real images"):
        generator_adversarial_loss("ragan", fake)


def test_hinge_losses_known_values():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.5])
    # relu(1 - real) = [0, 0.5], relu(1 + fake) = [0, 1.5]
    assert discriminator_loss("hinge", real, fake).item() == pytest.approx(0.25 + 0.75)
    assert generator_adversarial_loss("hinge", fake).item() == pytest.approx(0.75)


@pytest.mark.parametrize("kind", ["vanilla", "ragan", "hinge"])
def test_gan_losses_reward_telling_real_from_fake(kind):
    good_real, good_fake = torch.full((4, 1, 2, 2), 3.0), torch.full((4, 1, 2, 2), -3.0)
    confused = torch.zeros(4, 1, 2, 2)
    assert discriminator_loss(kind, good_real, good_fake) < discriminator_loss(kind, confused, confused)
    # the generator's loss falls when the discriminator rates its output as real
    assert generator_adversarial_loss(kind, good_real, good_fake) < generator_adversarial_loss(kind, good_fake, good_real)


def test_unknown_gan_loss():
    with pytest.raises(ValueError, match="unknown GAN loss"):
        discriminator_loss("wgan", torch.zeros(1), torch.zeros(1))
