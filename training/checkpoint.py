"""Training checkpoints: written atomically, so a crash or ``kill -9`` at any
moment leaves the previous checkpoint intact."""
from __future__ import annotations

import pickle
import struct
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


class DamagedCheckpointError(GenSRError, ValueError):
    """``--resume`` found a checkpoint file that is not a readable GenSR training checkpoint."""


def load_checkpoint(path: Path) -> Optional[dict[str, Any]]:
    """The checkpoint at ``path``, or None if there is none. Our own checkpoints
    hold only tensors and plain containers, so ``weights_only`` loading works;
    anything else (empty, damaged, another program's file) is a
    :class:`DamagedCheckpointError`."""
    if not path.exists():
        return None
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, struct.error) as e:
        reason = " ".join(str(e).split())[:160] or type(e).__name__
        raise DamagedCheckpointError(_damaged(path, f"it cannot be read ({reason})")) from None
    if not isinstance(state, dict) or not isinstance(state.get("config"), str):
        raise DamagedCheckpointError(_damaged(path, "it holds no GenSR training state"))
    return state


def _damaged(path: Path, why: str) -> str:
    return (f"{path} is not a GenSR training checkpoint: {why}. Delete it to start this run afresh, "
            "or drop --resume")
