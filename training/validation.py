"""Validation: Y-channel PSNR / SSIM (border of ``scale`` pixels cropped) of a
generator on HR images, beside the bicubic baseline, with LR inputs made by
MATLAB-style bicubic downscaling."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from ..sr_core.imresize import imresize_uint8
from ..sr_core.metrics import y_psnr_ssim
from .data import find_images, load_rgb_or_grey, mod_crop


@dataclass
class ImageScore:
    name: str
    psnr: float
    ssim: float
    bicubic_psnr: float
    bicubic_ssim: float


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return x.clamp(0, 1).mul(255).round().to(torch.uint8)


@torch.no_grad()
def evaluate_images(
    upscale: Callable[[torch.Tensor], torch.Tensor],
    files: Sequence[Path],
    scale: int,
    sample_dir: Optional[Path] = None,
    samples: int = 0,
) -> list[ImageScore]:
    """Score ``upscale`` (BCHW float 0..1 -> BCHW float) on HR ``files``."""
    scores = []
    for k, path in enumerate(files):
        hr = mod_crop(load_rgb_or_grey(path), scale)
        lr = imresize_uint8(hr, 1.0 / scale)
        bic = imresize_uint8(lr, float(scale))
        inp = lr.float().div(255.0)[None]
        if inp.shape[1] == 1:  # grey image: the model sees RGB, the score uses the grey values
            out = upscale(inp.expand(1, 3, *inp.shape[-2:]))[0].mean(0, keepdim=True)
        else:
            out = upscale(inp)[0]
        sr = _to_uint8(out.float().cpu())
        p, s = y_psnr_ssim(sr.float() / 255, hr.float() / 255, scale)
        bp, bs = y_psnr_ssim(bic.float() / 255, hr.float() / 255, scale)
        scores.append(ImageScore(path.stem, p, s, bp, bs))
        if sample_dir is not None and k < samples:
            sample_dir.mkdir(parents=True, exist_ok=True)
            row = torch.cat([bic, sr, hr], dim=-1).permute(1, 2, 0).numpy()
            Image.fromarray(row[:, :, 0] if row.shape[2] == 1 else row).save(sample_dir / f"{path.stem}.png")
    return scores


def summarise(scores: Sequence[ImageScore]) -> dict[str, float]:
    return {
        "psnr": float(np.mean([s.psnr for s in scores])),
        "ssim": float(np.mean([s.ssim for s in scores])),
        "bicubic_psnr": float(np.mean([s.bicubic_psnr for s in scores])),
        "bicubic_ssim": float(np.mean([s.bicubic_ssim for s in scores])),
        "images": len(scores),
    }


def validation_files(folder: str | Path) -> list[Path]:
    return find_images([folder])
