"""Architectures GenSR does not implement, loaded through spandrel.

Each model is built with spandrel's own architecture classes at a tiny size
from random weights, saved as .safetensors and as a .pth state dict, loaded
with ``gensr.load_model`` (GenSR's safe reader + spandrel's detection) and
upscaled with ``gensr.upscale``; the reference is spandrel's descriptor,
loaded by spandrel itself from the same file and called on the whole image.

These tests need spandrel, which imports torchvision, which needs its matching
torch: CI runs them in a second venv (see .ci/run); elsewhere they skip.
"""
from __future__ import annotations

import pytest
import torch

try:
    import spandrel
    from spandrel.architectures.AuraSR import AuraSR
    from spandrel.architectures.DAT import DAT
    from spandrel.architectures.HAT import HAT
    from spandrel.architectures.OmniSR import OmniSR
    from spandrel.architectures.SAFMN import SAFMN
    from spandrel.architectures.SwinIR import SwinIR
except Exception as e:  # not installed, or torchvision does not match torch
    pytest.skip(
        f"spandrel is not importable here ({type(e).__name__}: {e}); the spandrel tests run in CI's second venv "
        '(torch 2.14.1 + torchvision 0.29.1 + pip install -e ".[test,spandrel]", see .ci/run)',
        allow_module_level=True,
    )

import gensr
from gensr.cli import main as gensr_main
from gensr.sr_core.upscale import model_spec
from gensr.weights.errors import UnknownArchitectureError

# spandrel id -> (tiny builder, max |tiled - untiled|, mean |tiled - untiled|) with
# 32-pixel tiles and 8 pixels of overlap. DAT's attention stays within a few
# pixels, so the overlap hides the seams; SwinIR and HAT partition the image
# into attention windows aligned to its corner (a tile cut off that grid sees
# other windows), OmniSR attends over a grid spanning the whole image and
# SAFMN pools features at fractions of the whole image's size: their tiled
# output differs near tile edges, and only its average error stays small
# (a misplaced or mis-scaled tile would make it ~0.1, the output's spread).
ARCHS = {
    "OmniSR": (lambda: OmniSR(num_feat=16, block_num=1, window_size=4, res_num=1, up_scale=2), 0.6, 0.01),
    "DAT": (lambda: DAT(img_size=16, embed_dim=32, split_size=[2, 4], depth=[1], num_heads=[2], expansion_factor=2.0, upscale=2), 2e-3, 1e-4),
    "SwinIR": (lambda: SwinIR(img_size=16, embed_dim=12, depths=[1], num_heads=[2], window_size=4, upscale=2,
                              upsampler="pixelshuffle", mlp_ratio=2.0), 0.6, 0.01),
    "HAT": (lambda: HAT(img_size=16, embed_dim=12, depths=[1], num_heads=[2], window_size=4, upscale=2, mlp_ratio=2.0,
                        compress_ratio=3, squeeze_factor=4), 0.6, 0.01),
    "SAFMN": (lambda: SAFMN(dim=8, n_blocks=1, ffn_scale=2.0, upscaling_factor=2), 0.6, 0.01),
}


def _save(module: torch.nn.Module, path, fmt: str):
    sd = {k: v.contiguous() for k, v in module.state_dict().items()}
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file(sd, str(path))
    else:
        torch.save({"params": sd}, path)
    return path


@pytest.fixture(scope="module", params=sorted(ARCHS))
def arch_file(request, tmp_path_factory):
    name = request.param
    torch.manual_seed(0)
    module = ARCHS[name][0]().eval()
    folder = tmp_path_factory.mktemp(name)
    return name, {fmt: _save(module, folder / f"tiny.{fmt}", fmt) for fmt in ("safetensors", "pth")}


def _image(h=40, w=48, seed=1):
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("fmt", ["safetensors", "pth"])
def test_loads_and_upscales_like_spandrel(arch_file, fmt):
    name, files = arch_file
    model = gensr.load_model(files[fmt])
    reference = spandrel.ModelLoader().load_from_file(files["safetensors"]).eval()
    assert isinstance(model, spandrel.ImageModelDescriptor)
    assert model.arch == f"spandrel:{name}" and reference.architecture.id == name
    assert (model.scale, model.in_channels, model.out_channels) == (reference.scale, 3, 3) == (2, 3, 3)
    assert model.config["size_requirements"]["minimum"] == reference.size_requirements.minimum

    x = _image()
    expected = reference(x)
    got = gensr.upscale(model, x, tile=64, precision="fp32")  # one window: the whole image
    assert got.shape == expected.shape == (1, 3, 80, 96)
    torch.testing.assert_close(got, expected, atol=2e-5, rtol=0)


