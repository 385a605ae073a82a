"""A model made ready to run: on the compute device, in the compute dtype and
(where it helps) channels-last, without touching the caller's module."""
from __future__ import annotations

import copy
from typing import Callable, Optional

import torch
from torch import nn

from ..archs.registry import Sink, architecture_of
from .adapter import ModelSpec


def wants_channels_last(device: torch.device) -> bool:
    """Channels-last convolutions are faster on CPUs (oneDNN) and CUDA tensor cores."""
    return device.type in ("cpu", "cuda")


def canonical_channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` channels-last with the standard strides. A frame cut from a BHWC
    batch is channels-last already but its size-1 batch axis can carry an odd
    stride, which sends oneDNN down a slower path (~20% for RRDBNet)."""
    if x.dim() != 4:
        return x
    x = x.contiguous(memory_format=torch.channels_last)
    n, c, h, w = x.shape
    if n == 1 and x.stride(0) != c * h * w:
        x = x.as_strided(x.shape, (c * h * w, 1, w * c, c), x.storage_offset())
    return x


def _matches(module: nn.Module, device: torch.device, dtype: torch.dtype) -> bool:
    for p in list(module.parameters()) + list(module.buffers()):
        if p.device.type != device.type or (device.index is not None and p.device.index != device.index):
            return False
        if p.is_floating_point() and p.dtype != dtype:
            return False
    return True


class Runner:
    """Calls ``spec``'s model on batches of tiles (B, C, h, w) -> float32 output."""

    def __init__(self, spec: ModelSpec, device: torch.device, dtype: torch.dtype, channels_last: bool) -> None:
        self.spec = spec
        self.device = device
        self.dtype = dtype
        self.channels_last = channels_last
        module = spec.module
        if module.training or not _matches(module, device, dtype):
            # A converted copy: casting the caller's weights in place would lose
            # precision for everyone else using the model. (Channels-last input
            # is what speeds convolutions up; the weights' layout matters little,
            # so a model already on the device in the dtype is used as it is.)
            module = copy.deepcopy(module).to(device=device, dtype=dtype)
            if channels_last:
                module = module.to(memory_format=torch.channels_last)
        self.module = module.eval()
        # On CPUs, an architecture's streamed forward (exact, cache-friendly) when it has one.
        arch = architecture_of(self.module)
        self.streamed = arch.streamed(self.module) if device.type == "cpu" and arch and arch.streamed else None

    @property
    def streaming(self) -> bool:
        """Whether the model's output rows can go straight to a sink."""
        return self.streamed is not None and self.streamed.takes_sink

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(device=self.device, dtype=self.dtype, non_blocking=True)
        if self.channels_last:
            x = canonical_channels_last(x)
        return x

    def __call__(
        self, x: torch.Tensor, sink: Optional[Sink] = None, between: Optional[Callable[[], None]] = None
    ) -> Optional[torch.Tensor]:
        """The model's output as float32; with ``sink`` (streaming models only)
        the output rows go to ``sink(first_row, rows)`` band by band instead.
        Banded models call ``between()`` after each block (it may raise to stop)."""
        with torch.inference_mode():
            x = self.prepare(x)
            if sink is not None and not self.streaming:
                raise ValueError("only streaming models take a sink")
            if self.streamed is not None:
                if sink is not None:
                    self.streamed.forward(x, between, lambda r, band: sink(r, band.float()))
                    return None
                y = self.streamed.forward(x, between)
            else:
                y = self.spec.forward(self.module, x)
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"{self.spec.name} returned {type(y).__name__}, not a tensor")
        return y.float()
