"""Write a held-out photo set for ``gensr eval``: four photographs that
scikit-image ships (astronaut, coffee, chelsea, rocket; public domain or
CC0, see ``skimage.data``), none in ``../shared/data``. Beside Set5/Set14
they show how a model does on photos no SR paper tuned for.

    pip install scikit-image
    python bench/heldout_photos.py /tmp/photos
    gensr eval weights/default/gensr-x4.safetensors --data /tmp/photos
"""
from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path)
    args = p.parse_args()
    try:
        import skimage.data
    except ImportError:
        raise SystemExit("needs scikit-image: pip install scikit-image")
    args.folder.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        Image.fromarray(getattr(skimage.data, name)()).save(args.folder / f"{name}.png")
        print(args.folder / f"{name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
