"""RRDBNet run band by band (the CPU path of the engine) gives the plain
forward pass: every scale variant, odd sizes, any band height."""
from __future__ import annotations

import pytest
import torch

import gensr
from gensr.sr_core.archs import RRDBNet
from gensr.sr_core.upscale.measure import TOLERANCE
from gensr.sr_core.upscale.run import Runner
from gensr.sr_core.upscale.spec import model_spec
from gensr.sr_core.archs.rrdbnet.streamed import banded_forward, supports_banding


def _model(scale: int) -> RRDBNet:
    torch.manual_seed(scale)
    model = RRDBNet(num_feat=16, num_block=2, num_grow_ch=8, scale=scale).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3)  # larger weights: a wrong row anywhere shows up at the output
    return model


@pytest.mark.parametrize("scale", [1, 2, 4, 8])
@pytest.mark.parametrize("rows", [1, 3, 7, 64])
def test_banded_forward_equals_plain_forward(scale, rows):
    model = _model(scale)
    multiple = model.size_multiple
    h, w = 13 * multiple, 9 * multiple
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(1)).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        expected = model(x)
        got = banded_forward(model, x, rows)
    assert got.shape == expected.shape
    assert float((got - expected).abs().max()) < 1e-4


def test_one_row_image():
    model = _model(4)
    x = torch.rand(1, 3, 1, 6)
    with torch.inference_mode():
        assert float((banded_forward(model, x, 2) - model(x)).abs().max()) < 1e-4


def test_engine_bands_rrdbnet_on_cpu_and_matches_untiled():
    model = _model(4)
    runner = Runner(model_spec(model), torch.device("cpu"), torch.float32, channels_last=True)
    assert runner.streamed is not None and not runner.streaming  # banded, returns its output
    image = torch.rand(1, 3, 40, 36, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        expected = model(image).clamp(0, 1)
    whole = gensr.upscale(model, image, tile=64)  # one window: the banded forward alone
    assert float((whole - expected).abs().max()) < 1e-4
    totals = []
    tiled = gensr.upscale(model, image, tile=(28, 36), progress=lambda done, total: totals.append(total))
    assert totals[-1] > 1, "really tiled"
    # Measured context: tiles agree with the untiled result to its tolerance.
    assert float((tiled - expected).abs().max()) <= TOLERANCE + 1e-4


def test_other_modules_are_not_banded():
    class Custom(RRDBNet):
        def forward(self, x):
            return super().forward(x) * 0

    assert supports_banding(_model(4))
    assert not supports_banding(Custom(num_feat=8, num_block=1, num_grow_ch=4))
    assert not supports_banding(torch.nn.Conv2d(3, 3, 3, padding=1))


def test_cancel_is_checked_between_blocks_inside_a_tile():
    from gensr.sr_core.upscale.errors import UpscaleCancelled

    torch.manual_seed(0)
    model = RRDBNet(num_feat=8, num_block=4, num_grow_ch=4, scale=4).eval()
    calls = []

    def cancel() -> bool:  # pressed after the first RRDB block of the only tile
        calls.append(1)
        return len(calls) >= 2

    with pytest.raises(UpscaleCancelled, match="during tile 1 of 1"):
        gensr.upscale(model, torch.rand(1, 3, 24, 24), cancel=cancel)
    assert len(calls) == 2
