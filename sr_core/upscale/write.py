"""The writer: the one place where a window's result reaches the output.

Results come from the model as float32 on the compute device; the output may
be on another device (ComfyUI keeps IMAGE tensors on the CPU while the model
runs on the GPU) and in another dtype (uint8 files, fp16 batches). The writer
converts each result to the output's dtype where it was computed (less to
copy), then copies it across with ``copy_``, never with an op that mixes
devices. From CUDA to the CPU the copy goes through pinned staging buffers,
``non_blocking`` on a side stream, so the GPU computes the next windows while
earlier results travel; :meth:`Writer.finish` waits for every copy before the
output is handed back.
"""
from __future__ import annotations

from collections import deque
from typing import Deque, Dict, List, Tuple

import torch

from .devices import same_device

Box = Tuple[int, int, int, int]  # (y0, y1, x0, x1) in output pixels


def convert(x: torch.Tensor, dtype: torch.dtype, clamp: bool) -> torch.Tensor:
    """Float ``x`` as ``dtype`` on its own device: uint8 is 0..255 rounded
    (always clamped); floats are clamped to [0, 1] when ``clamp``."""
    if dtype == torch.uint8:
        return x.clamp(0, 1).mul_(255).round_().to(torch.uint8)
    if clamp:
        x = x.clamp(0, 1)
    return x if x.dtype == dtype else x.to(dtype)


class Writer:
    """Writes window results into ``out`` (B, C, H, W), a view of the output.

    Args:
        out: the BCHW view of the result (any device, any supported dtype).
        compute: the device results come from.
        clamp: clamp float output to [0, 1].
        in_flight: most asynchronous copies waiting at once (CUDA to CPU).
    """

    def __init__(self, out: torch.Tensor, compute: torch.device, clamp: bool, in_flight: int = 4) -> None:
        self.out = out
        self.clamp = clamp
        self.in_flight = in_flight
        self.staged = compute.type == "cuda" and out.device.type == "cpu"
        self.stream = torch.cuda.Stream(compute) if self.staged else None
        self.pending: Deque[Tuple[object, torch.Tensor, torch.Tensor]] = deque()
        self.spare: Dict[Tuple, List[torch.Tensor]] = {}

    def put(self, frame: int, channels: slice, box: Box, x: torch.Tensor) -> None:
        """Store float ``x`` (C, h, w) at ``box`` of channels ``channels`` of ``frame``."""
        y0, y1, x0, x1 = box
        dst = self.out[frame, channels, y0:y1, x0:x1]
        if tuple(x.shape) != tuple(dst.shape):
            raise ValueError(f"result of shape {tuple(x.shape)} does not fit output box {tuple(dst.shape)}")
        if same_device(x.device, dst.device):
            if self.clamp and dst.dtype == x.dtype:
                torch.clamp(x, 0, 1, out=dst)  # one pass, straight into the (strided) output
            else:
                dst.copy_(convert(x, dst.dtype, self.clamp))
            return
        y = convert(x, dst.dtype, self.clamp)  # on the compute device: less to copy
        if self.staged:
            self._copy_async(y, dst)
        else:
            dst.copy_(y)  # a blocking cross-device copy (e.g. MPS or CPU to another device)

    def _staging(self, y: torch.Tensor) -> torch.Tensor:
        key = (tuple(y.shape), y.dtype)
        spare = self.spare.get(key)
        if spare:
            return spare.pop()
        return torch.empty(y.shape, dtype=y.dtype, pin_memory=torch.cuda.is_available())

    def _copy_async(self, y: torch.Tensor, dst: torch.Tensor) -> None:
        staging = self._staging(y)
        self.stream.wait_stream(torch.cuda.current_stream(y.device))  # y is complete
        with torch.cuda.stream(self.stream):
            staging.copy_(y, non_blocking=True)
            done = torch.cuda.Event()
            done.record(self.stream)
        y.record_stream(self.stream)  # y's memory is not reused before the copy ends
        self.pending.append((done, staging, dst))
        self._drain(False)

    def _drain(self, everything: bool) -> None:
        """Move finished copies from staging into the output: those done, the
        oldest while more than ``in_flight`` are queued, or all (``everything``)."""
        while self.pending:
            done, staging, dst = self.pending[0]
            if not (everything or len(self.pending) > self.in_flight or done.query()):
                break
            self.pending.popleft()
            done.synchronize()
            dst.copy_(staging)
            self.spare.setdefault((tuple(staging.shape), staging.dtype), []).append(staging)

    def finish(self) -> None:
        """Wait for every copy; the output is complete afterwards."""
        self._drain(True)
        self.spare.clear()
