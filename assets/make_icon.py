"""Draw GenSR's registry icon (assets/icon.png, 256 x 256 PNG): a coarse 16 x 16
pixel grid on the left turning into the same picture at full resolution on
the right, which is what super-resolution does. Run: python assets/make_icon.py"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 256


def scene(n: int) -> np.ndarray:
    """An (n, n, 3) float picture: a sun over hills against a sky gradient."""
    y, x = np.mgrid[0:n, 0:n] / (n - 1)
    sky = np.stack([0.20 + 0.35 * y, 0.30 + 0.40 * y, 0.75 - 0.10 * y], -1)
    sun = ((x - 0.5) ** 2 + (y - 0.36) ** 2) < 0.2 ** 2
    hills = y > 0.68 + 0.10 * np.sin(6.0 * x)
    img = sky
    img[sun] = (1.0, 0.80, 0.25)
    img[hills] = np.stack([0.15 + 0.1 * x, 0.55 - 0.2 * y, 0.30 + 0 * x], -1)[hills]
    return img


def icon() -> Image.Image:
    fine = scene(SIZE)
    coarse = scene(16).repeat(SIZE // 16, 0).repeat(SIZE // 16, 1)  # nearest-neighbour blocks
    x = np.arange(SIZE)[None, :, None]
    y = np.arange(SIZE)[:, None, None]
    img = np.where(x < 0.5 * SIZE + 0.2 * (y - SIZE / 2), coarse, fine)  # a slanted seam through the sun
    return Image.fromarray((img.clip(0, 1) * 255).round().astype(np.uint8), "RGB")


if __name__ == "__main__":
    out = Path(__file__).with_name("icon.png")
    icon().save(out, optimize=True)
    print(f"wrote {out}")
