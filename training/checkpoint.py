"""Training checkpoints: written atomically, so a crash or ``kill -9`` at any
moment leaves the previous checkpoint intact."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch

from ..weights.errors import GenSRError
from ..weights.save import atomic_write


class CheckpointMismatchError(GenSRError, ValueError):
    """``--resume`` found a checkpoint of a different run (architecture or scale)."""


def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors, numbers, dicts) to ``path`` atomically."""
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path) -> Optional[dict[str, Any]]:
    """The checkpoint at ``path``, or None if there is none. Our own checkpoints
    hold only tensors and plain containers, so ``weights_only`` loading works."""
    if not path.exists():
        return None
    return torch.load(str(path), map_location="cpu", weights_only=True)
