"""Make the README comparison picture: a crop of one HR image, x4 from a
MATLAB-bicubic LR input, as bicubic / each model / the ground truth, side by
side, enlarged with nearest neighbour, each panel labelled.

    python examples/make_comparison.py                      # the README picture (bundled pair, Set14 baboon)
    python examples/make_comparison.py --models A.safetensors B.safetensors --labels "A (PSNR)" "B (GAN)" \\
        --image photo.png --crop 150 40 200 -o /tmp/comparison.png

The models run on the whole LR image (as `gensr eval` does), then the crop is
cut from every result. For each panel the script prints the whole image's
Y-PSNR / SSIM, grid dB and high-frequency ratio (see README, Diagnostics).
"""
from __future__ import annotations

import argparse
import runpy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = ROOT.parent / "shared" / "data" / "val" / "Set14" / "img_001_SRF_4_HR.png"  # baboon
DEFAULT_MODELS = [ROOT / "weights" / "default" / "gensr-x4.safetensors",
                  ROOT / "weights" / "default" / "gensr-x4-gan.safetensors"]
DEFAULT_LABELS = ["gensr-x4 (PSNR)", "gensr-x4-gan"]
GAP, LABEL_HEIGHT, FONT_SIZE, TEXT_AT = 10, 28, 10, (6, 8)


def _import_gensr() -> None:
    """Import this checkout as ``gensr`` (not another installed copy)."""
    runpy.run_path(str(ROOT / "_checkout.py"))["import_checkout_as_gensr"](ROOT)


@dataclass(frozen=True)
class Crop:
    """A square ``size`` x ``size`` crop at (``left``, ``top``) of the HR image, shown ``zoom`` times larger."""

    left: int
    top: int
    size: int
    zoom: int = 2

    def check(self, hr_shape: Sequence[int]) -> None:
        h, w = hr_shape[-2:]
        if self.left < 0 or self.top < 0 or self.left + self.size > w or self.top + self.size > h or self.size < 1:
            raise SystemExit(f"make_comparison: crop {self.size}px at ({self.left}, {self.top}) does not fit the "
                             f"{w}x{h} image; choose --crop LEFT TOP SIZE inside it")
        if self.zoom < 1:
            raise SystemExit("make_comparison: --zoom must be 1 or more")

    def cut(self, image: torch.Tensor) -> torch.Tensor:
        """The crop of a (C, H, W) uint8 image, enlarged by ``zoom`` (nearest neighbour)."""
        part = image[:, self.top : self.top + self.size, self.left : self.left + self.size]
        return part.repeat_interleave(self.zoom, 1).repeat_interleave(self.zoom, 2)


def results(hr: torch.Tensor, upscalers: Sequence[Callable[[torch.Tensor], torch.Tensor]], scale: int) -> list[torch.Tensor]:
    """[bicubic, *each upscaler, hr] as (C, H, W) uint8 images of ``hr``'s size,
    all from one MATLAB-bicubic LR input. An upscaler maps BCHW 0..1 to BCHW."""
    from gensr.sr_core.imresize import imresize_uint8

    lr = imresize_uint8(hr, 1.0 / scale)
    out = [imresize_uint8(lr, float(scale))]
    for upscale in upscalers:
        with torch.no_grad():
            y = upscale(lr.float().div(255)[None])[0]
        out.append(y.clamp(0, 1).mul(255).round().to(torch.uint8))
    return out + [hr]


def compose(panels: Sequence[torch.Tensor], labels: Sequence[str]) -> Image.Image:
    """Panels (C, h, w uint8, one size) side by side on white, ``GAP`` px apart,
    each under a ``LABEL_HEIGHT`` px label strip."""
    _, h, w = panels[0].shape
    canvas = Image.new("RGB", (len(panels) * w + (len(panels) - 1) * GAP, LABEL_HEIGHT + h), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=FONT_SIZE)
    for k, (panel, label) in enumerate(zip(panels, labels)):
        x = k * (w + GAP)
        rgb = panel.expand(3, -1, -1) if panel.shape[0] == 1 else panel
        canvas.paste(Image.fromarray(rgb.permute(1, 2, 0).contiguous().numpy()), (x, LABEL_HEIGHT))
        draw.text((x + TEXT_AT[0], TEXT_AT[1]), label, fill="black", font=font)
    return canvas


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--image", type=Path, default=DEFAULT_IMAGE, help="HR image (default: Set14 baboon)")
    p.add_argument("--models", nargs="+", default=[str(m) for m in DEFAULT_MODELS],
                   help="weight files or hf:// sources, one panel each (default: the bundled PSNR and GAN models)")
    p.add_argument("--labels", nargs="+", default=None, help="one label per model (default: the file names)")
    p.add_argument("--crop", nargs=3, type=int, default=[150, 40, 200], metavar=("LEFT", "TOP", "SIZE"),
                   help="crop of the HR image, in HR pixels (default: 150 40 200)")
    p.add_argument("--zoom", type=int, default=2, help="nearest-neighbour enlargement of the crop (default 2)")
    p.add_argument("-o", "--output", type=Path, default=ROOT / "examples" / "comparison.png")
    args = p.parse_args(argv)

    _import_gensr()
    from gensr import load_model
    from gensr.sr_core.files import atomic_write
    from gensr.training.data import load_rgb_or_grey, mod_crop
    from gensr.training.validation import texture_scores
    from gensr.sr_core.metrics import y_psnr_ssim

    if not args.image.is_file():
        raise SystemExit(f"make_comparison: {args.image} does not exist; give --image an HR image")
    known = dict(zip(map(str, DEFAULT_MODELS), DEFAULT_LABELS))
    labels = args.labels or [known.get(m, Path(m).stem) for m in args.models]
    if len(labels) != len(args.models):
        raise SystemExit(f"make_comparison: {len(args.models)} models but {len(labels)} labels; give one label per model")
    models = [load_model(m).float().eval() for m in args.models]
    scales = {m.scale for m in models}
    if len(scales) != 1:
        raise SystemExit(f"make_comparison: the models have different scales {sorted(scales)}; compare models of one scale")
    scale = scales.pop()
    hr = mod_crop(load_rgb_or_grey(args.image), scale)
    crop = Crop(*args.crop, zoom=args.zoom)
    crop.check(hr.shape)
    images = results(hr, models, scale)
    names = ["bicubic", *labels, "HR (ground truth)"]
    for name, image in zip(names[:-1], images[:-1]):
        psnr, ssim = y_psnr_ssim(image.float() / 255, hr.float() / 255, scale)
        grid, hf = texture_scores(image, hr, scale)
        print(f"{name:<24} Y-PSNR {psnr:6.2f} dB  SSIM {ssim:.4f}  grid {grid:5.1f} dB  HF ratio {hf:.3f}")
    picture = compose([crop.cut(image) for image in images], names)
    atomic_write(args.output, lambda tmp: picture.save(tmp, format="PNG"))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
