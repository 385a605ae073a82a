"""Real-ESRGAN's second-order degradation model (Wang et al. 2021), per patch.

HR patch -> [unsharp mask] -> blur -> random resize -> Gaussian/Poisson noise
-> JPEG -> (second stage) blur -> random resize -> noise -> then, in a random
order, [resize to the LR size + sinc filter] and JPEG -> LR patch.

Every random choice comes from the sample's numpy Generator, so a patch's LR is
a pure function of (seed, rank, sample index), whatever the worker. Defaults
are Real-ESRGAN's published x4plus settings; every step's probability and range
can be changed through ``degradation_options``.
"""
from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from .filters import filter2d, next_power_of_two, resize, rgb_to_grey
from .kernels import KERNEL_TYPES, pulse_kernel, random_mixed_kernel, random_sinc_kernel
from .sharpen import usm_sharpen

_KERNELS = list(KERNEL_TYPES)
_KERNEL_PROB = [0.45, 0.25, 0.12, 0.03, 0.12, 0.03]
RESIZE_MODES = ("area", "bilinear", "bicubic")


@dataclass
class RealESRGANOptions:
    """Probabilities and ranges of each step (names follow Real-ESRGAN's options;
    a trailing 2 means the second stage)."""

    sharpen_input: bool = True  # degrade the unsharp-masked HR, as Real-ESRGAN does
    kernel_range: list = field(default_factory=lambda: [7, 21])  # odd sizes drawn from this range
    # first stage
    blur_prob: float = 1.0
    kernel_list: list = field(default_factory=lambda: list(_KERNELS))
    kernel_prob: list = field(default_factory=lambda: list(_KERNEL_PROB))
    sinc_prob: float = 0.1
    blur_sigma: list = field(default_factory=lambda: [0.2, 3.0])
    betag_range: list = field(default_factory=lambda: [0.5, 4.0])
    betap_range: list = field(default_factory=lambda: [1.0, 2.0])
    resize_prob: list = field(default_factory=lambda: [0.2, 0.7, 0.1])  # up, down, keep
    resize_range: list = field(default_factory=lambda: [0.15, 1.5])
    resize_mode_prob: list = field(default_factory=lambda: [1 / 3, 1 / 3, 1 / 3])  # area, bilinear, bicubic
    noise_prob: float = 1.0
    gaussian_noise_prob: float = 0.5  # else Poisson
    noise_range: list = field(default_factory=lambda: [1.0, 30.0])  # sigma in 0..255 units
    poisson_scale_range: list = field(default_factory=lambda: [0.05, 3.0])
    gray_noise_prob: float = 0.4
    jpeg_prob: float = 1.0
    jpeg_range: list = field(default_factory=lambda: [30, 95])
    # second stage
    second_stage_prob: float = 1.0
    second_blur_prob: float = 0.8
    kernel_list2: list = field(default_factory=lambda: list(_KERNELS))
    kernel_prob2: list = field(default_factory=lambda: list(_KERNEL_PROB))
    sinc_prob2: float = 0.1
    blur_sigma2: list = field(default_factory=lambda: [0.2, 1.5])
    betag_range2: list = field(default_factory=lambda: [0.5, 4.0])
    betap_range2: list = field(default_factory=lambda: [1.0, 2.0])
    resize_prob2: list = field(default_factory=lambda: [0.3, 0.4, 0.3])
    resize_range2: list = field(default_factory=lambda: [0.3, 1.2])
    noise_prob2: float = 1.0
    gaussian_noise_prob2: float = 0.5
    noise_range2: list = field(default_factory=lambda: [1.0, 25.0])
    poisson_scale_range2: list = field(default_factory=lambda: [0.05, 2.5])
    gray_noise_prob2: float = 0.4
    jpeg_prob2: float = 1.0
    jpeg_range2: list = field(default_factory=lambda: [30, 95])
    # final
    final_sinc_prob: float = 0.8

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RealESRGANOptions":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown degradation option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        opts = cls(**values)
        opts.check()
        return opts

    def check(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name.endswith("_prob") and not isinstance(v, list) and not 0 <= v <= 1:
                raise ValueError(f"degradation option {f.name} must be a probability in [0, 1], got {v}")
        for name in ("kernel_list", "kernel_list2"):
            bad = [k for k in getattr(self, name) if k not in KERNEL_TYPES]
            if bad:
                raise ValueError(f"{name}: unknown kernel type(s) {bad}; use {', '.join(KERNEL_TYPES)}")
        lo, hi = self.kernel_range
        if lo < 1 or hi < lo:
            raise ValueError(f"kernel_range must be [min, max] odd sizes, got {self.kernel_range}")


class RealESRGANDegradation:
    """Callable ``(hr uint8 (3, H, W), scale, rng) -> lr uint8 (3, H/scale, W/scale)``."""

    def __init__(self, options: RealESRGANOptions | dict | None = None) -> None:
        if options is None:
            options = RealESRGANOptions()
        elif isinstance(options, dict):
            options = RealESRGANOptions.from_dict(options)
        self.o = options
        lo, hi = options.kernel_range
        self.kernel_sizes = [k for k in range(lo, hi + 1) if k % 2 == 1]
        if not self.kernel_sizes:
            raise ValueError(f"kernel_range {options.kernel_range} holds no odd size")

    # -- random pieces ------------------------------------------------------------
    def _kernel(self, rng: np.random.Generator, second: bool) -> np.ndarray:
        o, s = self.o, "2" if second else ""
        size = int(rng.choice(self.kernel_sizes))
        if rng.random() < getattr(o, "sinc_prob" + s):
            return random_sinc_kernel(rng, size)
        return random_mixed_kernel(
            rng, size, getattr(o, "kernel_list" + s), getattr(o, "kernel_prob" + s),
            getattr(o, "blur_sigma" + s), getattr(o, "betag_range" + s), getattr(o, "betap_range" + s),
        )

    def _mode(self, rng: np.random.Generator) -> str:
        p = np.asarray(self.o.resize_mode_prob, dtype=np.float64)
        return RESIZE_MODES[int(rng.choice(3, p=p / p.sum()))]

    def _scale(self, rng: np.random.Generator, prob: Sequence[float], rng_range: Sequence[float]) -> float:
        p = np.asarray(prob, dtype=np.float64)
        kind = int(rng.choice(3, p=p / p.sum()))
        if kind == 0:
            return float(rng.uniform(1.0, rng_range[1]))
        if kind == 1:
            return float(rng.uniform(rng_range[0], 1.0))
        return 1.0

    def _noise(self, img: torch.Tensor, rng: np.random.Generator, second: bool) -> torch.Tensor:
        o, s = self.o, "2" if second else ""
        if rng.random() >= getattr(o, "noise_prob" + s):
            return img
        grey = rng.random() < getattr(o, "gray_noise_prob" + s)
        if rng.random() < getattr(o, "gaussian_noise_prob" + s):
            return add_gaussian_noise(img, rng, float(rng.uniform(*getattr(o, "noise_range" + s))) / 255.0, grey)
        return add_poisson_noise(img, rng, float(rng.uniform(*getattr(o, "poisson_scale_range" + s))), grey)

    def _jpeg(self, img: torch.Tensor, rng: np.random.Generator, second: bool) -> torch.Tensor:
        o, s = self.o, "2" if second else ""
        if rng.random() >= getattr(o, "jpeg_prob" + s):
            return img.clamp(0, 1)
        lo, hi = getattr(o, "jpeg_range" + s)
        return jpeg_compress(img, int(round(rng.uniform(lo, hi))))

    # -- the pipeline ---------------------------------------------------------------
    @torch.no_grad()
    def __call__(self, hr: torch.Tensor, scale: int, rng: np.random.Generator) -> torch.Tensor:
        o = self.o
        h, w = hr.shape[-2:]
        if h % scale or w % scale:
            raise ValueError(f"HR patch {h}x{w} is not a multiple of the scale {scale}")
        lq_size = (h // scale, w // scale)
        img = hr.float().div(255.0)[None]
        if o.sharpen_input:
            img = usm_sharpen(img)
        # first stage
        if rng.random() < o.blur_prob:
            img = filter2d(img, self._kernel(rng, second=False))
        f = self._scale(rng, o.resize_prob, o.resize_range)
        img = resize(img, (int(h * f), int(w * f)), self._mode(rng))
        img = self._noise(img, rng, second=False)
        img = self._jpeg(img, rng, second=False)
        # second stage
        if rng.random() < o.second_stage_prob:
            if rng.random() < o.second_blur_prob:
                img = filter2d(img, self._kernel(rng, second=True))
            f = self._scale(rng, o.resize_prob2, o.resize_range2)
            img = resize(img, (int(h / scale * f), int(w / scale * f)), self._mode(rng))
            img = self._noise(img, rng, second=True)
        # resize to the LR size + final sinc, and JPEG, in a random order
        final = random_sinc_kernel(rng, int(rng.choice(self.kernel_sizes)), wide_range=False) \
            if rng.random() < o.final_sinc_prob else pulse_kernel()
        if rng.random() < 0.5:
            img = filter2d(resize(img, lq_size, self._mode(rng)), final)
            img = self._jpeg(img, rng, second=True)
        else:
            img = self._jpeg(img, rng, second=True)
            img = filter2d(resize(img, lq_size, self._mode(rng)), final)
        return img[0].mul(255.0).round().clamp(0, 255).to(torch.uint8)


def add_gaussian_noise(img: torch.Tensor, rng: np.random.Generator, sigma: float, grey: bool) -> torch.Tensor:
    """img + N(0, sigma^2) per pixel (the same value on every channel when ``grey``), clipped to 0..1."""
    b, c, h, w = img.shape
    shape = (b, 1, h, w) if grey else (b, c, h, w)
    noise = torch.from_numpy(rng.standard_normal(shape).astype(np.float32)) * sigma
    return (img + noise.to(img.device)).clamp(0, 1)


def add_poisson_noise(img: torch.Tensor, rng: np.random.Generator, scale: float, grey: bool) -> torch.Tensor:
    """Shot noise: the image quantised to 8 bits, its intensity counted in as many
    levels as it has distinct values (rounded up to a power of two), drawn from a
    Poisson law; the difference, times ``scale``, is added. ``grey``: computed on
    the luma and added to every channel."""
    src = rgb_to_grey(img) if grey and img.shape[1] == 3 else img
    levels = (src * 255.0).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
    vals = next_power_of_two(int(np.count_nonzero(np.bincount(levels.ravel(), minlength=256))))
    counts = rng.poisson(levels.astype(np.float64) * (vals / 255.0))
    src = torch.from_numpy(levels).to(img.dtype).to(img.device) / 255.0
    noise = torch.from_numpy(counts / vals).to(img.dtype).to(img.device) - src
    return (img + noise * scale).clamp(0, 1)


def jpeg_compress(img: torch.Tensor, quality: int) -> torch.Tensor:
    """Encode each (3, H, W) image in 0..1 as JPEG at ``quality`` (PIL, 4:2:0) and decode it."""
    out = []
    for x in img.clamp(0, 1):
        arr = x.mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
        buf = io.BytesIO()
        Image.fromarray(arr.squeeze(-1) if arr.shape[-1] == 1 else arr).save(buf, format="JPEG", quality=int(quality))
        buf.seek(0)
        with Image.open(buf) as im:
            dec = np.asarray(im.convert("L" if arr.shape[-1] == 1 else "RGB"))
        t = torch.from_numpy(dec.copy()).float().div(255.0)
        out.append(t[None] if t.ndim == 2 else t.permute(2, 0, 1))
    return torch.stack(out).to(img.device)
