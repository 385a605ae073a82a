"""Generator architectures, one package each, found through the registry
(:mod:`.registry`). ``arch`` of a loaded model is its registry id."""
from __future__ import annotations

from torch import nn

from . import compact, realplksr, rrdbnet, span  # noqa: F401 - importing registers them
from .compact import SRVGGNetCompact
from .realplksr import RealPLKSR
from .registry import ARCHITECTURES, Architecture, SizeRules, Streamed, architecture_of, get_architecture, register
from .rrdbnet import RRDBNet
from .span import SPAN

def build_generator(arch: str, config: dict) -> nn.Module:
    """Instantiate the generator ``arch`` with hyper-parameters ``config``."""
    return get_architecture(arch).build(config)


__all__ = [
    "ARCHITECTURES", "Architecture", "RRDBNet", "RealPLKSR", "SPAN", "SRVGGNetCompact", "SizeRules", "Streamed",
    "architecture_of", "build_generator", "get_architecture", "register",
]
