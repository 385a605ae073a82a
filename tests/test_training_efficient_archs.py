"""The SPAN, RealPLKSR and bundled-GAN (small RRDBNet) presets train through the training program (both
stages) and export .safetensors that spandrel, ComfyUI's core loader, detects
and runs with the same output as GenSR."""
from __future__ import annotations

import pytest
import torch

import gensr
from gensr.training.loop import Trainer
from gensr.training.presets import PRESETS, preset_config
from spandrel_env import spandrel_forward
from training_env import tiny_config, tiny_vgg19_file

# The presets' networks, shrunk to train in seconds (the variant switches stay as the presets set them).
SMALL = {"span": dict(num_feat=4), "realplksr": dict(num_feat=8, num_block=2, kernel_size=7),
         "rrdbnet": dict(num_feat=8, num_block=1)}  # growth stays 32: spandrel reads no other
SPANDREL_ID = {"span": "SPAN", "realplksr": "PLKSR", "rrdbnet": "ESRGAN"}
FAST = dict(iterations=2, gt_size=32, batch_size=2, num_workers=0, degradation="bicubic", val=None,
            log_every=1, checkpoint_every=2, val_every=2)


def check_in_spandrel(paths, arch, tmp_path):
    x = torch.rand(1, 3, 13, 11)
    for path, (got, found) in zip(paths, spandrel_forward(paths, x, tmp_path)):
        with torch.no_grad():
            expected = gensr.load_model(path)(x)
        assert (found["arch"], found["scale"]) == (SPANDREL_ID[arch], 4)
        assert got.shape == expected.shape
        assert (got - expected).abs().max().item() < 1e-4, path.name


@pytest.mark.parametrize("arch, psnr, gan", [
    ("span", "span-x4-psnr", "span-x4-gan"),
    ("realplksr", "realplksr-x4-psnr", "realplksr-x4-gan"),
    ("rrdbnet", "gensr-x4-gan-stage1", "gensr-x4-gan"),  # the bundled GAN model's recipe
])
def test_presets_train_both_stages_and_export_what_spandrel_runs(tmp_path, arch, psnr, gan):
    arch_config = {**preset_config(psnr).arch_config, **SMALL[arch]}
    stage1 = Trainer(tiny_config(tmp_path, preset=psnr, arch_config=arch_config, **FAST)).run()
    model = gensr.load_model(stage1)
    assert (model.arch, model.scale) == (arch, 4)
    assert model.config.items() >= arch_config.items()

    vgg = tiny_vgg19_file(tmp_path / "vgg.safetensors")
    cfg = tiny_config(tmp_path, preset=gan, pretrained=str(stage1), arch_config=arch_config, **FAST,
                      discriminator_config={"num_feat": 4}, perceptual_layers={"conv1_2": 1.0},
                      perceptual_weights_source=str(vgg))
    stage2 = Trainer(cfg).run()
    before, after = gensr.load_model(stage1).state_dict(), gensr.load_model(stage2).state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # the GAN stage trained it
    check_in_spandrel([stage1, stage2], arch, tmp_path)


def test_efficient_presets_are_listed():
    assert {"span-x4-psnr", "span-x4-gan", "realplksr-x4-psnr", "realplksr-x4-gan"} <= set(PRESETS)
    assert preset_config("span-x4-gan").gan and not preset_config("span-x4-psnr").gan
    assert preset_config("realplksr-x4-psnr").arch_config["layer_norm"]  # the fp16-safe variant


@pytest.mark.parametrize("grow, portable", [(32, True), (16, False)])
def test_training_warns_when_spandrel_cannot_load_the_export(tmp_path, capsys, grow, portable):
    """The warning is true: spandrel (ComfyUI's core loader) loads the export exactly when none is given."""
    cfg = tiny_config(tmp_path, preset="tiny-test", arch="rrdbnet", **FAST,
                      arch_config=dict(num_feat=8, num_block=1, num_grow_ch=grow))
    path = Trainer(cfg).run()
    warned = "will refuse these weights" in capsys.readouterr().err
    assert warned is not portable
    if portable:
        check_in_spandrel([path], "rrdbnet", tmp_path)
    else:
        with pytest.raises(AssertionError, match="spandrel could not load"):
            check_in_spandrel([path], "rrdbnet", tmp_path)


@pytest.mark.parametrize("name, arch", [("gensr-x4", "compact"), ("gensr-x4-gan", "rrdbnet")])
def test_bundled_models_run_the_same_in_spandrel(tmp_path, name, arch):
    """What ComfyUI's core "Load Upscale Model" makes of the bundled files is GenSR's model."""
    from conftest import ROOT

    path = ROOT / "weights" / "default" / f"{name}.safetensors"
    assert gensr.load_model(path).arch == arch
    x = torch.rand(1, 3, 13, 11)
    (got, found), = spandrel_forward([path], x, tmp_path)
    with torch.no_grad():
        expected = gensr.load_model(path)(x)
    assert (found["arch"], found["scale"]) == ({"compact": "Compact", "rrdbnet": "ESRGAN"}[arch], 4)
    assert (got - expected).abs().max().item() < 1e-4
