"""Validation: Y-channel PSNR / SSIM and the texture diagnostics (grid dB,
high-frequency ratio; border of ``scale`` pixels cropped) of a generator on HR
images, beside the bicubic baseline, with LR inputs made by MATLAB-style
bicubic downscaling."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from ..sr_core.imresize import imresize_uint8
from ..sr_core.metrics import crop_border, rgb_to_y, y_psnr_ssim
from ..sr_core.texture_metrics import grid_db, hf_ratio, min_size
from .data import find_images, load_rgb_or_grey, mod_crop


@dataclass
class ImageScore:
    name: str
    psnr: float
    ssim: float
    bicubic_psnr: float
    bicubic_ssim: float
    grid_db: float
    hf_ratio: float
    bicubic_grid_db: float
    bicubic_hf_ratio: float


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return x.clamp(0, 1).mul(255).round().to(torch.uint8)


def _y_plane(x: torch.Tensor, border: int) -> torch.Tensor:
    """Y channel (0..255) of a CHW uint8 image, ``border`` pixels cropped."""
    return crop_border(rgb_to_y(x.double() / 255) * 255, border)[0]


def texture_scores(sr: torch.Tensor, hr: torch.Tensor, scale: int) -> tuple[float, float]:
    """(grid dB, high-frequency ratio) of an 8-bit CHW ``sr`` against ``hr``;
    NaN for images too small for the measure (or x1, or a flat ground truth)."""
    y_sr, y_hr = _y_plane(sr, scale), _y_plane(hr, scale)
    if scale < 2 or min(y_sr.shape) < min_size(scale):
        return math.nan, math.nan
    try:
        ratio = hf_ratio(y_sr, y_hr, scale)
    except ValueError:  # nothing above a quarter of the sampling rate in the ground truth
        ratio = math.nan
    return grid_db(y_sr, scale), ratio


def _mean(values: Sequence[float]) -> float:
    """Mean of the values that are not NaN (NaN when none is)."""
    kept = [v for v in values if not math.isnan(v)]
    return float(np.mean(kept)) if kept else math.nan


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
        scores.append(ImageScore(path.stem, p, s, bp, bs, *texture_scores(sr, hr, scale), *texture_scores(bic, hr, scale)))
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
        "grid_db": _mean([s.grid_db for s in scores]),
        "hf_ratio": _mean([s.hf_ratio for s in scores]),
        "bicubic_grid_db": _mean([s.bicubic_grid_db for s in scores]),
        "bicubic_hf_ratio": _mean([s.bicubic_hf_ratio for s in scores]),
        "images": len(scores),
    }


def validation_files(folder: str | Path) -> list[Path]:
    return find_images([folder])
