"""Antialiased separable resampling that can be evaluated window by window.

``AxisResampler`` holds, for every destination pixel of one axis, its filter
taps in the source. A tile supplies a source window and asks for the
destination pixels it owns; the result is identical to resizing the whole
image at once, so resizing happens tile by tile inside the upscaler without
ever holding the full model-resolution image.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Tuple

import torch

#: Destination pixels per resampling chunk (one dense weight block each).
CHUNK = 64


def _lanczos3(x: torch.Tensor) -> torch.Tensor:
    x = x.abs()
    out = torch.sinc(x) * torch.sinc(x / 3)
    return torch.where(x < 3, out, torch.zeros_like(out))


def _bicubic(x: torch.Tensor) -> torch.Tensor:  # Keys, a = -0.5 (as PIL)
    a = -0.5
    x = x.abs()
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return torch.where(x < 1, near, torch.where(x < 2, far, torch.zeros_like(x)))


def _triangle(x: torch.Tensor) -> torch.Tensor:
    return (1 - x.abs()).clamp_min(0)


FILTERS: Dict[str, Tuple[Callable[[torch.Tensor], torch.Tensor], float]] = {
    "lanczos": (_lanczos3, 3.0),
    "bicubic": (_bicubic, 2.0),
    "bilinear": (_triangle, 1.0),
}


class AxisResampler:
    """Resampling of one axis from ``src`` to ``dst`` pixels with ``filter``
    (``lanczos``, ``bicubic`` or ``bilinear``), widened when shrinking so it
    antialiases (like PIL). Taps beyond the image edge are dropped and the
    remaining weights renormalised."""

    def __init__(self, src: int, dst: int, filter: str = "lanczos") -> None:
        if filter not in FILTERS:
            raise ValueError(f"unknown resize filter {filter!r}; choose one of {', '.join(FILTERS)}")
        if src < 1 or dst < 1:
            raise ValueError(f"cannot resample {src} -> {dst} pixels")
        self.src, self.dst = src, dst
        kernel, support = FILTERS[filter]
        ratio = src / dst
        stretch = max(1.0, ratio)
        self.support = support * stretch  # in source pixels
        centers = (torch.arange(dst, dtype=torch.float64) + 0.5) * ratio - 0.5
        first = torch.ceil(centers - self.support).clamp_min(0).long()
        last = torch.floor(centers + self.support).clamp_max(src - 1).long()
        taps = int((last - first).max().item()) + 1
        idx = first[:, None] + torch.arange(taps)[None, :]
        w = kernel((idx.double() - centers[:, None]) / stretch)
        w = torch.where(idx <= last[:, None], w, torch.zeros_like(w))
        w = w / w.sum(1, keepdim=True)
        self.first = first
        self.count = (last - first + 1)
        self.weights = w.float()
        self.taps = taps

    def owned(self, a: int, b: int) -> Tuple[int, int]:
        """Destination pixels ``[j0, j1)`` whose centres fall in source pixels
        ``[a, b)``; consecutive source ranges own consecutive destinations."""

        def j(s: int) -> int:  # ceil((2 s dst - src) / (2 src)), exactly
            return -((self.src - 2 * s * self.dst) // (2 * self.src))

        return max(0, j(a)), min(self.dst, j(b))

    def reach(self, j0: int, j1: int) -> Tuple[int, int]:
        """Source pixels ``[s0, s1)`` that destinations ``[j0, j1)`` read."""
        if j0 >= j1:
            return 0, 0
        return int(self.first[j0]), int((self.first[j0:j1] + self.count[j0:j1]).max())

    def apply(self, x: torch.Tensor, dim: int, src0: int, j0: int, j1: int) -> torch.Tensor:
        """Destinations ``[j0, j1)`` along ``dim`` of ``x``, a source window
        starting at source pixel ``src0`` that contains ``reach(j0, j1)``.

        Destinations are taken in chunks of ``CHUNK``; each chunk reads one
        span of source pixels, so the resize is one gather plus one batched
        matrix product per axis (dense weights within a chunk), ~5x faster on
        CPUs than a gather per filter tap.
        """
        s0, s1 = self.reach(j0, j1)
        if s0 < src0 or s1 > src0 + x.shape[dim]:
            raise ValueError(
                f"source window [{src0}, {src0 + x.shape[dim]}) does not contain the taps [{s0}, {s1}) "
                "(increase the tile overlap)"
            )
        dim = dim % x.dim()
        if dim != x.dim() - 2:
            return self.apply(x.movedim(dim, -2), x.dim() - 2, src0, j0, j1).movedim(-2, dim)
        starts, weights = self._chunks(src0, j0, j1, x.shape[dim])
        chunks, _, span = weights.shape
        index = (starts[:, None] + torch.arange(span)[None, :]).reshape(-1).to(x.device)
        lead, width = x.shape[:-2], x.shape[-1]
        windows = x.index_select(dim, index).reshape(-1, chunks, span, width)  # (R, chunks, span, W)
        out = torch.matmul(weights.to(device=x.device, dtype=x.dtype), windows)  # (R, chunks, CHUNK, W)
        return out.reshape(*lead, chunks * CHUNK, width)[..., : j1 - j0, :]

    def _chunks(self, src0: int, j0: int, j1: int, size: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Per chunk of destinations: the first source pixel it reads (window
        coordinates) and its dense (CHUNK, span) weights."""
        n = j1 - j0
        chunks = -(-n // CHUNK)
        dest = (j0 + torch.arange(chunks * CHUNK)).clamp_max(j1 - 1)  # the last chunk repeats its last pixel
        first = self.first[dest] - src0
        end = first + self.count[dest]
        starts = first.view(chunks, CHUNK)[:, 0]
        span = int((end.view(chunks, CHUNK).max(1).values - starts).max())
        starts = starts.clamp_max(size - span)  # keep every span inside the window
        taps = torch.arange(self.taps)
        pos = first[:, None] + taps[None, :] - starts.repeat_interleave(CHUNK)[:, None]
        valid = taps[None, :] < self.count[dest][:, None]
        weights = torch.zeros(chunks * CHUNK, span)
        rows = torch.arange(chunks * CHUNK)[:, None].expand_as(pos)
        weights[rows[valid], pos[valid]] = self.weights[dest][valid]
        return starts, weights.view(chunks, CHUNK, span)


class Resizer2d:
    """A separable 2D resize ``(src_h, src_w) -> (dst_h, dst_w)`` evaluated on windows."""

    def __init__(self, src: Tuple[int, int], dst: Tuple[int, int], filter: str = "lanczos") -> None:
        self.rows = AxisResampler(src[0], dst[0], filter)
        self.cols = AxisResampler(src[1], dst[1], filter)
        self.identity = tuple(src) == tuple(dst)

    def margin(self) -> int:
        """Source pixels of context the filter reads beyond an owned range."""
        if self.identity:
            return 0
        return int(math.ceil(max(self.rows.support, self.cols.support))) + 1

    def owned(self, core: Tuple[int, int, int, int]) -> Tuple[int, int, int, int]:
        """Destination box owned by the source box ``core`` = (y0, y1, x0, x1)."""
        if self.identity:
            return core
        j0, j1 = self.rows.owned(core[0], core[1])
        i0, i1 = self.cols.owned(core[2], core[3])
        return j0, j1, i0, i1

    def apply(self, x: torch.Tensor, origin: Tuple[int, int], box: Tuple[int, int, int, int]) -> torch.Tensor:
        """Destination box ``box`` = (y0, y1, x0, x1) from ``x`` (..., H, W), a
        source window whose top-left pixel is ``origin`` = (y, x)."""
        y0, y1, x0, x1 = box
        if self.identity:
            return x[..., y0 - origin[0]: y1 - origin[0], x0 - origin[1]: x1 - origin[1]]
        # Crop to what the taps read first: less work in the first pass.
        r0, r1 = self.rows.reach(y0, y1)
        c0, c1 = self.cols.reach(x0, x1)
        if r0 < origin[0] or c0 < origin[1]:
            raise ValueError("source window starts after the filter taps (increase the tile overlap)")
        x = x[..., r0 - origin[0]: r1 - origin[0], c0 - origin[1]: c1 - origin[1]]
        x = self.cols.apply(x, x.dim() - 1, c0, x0, x1)
        return self.rows.apply(x, x.dim() - 2, r0, y0, y1)


def resize(x: torch.Tensor, size: Tuple[int, int], filter: str = "lanczos") -> torch.Tensor:
    """Resize (..., H, W) to ``size`` = (height, width) in one go (float math)."""
    r = Resizer2d((x.shape[-2], x.shape[-1]), size, filter)
    return r.apply(x.float(), (0, 0), (0, size[0], 0, size[1]))
