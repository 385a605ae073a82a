"""Network interpolation: weights blended tensor by tensor, one network only,
and the command that writes the blend."""
from __future__ import annotations

import pytest
import torch

from gensr.cli import main as gensr_main
from gensr.sr_core.archs import build_generator
from gensr.weights import WeightFileError, load_model, save_model
from gensr.weights.interpolate import interpolate_models


def _compact(seed: int, num_feat: int = 8):
    torch.manual_seed(seed)
    model = build_generator("compact", dict(num_feat=num_feat, num_conv=2, scale=2))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)
    return model.eval()


def test_blend_is_the_weighted_mean_of_every_tensor():
    a, b = _compact(0), _compact(1)
    mixed = interpolate_models(a, b, 0.25).state_dict()
    sa, sb = a.state_dict(), b.state_dict()
    for k in sa:
        assert torch.allclose(mixed[k], 0.75 * sa[k] + 0.25 * sb[k], atol=1e-7), k
    x = torch.rand(1, 3, 8, 8)
    assert torch.equal(interpolate_models(a, b, 0.0)(x), a(x))
    assert torch.equal(interpolate_models(a, b, 1.0)(x), b(x))
    assert sa["body.0.weight"].data_ptr() != mixed["body.0.weight"].data_ptr()  # a is left alone


def test_different_networks_and_alpha_outside_0_1_are_refused():
    with pytest.raises(WeightFileError, match="one network"):
        interpolate_models(_compact(0), _compact(1, num_feat=16), 0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        interpolate_models(_compact(0), _compact(1), 1.5)


def test_span_blend_refreshes_its_fused_conv():
    # SPAN runs a fused copy of its training branches in eval mode: a blend must
    # fuse the blended branches, so eval and train forwards agree.
    torch.manual_seed(0)
    a = build_generator("span", dict(num_feat=8, scale=2))
    b = build_generator("span", dict(num_feat=8, scale=2))
    mixed = interpolate_models(a.eval(), b.eval(), 0.5)
    x = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        fused = mixed.eval()(x)
        branches = mixed.train()(x)
    assert torch.allclose(fused, branches, atol=1e-5)


def test_interpolate_command_writes_a_loadable_blend(tmp_path, capsys):
    a, b = _compact(0), _compact(1)
    fa, fb, out = tmp_path / "psnr.safetensors", tmp_path / "gan.safetensors", tmp_path / "blend.safetensors"
    save_model(a, fa)
    save_model(b, fb)
    assert gensr_main([ "interpolate", str(fa), str(fb), "--alpha", "0.8", "-o", str(out)]) == 0
    blend = load_model(str(out))
    expected = {k: 0.2 * a.state_dict()[k] + 0.8 * b.state_dict()[k] for k in a.state_dict()}
    assert all(torch.allclose(blend.state_dict()[k], v, atol=1e-7) for k, v in expected.items())
    assert blend.metadata["gensr.interpolated"] == {"first": "psnr.safetensors", "second": "gan.safetensors", "alpha": 0.8}
    assert gensr_main(["interpolate", str(fa), str(fb), "--alpha", "0.8", "-o", str(out)]) == 2  # exists
    assert "--overwrite" in capsys.readouterr().err
