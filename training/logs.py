"""Run logs: one JSON object per line in ``log.jsonl`` and, when the
``tensorboard`` package is installed, the same scalars as TensorBoard events."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional


def _tensorboard_writer(log_dir: Path):
    """A SummaryWriter, or None when TensorBoard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch raises ImportError without the tensorboard package
        return None
    return SummaryWriter(log_dir=str(log_dir))


def scalars(record: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric leaves of ``record`` as 'train/loss', 'validation/psnr', ..."""
    out: dict[str, float] = {}
    for key, value in record.items():
        if key == "iteration":
            continue
        if isinstance(value, dict):
            out.update(scalars(value, f"{prefix}{key}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"{prefix or 'train/'}{key}"] = float(value)
    return out


class RunLog:
    """Appends records to ``path`` (JSON lines) and mirrors them to TensorBoard."""

    def __init__(self, path: Path, tensorboard: bool = True, enabled: bool = True) -> None:
        self.path, self.enabled = Path(path), enabled
        self.writer: Optional[Any] = None
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if tensorboard:
                self.writer = _tensorboard_writer(self.path.parent / "tensorboard")

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            step = int(record.get("iteration", 0))
            for tag, value in scalars(record).items():
                self.writer.add_scalar(tag, value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
