"""The resize after the model: antialiased like PIL, and identical whether it
runs on the whole image or window by window inside the tiles."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gensr.sr_core.upscale.resample import Resizer2d, resize

PIL_FILTERS = {"lanczos": Image.LANCZOS, "bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}


@pytest.mark.parametrize("name", sorted(PIL_FILTERS))
@pytest.mark.parametrize("size", [(20, 30), (100, 151), (12, 90), (37, 53)])
def test_matches_pil_float_resize(name, size):
    x = torch.rand(1, 37, 53, generator=torch.Generator().manual_seed(0))
    ours = resize(x, size, name)[0]
    ref = np.array(Image.fromarray(x[0].numpy(), mode="F").resize((size[1], size[0]), PIL_FILTERS[name]))
    assert ours.shape == size
    assert float((ours - torch.from_numpy(ref)).abs().max()) < 1e-5


@pytest.mark.parametrize("dst", [(41, 150), (16, 20), (64, 80)])
def test_windowed_resize_equals_global_resize(dst):
    src = (64, 80)
    r = Resizer2d(src, dst, "lanczos")
    x = torch.rand(3, *src, generator=torch.Generator().manual_seed(1))
    full = r.apply(x, (0, 0), (0, dst[0], 0, dst[1]))
    out = torch.full_like(full, float("nan"))
    margin = r.margin()
    for a, b in [(0, 20), (20, 45), (45, 64)]:
        for c, d in [(0, 33), (33, 80)]:
            box = r.owned((a, b, c, d))
            oy, ox = max(0, a - margin), max(0, c - margin)
            window = x[:, oy: min(src[0], b + margin), ox: min(src[1], d + margin)]
            out[:, box[0]: box[1], box[2]: box[3]] = r.apply(window, (oy, ox), box)
    assert not torch.isnan(out).any(), "owned boxes cover the destination"
    # Equal up to float32 rounding (the summation order inside a chunk may differ).
    assert float((out - full).abs().max()) <= 1e-6


def test_window_missing_taps_is_an_error():
    r = Resizer2d((64, 64), (32, 32), "lanczos")
    with pytest.raises(ValueError, match="overlap"):
        r.apply(torch.rand(1, 10, 10), (20, 20), r.owned((25, 28, 25, 28)))


def test_unknown_filter():
    with pytest.raises(ValueError, match="lanczos"):
        Resizer2d((4, 4), (8, 8), "nearest-ish")
