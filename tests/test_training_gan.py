"""Stage 2: GAN fine-tuning from stage 1's export updates the discriminator;
perceptual loss weights from a file or the Hub; every GAN loss and both
discriminators run; bf16 autocast on CPU."""
from __future__ import annotations

import json

import pytest
import torch

import gensr
from gensr.training.loop import Trainer
from hub_env import fake_hub, hub_home, no_outside_network  # noqa: F401  (pytest fixtures)
from training_env import tiny_config, tiny_vgg19_file, weights_equal


def test_gan_stage_starts_from_stage_1_and_updates_the_discriminator(tmp_path):
    stage1 = Trainer(tiny_config(tmp_path, iterations=10, val=None)).run()
    cfg = tiny_config(tmp_path, preset="tiny-test-gan", pretrained=str(stage1), iterations=6, val_every=3,
                      checkpoint_every=3, log_every=1, perceptual_weight=1.0,
                      perceptual_layers={"conv1_2": 0.1, "conv2_2": 0.1},
                      perceptual_weights_source=str(tiny_vgg19_file(tmp_path / "vgg.safetensors")))
    trainer = Trainer(cfg)
    assert weights_equal(trainer.generator.state_dict(), gensr.load_model(str(stage1)).state_dict())
    d0 = {k: v.clone() for k, v in trainer.losses.discriminator.state_dict().items()}
    path = trainer.run()

    d1 = trainer.losses.discriminator.state_dict()
    changed = [k for k in d0 if k.endswith(("weight", "weight_orig", "bias")) and not torch.equal(d0[k], d1[k])]
    assert len(changed) >= 9  # every discriminator layer moved
    records = [json.loads(l) for l in (tmp_path / "runs" / "tiny-test-gan" / "log.jsonl").read_text().splitlines()]
    steps = [r for r in records if "l_d" in r]
    assert len(steps) == 6 and all(k in steps[0] for k in ("l_pix", "l_percep", "l_adv", "d_real", "d_fake"))
    assert steps[0]["loss"] == pytest.approx(steps[0]["l_pix"] + steps[0]["l_percep"] + 0.1 * steps[0]["l_adv"], rel=1e-4)
    ckpt = torch.load(tmp_path / "runs" / "tiny-test-gan" / "checkpoint.pt", weights_only=True)
    assert weights_equal(ckpt["losses"]["discriminator"], d1) and ckpt["losses"]["opt_d"]["state"]
    meta = gensr.load_model(str(path)).metadata
    assert meta["gensr.pretrained"] == str(stage1)


@pytest.mark.parametrize("gan_loss, disc, gt", [("ragan", "vgg", 128), ("hinge", "unet", 32)])
def test_other_gan_losses_and_discriminators_train(tmp_path, gan_loss, disc, gt):
    cfg = tiny_config(tmp_path, preset="tiny-test-gan", gan_loss=gan_loss, discriminator=disc, gt_size=gt,
                      discriminator_config={"num_feat": 2}, iterations=2, batch_size=2, val=None, log_every=1)
    trainer = Trainer(cfg)
    d0 = {k: p.detach().clone() for k, p in trainer.losses.discriminator.named_parameters()}
    trainer.run()
    # every weight moves (RaGAN compares logits with each other's mean, so the last bias gets no gradient)
    assert all(not torch.equal(d0[k], p) for k, p in trainer.losses.discriminator.named_parameters() if k.endswith("weight"))


def test_perceptual_weights_come_from_the_hub_by_default(tmp_path, fake_hub):
    """No perceptual_weights_source: timm/vgg19.tv_in1k/model.safetensors through the Hub code."""
    vgg = tiny_vgg19_file(tmp_path / "vgg.safetensors")
    fake_hub.commit("timm/vgg19.tv_in1k", {"model.safetensors": vgg.read_bytes()})
    cfg = tiny_config(tmp_path, perceptual_weight=1.0, perceptual_layers={"conv2_2": 1.0}, iterations=1, val=None)
    trainer = Trainer(cfg)
    assert trainer.losses.perceptual is not None
    assert any("timm/vgg19.tv_in1k" in r and "model.safetensors" in r for r in fake_hub.file_requests())


def test_missing_hub_weights_say_what_to_do(tmp_path, fake_hub):
    cfg = tiny_config(tmp_path, perceptual_weight=1.0, val=None)
    with pytest.raises(RuntimeError, match="set perceptual_weights_source to its path"):
        Trainer(cfg)


def test_bf16_autocast_step_on_cpu(tmp_path):
    cfg = tiny_config(tmp_path, preset="tiny-test-gan", amp="bf16", iterations=2, val=None, log_every=1,
                      discriminator_config={"num_feat": 4})
    trainer = Trainer(cfg)
    assert trainer.amp == torch.bfloat16
    trainer.run()
    records = [json.loads(l) for l in (tmp_path / "runs" / "tiny-test-gan" / "log.jsonl").read_text().splitlines()]
    assert all(r["loss"] == r["loss"] and r["l_d"] > 0 for r in records)  # finite
    assert all(p.dtype == torch.float32 for p in trainer.generator.parameters())  # master weights stay fp32