def test_tiled_upscale_stays_close_to_untiled(arch_file):
    name, files = arch_file
    _, max_err, mean_err = ARCHS[name]
    model = gensr.load_model(files["safetensors"])
    x = _image(48, 56, seed=2)
    whole = model(x)  # spandrel's own call on the whole image
    calls = []
    tiled = gensr.upscale(model, x, tile=32, overlap=8, precision="fp32", progress=lambda done, total: calls.append(total))
    assert calls and calls[-1] >= 4, "the image was cut into several tiles"
    err = (tiled - whole).abs()
    assert float(err.max()) <= max_err and float(err.mean()) <= mean_err, (float(err.max()), float(err.mean()))


def test_size_requirements_and_precision_flags_reach_the_engine(arch_file):
    name, files = arch_file
    model = gensr.load_model(files["safetensors"])
    spec = model_spec(model)
    req = model.size_requirements
    assert (spec.minimum, spec.multiple, spec.square) == (req.minimum, req.multiple_of, req.square)
    assert (spec.supports_half, spec.supports_bfloat16) == (model.supports_half, model.supports_bfloat16)
    if req.minimum > 10:  # an image below the minimum is padded for the model and cropped back
        x = _image(10, 12, seed=3)
        got = gensr.upscale(model, x, precision="fp32")
        assert got.shape == (1, 3, 20, 24)
        torch.testing.assert_close(got, model(x), atol=2e-5, rtol=0)


