"""Where the bundled default model lives (used when no model is named)."""
from __future__ import annotations

from pathlib import Path

DEFAULT_MODEL_NAME = "gensr-x4.safetensors"


def default_model_path() -> Path:
    """Path of the bundled default model, ``weights/default/gensr-x4.safetensors``
    (it may not exist yet: callers check and say so)."""
    return Path(__file__).resolve().parent / "default" / DEFAULT_MODEL_NAME
