"""SPAN and RealPLKSR beyond parity with spandrel (tests/test_parity.py):
training equals inference for SPAN's re-parameterised convolutions, exported
weights carry the fused convolution of their branches, the registry's exact
context and size rules hold, DySample is bilinear upsampling when its learned
offsets are zero, and damaged or foreign layouts get clear answers."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import gensr
from gensr.sr_core.archs import RealPLKSR, SPAN, SizeRules, architecture_of, get_architecture
from gensr.sr_core.archs.realplksr.dysample import DySample
from gensr.sr_core.archs.span.model import RepConv3
from gensr.weights.errors import WeightFileError


@torch.no_grad()
def spread(model: torch.nn.Module, seed: int = 0, gain: float = 1.0) -> torch.nn.Module:
    """Random weights that make every path matter (convolutions ~ N(0, gain^2/fan_in))."""
    gen = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if p.dim() > 1:
            p.copy_(torch.randn(p.shape, generator=gen) * gain / math.sqrt(p[0].numel()))
        else:
            p.copy_((1.0 if name.endswith("norm.weight") else 0.0) + 0.1 * torch.randn(p.shape, generator=gen))
    if isinstance(model, SPAN) and model.norm:  # inputs arrive multiplied by 255
        for conv in (model.conv_1.sk, model.conv_1.conv[0]):
            conv.weight /= 255
    return model


def tiny_span(**kw) -> SPAN:
    return spread(SPAN(**{"num_feat": 4, "scale": 2, **kw}))


def tiny_plksr(**kw) -> RealPLKSR:
    return spread(RealPLKSR(**{"num_feat": 8, "num_block": 2, "kernel_size": 5, "scale": 2, **kw}))


# -- SPAN: re-parameterisation -----------------------------------------------------------------

@pytest.mark.parametrize("kw", [dict(), dict(in_channels=1, out_channels=1, norm=False, scale=3)])
def test_span_training_branches_and_fused_inference_agree(kw):
    model = tiny_span(**kw)
    x = torch.rand(2, model.in_channels, 9, 7)
    with torch.no_grad():
        trained = model.train()(x)
        served = model.eval()(x)
    assert served.shape == (2, model.out_channels, 9 * model.scale, 7 * model.scale)
    torch.testing.assert_close(served, trained, rtol=1e-4, atol=1e-5)  # borders included


def test_span_inference_runs_the_fused_convolution_refreshed_after_training():
    model = tiny_span().train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    x = torch.rand(1, 3, 8, 8)
    model(x).square().mean().backward()
    opt.step()
    with torch.no_grad():
        after_step = model(x)  # branches
        served = model.eval()(x)  # switching to eval re-fused the convolutions
        torch.testing.assert_close(served, after_step, rtol=1e-3, atol=1e-4)
        for m in model.modules():  # eval mode reads eval_conv only: spoiling the branches changes nothing...
            if isinstance(m, RepConv3):
                m.conv[1].weight.zero_()
        torch.testing.assert_close(model(x), served)
        assert not torch.allclose(model.eval()(x), served)  # ...until they are fused again


def test_span_exported_fused_convolution_equals_the_branches():
    """What spandrel's eval mode computes from the branches is what the file holds."""
    model = tiny_span().train()
    x = torch.rand(1, 3, 6, 5)
    sd = model.state_dict()
    assert not any("eval_conv" in name for name, _ in model.named_parameters())  # derived, never trained
    with torch.no_grad():
        branches = model.conv_2(model.conv_1(x))
        fused = F.conv2d(x, sd["conv_1.eval_conv.weight"], sd["conv_1.eval_conv.bias"], padding=1)
        fused = F.conv2d(fused, sd["conv_2.eval_conv.weight"], sd["conv_2.eval_conv.bias"], padding=1)
    torch.testing.assert_close(fused, branches, rtol=1e-4, atol=1e-5)


def test_span_stale_fused_weights_in_a_file_are_recomputed(tmp_path):
    model = tiny_span().eval()
    x = torch.rand(1, 3, 6, 6)
    with torch.no_grad():
        expected = model(x)
    sd = {k: (torch.randn_like(v) if "eval_conv" in k else v) for k, v in model.state_dict().items()}
    save_file(sd, str(tmp_path / "stale.safetensors"))
    with torch.no_grad():
        torch.testing.assert_close(gensr.load_model(tmp_path / "stale.safetensors")(x), expected)


def test_span_loaded_in_inference_mode_can_still_switch_modes(tmp_path):
    """ComfyUI builds models under torch.inference_mode; fusing later must not write into them."""
    save_file(tiny_span().state_dict(), str(tmp_path / "s.safetensors"))
    with torch.inference_mode():
        model = gensr.load_model(tmp_path / "s.safetensors")
    model.train().eval()
    assert "conv_1.eval_conv.weight" in model.state_dict()


# -- registry: exact context, size rules, precisions -------------------------------------------------

