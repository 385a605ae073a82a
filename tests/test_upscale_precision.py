"""Precision: what ``auto`` picks per device, explicit fp16/bf16, and the
quality check that keeps a model in float32 when reduced precision hurts it
(decided once per model)."""
from __future__ import annotations

import torch
from torch import nn

from gensr.sr_core.archs import SRVGGNetCompact
from gensr.sr_core.upscale import model_spec, upscale
from gensr.sr_core.upscale import devices as precision_mod
from gensr.sr_core.upscale.devices import auto_dtype, parse_precision


def _compact():
    torch.manual_seed(0)
    return SRVGGNetCompact(num_feat=8, num_conv=2, scale=2).eval()


class _Fragile(nn.Module):
    """Fine in float32, ruined by bfloat16's 8-bit mantissa (large offset cancels)."""

    scale, in_channels, out_channels, size_multiple = 1, 3, 3, 1

    def __init__(self):
        super().__init__()
        self.offset = nn.Parameter(torch.tensor(1000.0))

    def forward(self, x):
        _FRAGILE_CALLS.append(x.shape)
        return (x + self.offset) - self.offset


_FRAGILE_CALLS: list = []


def _img(h=16, w=16):
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(2))


def test_auto_choice_per_device(monkeypatch):
    allowed = model_spec(_compact()).precisions
    assert auto_dtype(torch.device("cuda"), allowed) == torch.float16
    assert auto_dtype(torch.device("mps"), allowed) == torch.float32
    monkeypatch.setattr(precision_mod, "cpu_has_fast_bf16", lambda: False)
    assert auto_dtype(torch.device("cpu"), allowed) == torch.float32
    monkeypatch.setattr(precision_mod, "cpu_has_fast_bf16", lambda: True)
    assert auto_dtype(torch.device("cpu"), allowed) == torch.bfloat16
    assert auto_dtype(torch.device("cpu"), (torch.float16,)) == torch.float32  # bf16 not tolerated
    monkeypatch.setattr(precision_mod.torch.cuda, "is_bf16_supported", lambda: True)
    assert auto_dtype(torch.device("cuda"), (torch.bfloat16,)) == torch.bfloat16  # fp16 not tolerated
    assert auto_dtype(torch.device("cuda"), ()) == torch.float32


def test_precision_names():
    assert parse_precision("fp16") is torch.float16 and parse_precision(torch.bfloat16) is torch.bfloat16
    assert parse_precision("AUTO") == "auto"


def test_auto_without_fast_bf16_is_exactly_fp32(monkeypatch):
    monkeypatch.setattr(precision_mod, "cpu_has_fast_bf16", lambda: False)
    model, x = _compact(), _img()
    assert torch.equal(upscale(model, x), upscale(model, x, precision="fp32"))


def test_explicit_reduced_precision_is_used_and_close():
    model, x = _compact(), _img()
    ref = upscale(model, x, precision="fp32")
    bf16 = upscale(model, x, precision="bf16")
    assert not torch.equal(bf16, ref)
    assert float((bf16 - ref).abs().max()) < 0.05


def test_auto_keeps_bf16_for_a_model_that_tolerates_it(monkeypatch):
    monkeypatch.setattr(precision_mod, "cpu_has_fast_bf16", lambda: True)
    model, x = _compact(), _img()
    auto = upscale(model, x)
    assert torch.equal(auto, upscale(model, x, precision="bf16"))


def test_auto_falls_back_to_fp32_for_a_fragile_model_once(monkeypatch):
    monkeypatch.setattr(precision_mod, "cpu_has_fast_bf16", lambda: True)
    model, x = _Fragile(), _img()
    assert float((upscale(model, x, precision="bf16") - x).abs().max()) > 0.1  # bf16 really is bad here
    _FRAGILE_CALLS.clear()
    out = upscale(model, x)
    assert torch.equal(out, upscale(model, x, precision="fp32"))
    checked = len(_FRAGILE_CALLS)
    _FRAGILE_CALLS.clear()
    upscale(model, x)
    assert len(_FRAGILE_CALLS) < checked, "the decision is cached per model"
