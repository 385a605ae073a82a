"""The seam target with a real model: Real-ESRGAN Compact (animevideov3) on a
512x512 photo in 128 px tiles matches the untiled output within 1/255."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

import gensr


def test_compact_512px_in_128px_tiles_matches_untiled(shared):
    model = gensr.load_model(shared("weights", "realesr-animevideov3.pth"))
    photo = Image.open(shared("data", "val", "Set5", "img_001_SRF_4_HR.png")).convert("RGB")
    assert photo.size == (512, 512)
    x = torch.from_numpy(np.asarray(photo, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        untiled = model(x.contiguous(memory_format=torch.channels_last)).clamp(0, 1)
    tiles = []
    tiled = gensr.upscale(model, x, tile=128, progress=lambda done, total: tiles.append(total))
    assert tiles and tiles[-1] > 1, "the image really was tiled"
    assert float((tiled - untiled).abs().max()) <= 1 / 255