def test_span_exact_context_is_tight():
    model = tiny_span().eval()
    arch = architecture_of(model)
    assert arch is get_architecture("span") and arch.size_rules(model) == SizeRules(multiple=1)
    context = arch.exact_context(model)
    # The input pixels one output pixel depends on: where its gradient is non-zero (float64: no underflow).
    x = torch.rand(1, 3, 9, 61, dtype=torch.float64, requires_grad=True)
    model.double()(x)[0, 0, 8, 30 * model.scale].backward()
    columns = x.grad.abs().sum((0, 1, 2)).nonzero().flatten()
    assert (columns.min().item(), columns.max().item()) == (30 - context, 30 + context)
    # and a tile with that much context gives the untiled output
    model.float()
    x = torch.rand(1, 3, 16, 64)
    with torch.no_grad():
        full = model(x)[..., : 24 * 2]
        tile = model(x[..., : 24 + context])[..., : 24 * 2]
    torch.testing.assert_close(tile, full)


def test_registry_entries():
    plksr, span = tiny_plksr(), tiny_span()
    assert architecture_of(plksr) is get_architecture("realplksr")
    assert get_architecture("realplksr").exact_context is None  # group norms see the whole window
    assert get_architecture("realplksr").size_rules(plksr) == SizeRules(multiple=1)
    assert torch.float16 not in get_architecture("realplksr").precisions
    assert torch.float16 in get_architecture("span").precisions
    # the model's own attributes, as the loader and engine read them
    assert (span.scale, span.in_channels, span.out_channels, span.arch) == (2, 3, 3, "span")
    assert (plksr.scale, plksr.in_channels, plksr.out_channels, plksr.arch) == (2, 3, 3, "realplksr")


# -- RealPLKSR -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [dict(), dict(layer_norm=True, use_ea=False), dict(dysample=True, scale=3)])
def test_realplksr_training_and_inference_paths_agree(kw):
    model = tiny_plksr(**kw).eval()
    x = torch.rand(1, 3, 10, 8)
    with torch.no_grad():
        served = model(x)  # large kernel written in place
    trained = model(x)  # with autograd: concatenated
    torch.testing.assert_close(served, trained.detach())
    trained.mean().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_dysample_with_zero_offsets_is_bilinear_upsampling():
    """With its offset convolution at zero every output pixel samples its own
    sub-pixel centre: bilinear upsampling (half-pixel centres, edge clamped)."""
    for scale, groups in ((2, 4), (3, 3)):
        channels = 3 * scale * scale
        up = DySample(channels, channels, scale, groups)
        with torch.no_grad():
            up.offset.weight.zero_()
            up.offset.bias.zero_()
            up.end_conv.weight.copy_(torch.eye(channels).view(channels, channels, 1, 1))
            up.end_conv.bias.zero_()
            x = torch.rand(2, channels, 5, 7)
            expected = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)
            torch.testing.assert_close(up(x), expected, rtol=1e-5, atol=1e-5)


def test_realplksr_low_precision_stays_close():
    model = tiny_plksr(dysample=True, scale=4, layer_norm=True).eval()
    x = torch.rand(1, 3, 24, 40)
    with torch.no_grad():
        ref = model(x)
        half = model.half()(x.half()).float()
    assert (half - ref).abs().max() < 0.02 * ref.abs().max()


# -- detection --------------------------------------------------------------------------------------

def test_hyper_parameters_are_read_from_shapes(tmp_path):
    built = RealPLKSR(channels=1, num_feat=12, num_block=3, scale=3, kernel_size=9, split_ratio=1 / 3,
                      use_ea=False, dysample=True, layer_norm=True)
    save_file(built.state_dict(), str(tmp_path / "p.safetensors"))
    loaded = gensr.load_model(tmp_path / "p.safetensors")
    assert loaded.config == {**built.config, "split_ratio": pytest.approx(1 / 3)}
    span = SPAN(in_channels=4, out_channels=4, num_feat=7, scale=1, norm=False)
    save_file(span.state_dict(), str(tmp_path / "s.safetensors"))
    assert gensr.load_model(tmp_path / "s.safetensors").config == span.config


def test_damaged_and_foreign_layouts(tmp_path):
    sd = tiny_plksr().state_dict()
    save_file({k: v for k, v in sd.items() if not k.startswith("feats.4.")}, str(tmp_path / "cut.safetensors"))
    with pytest.raises(WeightFileError, match="damaged"):
        gensr.load_model(tmp_path / "cut.safetensors")
    # the original PLKSR (``channe_mixer``) is another architecture: not claimed as RealPLKSR
    plksr = {k.replace("channel_mixer", "channe_mixer"): v for k, v in sd.items()}
    assert get_architecture("realplksr").detect(plksr) is None
    # a SPAN whose block count is not six is no SPAN spandrel or GenSR can build
    span = tiny_span().state_dict()
    extra = {k.replace("block_6.", "block_7."): v for k, v in span.items() if k.startswith("block_6.")}
    assert get_architecture("span").detect({**span, **extra}) is None
    # grey input with the RGB mean shift cannot exist: a clear error, not a broadcasting failure
    with pytest.raises(ValueError, match="norm=False"):
        SPAN(in_channels=1, out_channels=1)


@pytest.mark.parametrize("wrap", ["params_ema", "params", "state_dict"])
def test_training_program_checkpoints_load(tmp_path, wrap):
    """traiNNer-redux / BasicSR .pth files: wrapped, with DataParallel prefixes."""
    for model in (tiny_span(), tiny_plksr(dysample=True)):
        model.eval()
        torch.save({wrap: {f"module.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "m.pth")
        loaded = gensr.load_model(tmp_path / "m.pth")
        x = torch.rand(1, 3, 7, 6)
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), model(x))
