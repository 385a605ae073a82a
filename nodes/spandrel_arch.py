"""Our architectures as spandrel ``Architecture`` objects (imported only when
spandrel is available), so our models can live in a real ``ImageModelDescriptor``."""
from __future__ import annotations

from functools import lru_cache

import spandrel


class GenSRArchitecture(spandrel.Architecture):
    """A GenSR generator architecture; ``load`` builds it with GenSR's loader.

    It is not added to spandrel's registry (``detect`` never claims a file):
    ComfyUI's own loader keeps using spandrel's architectures."""

    def __init__(self, arch: str, name: str) -> None:
        super().__init__(id=f"GenSR-{arch}", name=name, detect=lambda state_dict: False)
        self.arch = arch

    def load(self, state_dict):
        from ..weights.loader import detect_architecture, model_from_state_dict
        from .descriptor import _spandrel_descriptor

        arch, _, _ = detect_architecture(state_dict)
        if arch != self.arch:
            raise ValueError(f"state dict is a {arch} model, not {self.arch}")
        return _spandrel_descriptor(model_from_state_dict(state_dict))


@lru_cache(maxsize=None)
def gensr_architecture(arch: str, name: str) -> GenSRArchitecture:
    return GenSRArchitecture(arch, name)
