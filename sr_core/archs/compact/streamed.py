"""Row-streamed execution of Compact-style models on the CPU.

A plain stack of stride-1 convolutions and pointwise activations (Real-ESRGAN
Compact) can run over an image in horizontal bands, each layer keeping the
last rows of its input as a line buffer for the next band. The result is the
untiled forward pass exactly, with no recomputed overlap, while each layer's
working set stays small enough for the CPU cache: on CPUs this is faster than
whole-image calls (which stream every layer from RAM) and than small tiles
(which recompute their borders).
"""
from __future__ import annotations

from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..bands import band_rows
from ..registry import Between, Sink, Streamed
from .context import conv_stack_context


def stream_plan(module: nn.Module) -> Optional[List[nn.Module]]:
    """The body layers if ``module`` can be streamed, else None."""
    if conv_stack_context(module) is None:
        return None
    scale = getattr(module, "scale", None) or getattr(module, "upscale", None)
    body = list(module.body)
    if not isinstance(scale, int) or not body or not isinstance(body[-1], nn.Conv2d):
        return None
    for layer in body:
        if isinstance(layer, nn.Conv2d):
            kh, kw = layer.kernel_size
            if layer.padding_mode != "zeros" or layer.padding != (layer.dilation[0] * (kh - 1) // 2,
                                                                 layer.dilation[1] * (kw - 1) // 2):
                return None
    if body[0].in_channels * scale * scale != body[-1].out_channels:
        return None  # only the plain "pixel shuffle + nearest residual" tail is reproduced here
    return body


def streamed_forward(
    module: nn.Module, body: List[nn.Module], x: torch.Tensor, rows: int, sink: Optional[Sink] = None,
    between: Between = None,
) -> Optional[torch.Tensor]:
    """``module(x)`` for a Compact-style model, computed band by band. With
    ``sink``, each band of output rows goes to ``sink(first_row, band)`` as it
    is made and nothing is returned (no full-size output is ever held).

    Each convolution keeps the last ``2 * pad`` rows of its input (its line
    buffer); a band is assembled in a work buffer reused for every layer and
    band, so the steady state allocates the same few band-sized tensors over
    and over (which keeps the process's memory flat).
    """
    n, c, h, w = x.shape
    scale = getattr(module, "scale", None) or getattr(module, "upscale")
    fmt = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) and c > 1 else torch.contiguous_format
    convs = [layer for layer in body if isinstance(layer, nn.Conv2d)]
    ph_max = max(conv.padding[0] for conv in convs)
    work = {}  # channels -> (n, channels, rows + 3 * pad, w) buffer
    tails = {}  # layer index -> its last input rows
    filled = {}  # layer index -> valid rows at the top of its tail (top padding counts)
    out: Optional[torch.Tensor] = None
    done = 0  # body-output rows produced so far

    def buffer(channels: int, needed: int) -> torch.Tensor:
        # The last band (bottom padding, rows pending in every layer) needs a little more.
        if channels not in work or work[channels].shape[2] < needed:
            work[channels] = torch.empty(n, channels, max(needed, rows + 3 * ph_max), w, dtype=x.dtype,
                                         device=x.device, memory_format=fmt)
        return work[channels]

    for start in range(0, h, rows):
        if between is not None and start:
            between()
        last = start + rows >= h
        y = x[:, :, start: start + rows]
        for i, layer in enumerate(body):
            if not isinstance(layer, nn.Conv2d):
                y = layer(y)
                continue
            ph, pw = layer.padding
            if ph:
                k = filled.get(i, ph)  # first band: ``ph`` rows of zero padding on top
                buf = buffer(y.shape[1], k + y.shape[2] + ph)
                if i in tails:
                    buf[:, :, :k].copy_(tails[i])
                else:
                    buf[:, :, :k].zero_()
                buf[:, :, k: k + y.shape[2]].copy_(y)
                k += y.shape[2]
                if last:  # bottom edge: zero padding
                    buf[:, :, k: k + ph].zero_()
                    k += ph
                keep = min(k, 2 * ph)
                tails[i] = buf[:, :, k - keep: k].clone()
                filled[i] = keep
                if k < 2 * ph + 1:
                    break  # not enough rows yet for one output row of this layer
                y = buf[:, :, :k]
            y = F.conv2d(y, layer.weight, layer.bias, layer.stride, (0, pw), layer.dilation, layer.groups)
        else:
            produced = y.shape[2]
            if produced == 0:
                continue
            # The nearest-upsampled input, added before the pixel shuffle: each
            # input pixel to its scale**2 sub-pixels (same sums, no upsampled copy).
            y.view(n, c, scale * scale, produced, w).add_(x[:, :, done: done + produced].unsqueeze(2))
            if sink is not None:
                sink(done * scale, F.pixel_shuffle(y, scale))
                done += produced
                continue
            if out is None:
                out = torch.empty(n, c, h * scale, w * scale, dtype=y.dtype, device=y.device, memory_format=fmt)
            out[:, :, done * scale: (done + produced) * scale] = F.pixel_shuffle(y, scale)
            done += produced
    assert done == h, (done, h)
    return out


class StreamedCompact(Streamed):
    """Compact's row-streamed forward (see :func:`streamed_forward`)."""

    takes_sink = True

    def __init__(self, module: nn.Module, body: List[nn.Module]) -> None:
        self.module = module
        self.body = body
        self.width = max((m.out_channels for m in body if isinstance(m, nn.Conv2d)), default=1)

    def forward(self, x: torch.Tensor, between: Between = None, sink: Optional[Sink] = None) -> Optional[torch.Tensor]:
        rows = band_rows(x.shape[-1], self.width, x.element_size())
        return streamed_forward(self.module, self.body, x, rows, sink, between)


def streamed(module: nn.Module) -> Optional[StreamedCompact]:
    """The streamed forward of ``module``, or None if it is not a plain stack."""
    body = stream_plan(module)
    return None if body is None else StreamedCompact(module, body)
