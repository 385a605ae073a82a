"""overlap="auto": exact for convolution stacks, measured for other models,
never more than the true receptive field, enough for the tiled output to match."""
from __future__ import annotations

import torch
from torch import nn

from gensr.sr_core.archs import SRVGGNetCompact
from gensr.sr_core.upscale import model_spec, upscale
from gensr.sr_core.archs.compact.context import conv_stack_context
from gensr.sr_core.upscale.measure import TOLERANCE, measure_context, model_context


class _ConvChain(nn.Module):
    """``depth`` 3x3 convolutions: receptive-field radius ``depth`` pixels."""

    scale, in_channels, out_channels, size_multiple = 1, 3, 3, 1

    def __init__(self, depth, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.convs = nn.ModuleList(nn.Conv2d(3, 3, 3, 1, 1) for _ in range(depth))
        self.eval()

    def forward(self, x):
        for conv in self.convs:
            x = torch.tanh(conv(x)) * 0.5 + x * 0.5
        return x


def _run(model):
    def run(x):
        with torch.no_grad():
            return model(x)

    return run


def test_compact_context_is_one_pixel_per_convolution():
    assert conv_stack_context(SRVGGNetCompact(num_feat=4, num_conv=5)) == 7
    assert conv_stack_context(_ConvChain(3)) is None  # not a known conv stack: measured


def test_measured_context_is_bounded_by_the_receptive_field():
    for depth in (2, 6):
        model = _ConvChain(depth)
        found = measure_context(_run(model), model_spec(model), limit=16)
        assert 1 <= found <= depth


def test_measured_context_makes_tiles_match():
    model = _ConvChain(10, seed=3)
    x = torch.rand(1, 3, 48, 40, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = model(x).clamp(0, 1)
    out = upscale(model, x, tile=24)
    assert float((out - ref).abs().max()) <= 2 * TOLERANCE


def test_measurement_is_cached_per_model_and_weights():
    model = _ConvChain(4)
    calls = []
    run = _run(model)

    def counting(x):
        calls.append(1)
        return run(x)

    spec = model_spec(model)
    first = model_context(spec, counting)
    n = len(calls)
    assert model_context(spec, counting) == first and len(calls) == n
    with torch.no_grad():
        model.convs[0].weight.mul_(2)  # weights changed in place: measured again
    model_context(spec, counting)
    assert len(calls) > n
