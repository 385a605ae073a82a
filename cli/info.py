"""Print a weight file's detected architecture, scale, channels and config as JSON."""
from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="weight file (.safetensors/.pth/...) or hf://OWNER/REPO/FILE[@REV]")


def run(args: argparse.Namespace) -> int:
    from ..weights import load_model

    model = load_model(args.model)
    info = {
        "source": getattr(model, "source", args.model),
        "arch": model.arch,
        "scale": model.scale,
        "in_channels": model.in_channels,
        "out_channels": model.out_channels,
        "parameters": sum(p.numel() for p in model.parameters()),
        "config": model.config,
        "metadata": getattr(model, "metadata", {}),
    }
    print(json.dumps(info, indent=2, default=str))
    return 0
