"""Turn a finished run's export into a bundled model file: the same tensors,
plus the facts a user of the bundled file wants in its metadata (the
evaluation on held-out sets, the hardware and the wall time of the run),
written atomically; then print the sha256 and size for ``weights/catalogue.json``.

    python -m gensr.training.bundle runs/gensr-x4/gensr-x4.safetensors weights/default/gensr-x4.safetensors \\
        --eval ../shared/data/val/Set5 --eval ../shared/data/val/Set14 \\
        --hardware "2-core CPU (shared), bf16 autocast" --hours 0.9
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Optional, Sequence

import torch
from safetensors.torch import save

from ..sr_core.files import atomic_write
from ..weights import load_model
from ..weights.safe_read import read_safetensors
from .validation import evaluate_images, summarise, validation_files

DATA_NOTE = ("../shared/data/train: T91 (91 images) + BSD200 (BSDS300 train, 199 images); "
             "validation images never used")


def evaluation(path: Path, folders: Sequence[str]) -> dict[str, dict[str, float]]:
    """Averages of ``gensr eval``'s figures per folder (named by the folder)."""
    model = load_model(path).eval()

    @torch.no_grad()
    def run(x: torch.Tensor) -> torch.Tensor:
        return model(x).float()

    return {Path(f).name: summarise(evaluate_images(run, validation_files(f), model.scale)) for f in folders}


def bundle_metadata(metadata: dict[str, str], evaluated: dict, hardware: str, hours: float,
                    licence: str = "Apache-2.0") -> dict[str, str]:
    """The export's metadata with the bundle's facts added (all values strings)."""
    return {
        **metadata,
        "gensr.data": DATA_NOTE,
        "gensr.evaluation": json.dumps(evaluated, sort_keys=True),
        "gensr.training_hardware": hardware,
        "gensr.training_time_hours": f"{hours:.2f}",
        "gensr.licence": licence,
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("export", type=Path, help="the run's exported .safetensors")
    p.add_argument("target", type=Path, help="where the bundled file goes")
    p.add_argument("--eval", action="append", required=True, help="held-out HR folder (repeatable)")
    p.add_argument("--hardware", required=True, help="what the run trained on")
    p.add_argument("--hours", type=float, required=True, help="wall time of the run (all stages of it)")
    args = p.parse_args(argv)

    tensors, metadata = read_safetensors(args.export)
    evaluated = evaluation(args.export, args.eval)
    data = save(tensors, bundle_metadata(metadata, evaluated, args.hardware, args.hours))
    atomic_write(args.target, lambda tmp: Path(tmp).write_bytes(data))
    print(json.dumps({"file": str(args.target), "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                      "evaluation": evaluated}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