def test_cli_upscales_with_a_spandrel_model(arch_file, tmp_path):
    import numpy as np
    from PIL import Image

    name, files = arch_file
    if name not in ("DAT", "SAFMN"):
        pytest.skip("one transformer and one convolutional model are enough for the CLI")
    src = tmp_path / "in.png"
    pixels = (np.random.default_rng(0).random((20, 18, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(src)
    out = tmp_path / "out.png"
    assert gensr_main(["upscale", str(src), "-o", str(out), "--model", str(files["pth"]), "--quiet", "--precision", "fp32"]) == 0
    result = np.asarray(Image.open(out))
    assert result.shape == (40, 36, 3)
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255
    expected = (spandrel.ModelLoader().load_from_file(files["safetensors"]).eval()(x)[0].permute(1, 2, 0) * 255).round()
    assert np.abs(result.astype(np.float64) - expected.numpy()).max() <= 1


def test_unknown_to_both_says_so(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "mystery.safetensors"
    save_file({"totally.unknown.weight": torch.zeros(3, 3)}, str(path))
    with pytest.raises(UnknownArchitectureError, match=f"nor spandrel {spandrel.__version__}"):
        gensr.load_model(path)


# ---------------------------------------------------------------- AuraSR: noise


@pytest.fixture(scope="module")
def aurasr_file(tmp_path_factory):
    torch.manual_seed(0)
    module = AuraSR(
        dim=8, image_size=None, input_image_size=None, style_network={"dim_in": 8, "dim_out": 32, "depth": 2},
        up_dim_mults=(1, 2, 2, 2, 2), down_dim_mults=(2, 2, 2), full_attn=(False, False, False, False, True),
        self_attn_dim_head=8, self_attn_heads=8, attn_depths=(1, 1, 1, 1, 1), mid_attn_depth=1, num_conv_kernels=2,
    ).eval()
    return _save(module, tmp_path_factory.mktemp("aurasr") / "aurasr.safetensors", "safetensors")


def test_aurasr_is_reproducible_and_leaves_the_global_rng_alone(aurasr_file):
    model = gensr.load_model(aurasr_file)
    assert model.arch == "spandrel:AuraSR" and model.scale == 4
    x = _image(16, 24, seed=4)
    rng = torch.random.get_rng_state()
    first = gensr.upscale(model, x, precision="fp32")
    second = gensr.upscale(model, x, precision="fp32")
    assert torch.equal(first, second), "same seed, same result"
    assert torch.equal(torch.random.get_rng_state(), rng), "GenSR's noise does not consume the caller's random numbers"
    tiled = [gensr.upscale(model, _image(32, 40, seed=9), tile=24, overlap=4, precision="fp32") for _ in range(2)]
    assert tiled[0].shape == (1, 3, 128, 160) and torch.equal(tiled[0], tiled[1]), "tiled runs are reproducible too"
    model.noise.seed = 1
    assert not torch.equal(gensr.upscale(model, x, precision="fp32"), first), "another seed draws other noise"

    # spandrel's own AuraSR twice with the global RNG: the noise differs run to run
    reference = spandrel.ModelLoader().load_from_file(aurasr_file).eval()
    torch.manual_seed(5)
    a = reference(x)
    torch.manual_seed(6)
    assert not torch.equal(a, reference(x))


def test_aurasr_style_noise_is_shared_by_every_window(aurasr_file):
    """The style vector (the noise that matters) is drawn from the seed for
    every window, so a window's output equals the crop of the whole image's
    output run with the same style wherever the model's receptive field allows."""
    model = gensr.load_model(aurasr_file)
    x = _image(16, 32, seed=7)
    with torch.inference_mode():
        left = model(x[..., :16])
        right = model(x[..., 16:])
        # the style network's output, captured for each call: identical
        styles = []
        hook = model.model.style_network.register_forward_hook(lambda mod, inp, out: styles.append(out.clone()))
        model(x[..., :16])
        model(x[..., 16:])
        hook.remove()
    assert len(styles) == 2 and torch.equal(styles[0], styles[1])
    assert left.shape == right.shape == (1, 3, 64, 64)


def test_gensr_models_lists_what_spandrel_adds(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert gensr_main(["models"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    names = [support.architecture.name for support in spandrel.MAIN_REGISTRY.architectures()]
    assert f"through spandrel {spandrel.__version__}: {len(names)} more" in last
    assert all(name in last for name in ("DAT", "SwinIR", "OmniSR", "AuraSR"))


def test_info_and_convert_work_on_spandrel_models(arch_file, tmp_path, capsys):
    import json

    name, files = arch_file
    if name != "DAT":
        pytest.skip("one architecture is enough")
    assert gensr_main(["info", str(files["pth"])]) == 0
    info = json.loads(capsys.readouterr().out)
    reference = spandrel.ModelLoader().load_from_file(files["safetensors"])
    assert info["arch"] == "spandrel:DAT" and info["scale"] == 2
    assert info["parameters"] == sum(p.numel() for p in reference.model.parameters())
    out = tmp_path / "converted.safetensors"
    assert gensr_main(["convert", str(files["pth"]), str(out)]) == 0
    converted = spandrel.ModelLoader().load_from_file(out)  # ComfyUI's core loader reads the result
    x = _image(20, 24, seed=8)
    torch.testing.assert_close(converted(x), reference(x), atol=0, rtol=0)


def test_gensr_load_model_node_opens_a_spandrel_architecture(tmp_path):
    """GenSR Load Model on a file only spandrel knows: a descriptor that the
    core "Upscale Image (using Model)" (as the newest ComfyUI runs it) and
    GenSR Upscale both run, giving spandrel's own output."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from nodes_fake_comfy import FakeComfy, core_upscale_with_model, install, uninstall
    from nodes_helpers import run_node

    models, temp = tmp_path / "upscale_models", tmp_path / "temp"
    models.mkdir()
    temp.mkdir()
    torch.manual_seed(0)
    module = ARCHS["DAT"][0]().eval()
    _save(module, models / "tiny-dat.safetensors", "safetensors")
    saved = install(FakeComfy(models, temp), with_patcher=True)
    try:
        (descriptor,), _ = run_node("GenSRModelLoader", model_name="tiny-dat.safetensors")
        assert isinstance(descriptor, spandrel.ImageModelDescriptor) and descriptor.architecture.id == "DAT"
        assert hasattr(descriptor, "patcher")
        image = _image(24, 20, seed=5).permute(0, 2, 3, 1).contiguous()  # ComfyUI IMAGE: BHWC
        with torch.no_grad():
            expected = module(image.permute(0, 3, 1, 2)).clamp(0, 1).permute(0, 2, 3, 1)
        torch.testing.assert_close(core_upscale_with_model(descriptor, image), expected, atol=2e-5, rtol=0)
        (ours,), _ = run_node("GenSRUpscale", upscale_model=descriptor, image=image, outscale=0.0,
                               target_long_side=0, tile=0, overlap=-1, precision="fp32")
        torch.testing.assert_close(ours, expected, atol=2e-5, rtol=0)
    finally:
        uninstall(saved)
