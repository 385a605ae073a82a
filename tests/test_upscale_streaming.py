"""Row-streamed Compact on the CPU equals the model's own forward pass, band
size and image size whatever, with or without a sink for the output rows."""
from __future__ import annotations

import pytest
import torch

from gensr.sr_core.archs import RRDBNet, SRVGGNetCompact
from gensr.sr_core.upscale.run import Runner
from gensr.sr_core.upscale.spec import model_spec
from gensr.sr_core.archs.compact.streamed import stream_plan, streamed_forward


def _compact(scale=4, seed=0):
    torch.manual_seed(seed)
    return SRVGGNetCompact(num_feat=8, num_conv=4, scale=scale).eval()


@pytest.mark.parametrize("shape", [(1, 3, 37, 23), (2, 3, 9, 16), (1, 3, 1, 5)])
@pytest.mark.parametrize("rows", [1, 4, 7, 64])
def test_streamed_equals_forward(shape, rows):
    model = _compact()
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model(x)
        out = streamed_forward(model, stream_plan(model), x, rows)
    assert out.shape == ref.shape
    assert float((out - ref).abs().max()) < 1e-5


def test_sink_receives_every_output_row_once_in_order():
    model = _compact(scale=2)
    x = torch.rand(1, 3, 21, 11)
    got = []
    with torch.no_grad():
        assert streamed_forward(model, stream_plan(model), x, 5, lambda r, band: got.append((r, band.clone()))) is None
        ref = model(x)
    starts = [r for r, _ in got]
    assert starts == sorted(starts) and starts[0] == 0
    joined = torch.cat([band for _, band in got], 2)
    assert float((joined - ref).abs().max()) < 1e-5


def test_only_plain_conv_stacks_stream():
    assert stream_plan(_compact()) is not None
    assert stream_plan(RRDBNet(num_feat=8, num_block=1, num_grow_ch=4)) is None
    model = _compact()
    assert Runner(model_spec(model), torch.device("cpu"), torch.float32, True).streaming
