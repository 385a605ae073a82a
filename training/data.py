"""Training data: HR image folders (optional paired LR folder) turned into
random LR/HR patch pairs.

Sample ``n`` of a run is a pure function of (seed, rank, n): the image, the
crop, the flips and rotations and the degradation are drawn from a generator
seeded with those numbers. Any number of data-loader workers and any
interruption give the same stream, which makes ``--resume`` exact.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..sr_core.image_io import IMAGE_EXTENSIONS, PILLOW_READ_ERRORS, image_read_error, is_image_file
from ..sr_core.imresize import imresize_uint8

# degrade(hr_patch_uint8 (3,H,W), scale, rng) -> lr_patch_uint8 (3,H/scale,W/scale)
Degradation = Callable[[torch.Tensor, int, np.random.Generator], torch.Tensor]


def find_images(folders: Sequence[str | Path]) -> list[Path]:
    """Image files under ``folders`` (recursive), sorted for reproducibility."""
    files: list[Path] = []
    for folder in folders:
        folder = Path(folder)
        if folder.is_file():
            files.append(folder)
            continue
        if not folder.is_dir():
            raise FileNotFoundError(f"image folder {folder} does not exist")
        files += sorted(p for p in folder.rglob("*") if is_image_file(p) and p.is_file())
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found in {', '.join(map(str, folders))}")
    return files


def _uint8_pixels(path: Path, keep_grey: bool) -> np.ndarray:
    """(H, W, C) uint8 pixels, C = 1 for grey images when ``keep_grey``, else 3;
    a file Pillow cannot read is an ImageFileError naming it."""
    try:
        with Image.open(path) as im:
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = (np.asarray(im, dtype=np.float64) / 257.0).round().clip(0, 255).astype(np.uint8)[:, :, None]
                return arr if keep_grey else np.repeat(arr, 3, axis=2)
            if keep_grey and im.mode in ("L", "LA"):
                return np.array(im.convert("L"))[:, :, None]
            return np.array(im.convert("RGB"))
    except PILLOW_READ_ERRORS as e:
        raise image_read_error(path, e) from None


def load_rgb(path: Path) -> torch.Tensor:
    """A (3, H, W) uint8 tensor; grey images are replicated, alpha dropped, 16-bit reduced to 8."""
    return torch.from_numpy(np.ascontiguousarray(_uint8_pixels(path, False))).permute(2, 0, 1).contiguous()


def load_rgb_or_grey(path: Path) -> torch.Tensor:
    """A (1, H, W) uint8 tensor for grey images, (3, H, W) for the rest."""
    return torch.from_numpy(np.ascontiguousarray(_uint8_pixels(path, True))).permute(2, 0, 1).contiguous()


def mod_crop(img: torch.Tensor, scale: int) -> torch.Tensor:
    """Crop the bottom/right so both sides divide by ``scale``."""
    h, w = img.shape[-2:]
    return img[..., : h - h % scale, : w - w % scale]


def bicubic_degradation(hr: torch.Tensor, scale: int, rng: np.random.Generator) -> torch.Tensor:
    """MATLAB-style antialiased bicubic downscale (the literature's 'bicubic')."""
    return imresize_uint8(hr, 1.0 / scale)


def augment(lr: torch.Tensor, hr: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random horizontal/vertical flips and 90-degree rotation, applied to both."""
    if rng.random() < 0.5:
        lr, hr = lr.flip(-1), hr.flip(-1)
    if rng.random() < 0.5:
        lr, hr = lr.flip(-2), hr.flip(-2)
    if rng.random() < 0.5:
        lr, hr = lr.transpose(-1, -2), hr.transpose(-1, -2)
    return lr, hr


class PatchPairs(Dataset):
    """Map-style dataset: index ``n`` -> (lr, hr) float patches in 0..1.

    With ``precompute_lr`` (bicubic without paired LR), each whole image is
    downscaled once and aligned crops are cut from both, as BasicSR's paired
    datasets do; otherwise ``degradation`` is applied to each HR crop.
    ``hr_scales`` adds a MATLAB-bicubic downscaled copy of each image per
    factor (VDSR's scale augmentation); ``files`` names each copy's source.
    """

    def __init__(
        self,
        hr_files: Sequence[Path],
        scale: int,
        gt_size: int,
        degradation: Optional[Degradation] = None,
        lr_files: Optional[Sequence[Path]] = None,
        seed: int = 0,
        rank: int = 0,
        length: int = 10**12,
        hr_scales: Sequence[float] = (),
    ) -> None:
        if gt_size % scale:
            raise ValueError(f"gt_size {gt_size} must be a multiple of the scale {scale}")
        bad = [f for f in hr_scales if not 0.0 < float(f) < 1.0]
        if bad:
            raise ValueError(f"hr_scales must lie between 0 and 1 (downscale factors), got {bad}")
        if hr_scales and lr_files is not None:
            raise ValueError("hr_scales makes new HR images, which paired LR files (--lr-data) cannot follow")
        self.scale, self.gt_size, self.seed, self.rank, self.length = scale, gt_size, seed, rank, length
        self.degradation = degradation
        self.hr: list[torch.Tensor] = []
        self.lr: list[Optional[torch.Tensor]] = []
        self.files: list[Path] = []  # the images in use, in index order
        skipped = []
        for i, path in enumerate(hr_files):
            full = load_rgb(path)
            for factor in hr_scales:
                small = mod_crop(imresize_uint8(full, float(factor)), scale)
                if min(small.shape[-2:]) >= gt_size:
                    lr = bicubic_degradation(small, scale, np.random.default_rng(0)) if degradation is None else None
                    self.hr.append(small)
                    self.lr.append(lr)
                    self.files.append(path)
            hr = mod_crop(full, scale)
            if min(hr.shape[-2:]) < gt_size:
                skipped.append(path.name)
                continue
            if lr_files is not None:
                lr = load_rgb(lr_files[i])
                if tuple(lr.shape[-2:]) != (hr.shape[-2] // scale, hr.shape[-1] // scale):
                    raise ValueError(f"LR image {lr_files[i]} is {tuple(lr.shape[-2:])}, expected HR {path} / {scale}")
            elif degradation is None:
                lr = bicubic_degradation(hr, scale, np.random.default_rng(0))
            else:
                lr = None
            self.hr.append(hr)
            self.lr.append(lr)
            self.files.append(path)
        if not self.hr:
            raise ValueError(f"every training image is smaller than the patch size {gt_size}px; lower gt_size")
        self.skipped = skipped

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.rank, int(n)])
        i = int(rng.integers(len(self.hr)))
        hr_img, lr_img = self.hr[i], self.lr[i]
        s, gt = self.scale, self.gt_size
        lq = gt // s
        h, w = hr_img.shape[-2] // s, hr_img.shape[-1] // s
        top, left = int(rng.integers(h - lq + 1)), int(rng.integers(w - lq + 1))
        hr = hr_img[:, top * s : top * s + gt, left * s : left * s + gt]
        if lr_img is not None:
            lr = lr_img[:, top : top + lq, left : left + lq]
        else:
            lr = self.degradation(hr.contiguous(), s, rng)
        lr, hr = augment(lr, hr, rng)
        return lr.float().div_(255.0), hr.float().div_(255.0)


class IndexRange(torch.utils.data.Sampler):
    """Yields sample indices start, start+1, ... end-1 (the resumable stream)."""

    def __init__(self, start: int, end: int) -> None:
        self.start, self.end = start, end

    def __iter__(self):
        return iter(range(self.start, self.end))

    def __len__(self) -> int:
        return self.end - self.start
