"""RealPLKSR (with its DySample and layer-norm variants)."""
import torch
from torch import nn

from ..registry import Architecture, register
from .detect import detect
from .model import RealPLKSR


def is_realplksr(module: nn.Module) -> bool:
    """GenSR's RealPLKSR, or spandrel's (which ComfyUI's core loader builds)."""
    return isinstance(module, RealPLKSR) or (
        type(module).__name__ == "RealPLKSR" and isinstance(getattr(module, "feats", None), nn.Sequential)
    )


ARCH = register(Architecture(
    id=RealPLKSR.arch,
    name="RealPLKSR",
    model=RealPLKSR,
    detect=detect,
    # No exact context: the group norms see the whole window (tiles differ
    # from the untiled picture), and DySample's learned offsets are unbounded.
    exact_context=None,
    # bf16 only: the group-norm models (most RealPLKSR files) are known to
    # break in fp16 (spandrel marks them so); the layer-norm variant would
    # tolerate fp16, but precisions are per architecture.
    precisions=(torch.bfloat16,),
    claims=is_realplksr,
))

__all__ = ["ARCH", "RealPLKSR"]
