"""Generator architectures, by short name (the ``arch`` of a loaded model)."""
from __future__ import annotations

from torch import nn

from .compact import SRVGGNetCompact
from .rrdbnet import RRDBNet

GENERATORS: dict[str, type[nn.Module]] = {
    RRDBNet.arch: RRDBNet,
    SRVGGNetCompact.arch: SRVGGNetCompact,
}


def build_generator(arch: str, config: dict) -> nn.Module:
    """Instantiate the generator ``arch`` with hyper-parameters ``config``."""
    try:
        cls = GENERATORS[arch]
    except KeyError:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(GENERATORS)}") from None
    return cls(**config)


__all__ = ["GENERATORS", "RRDBNet", "SRVGGNetCompact", "build_generator"]
