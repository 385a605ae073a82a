"""Convert a .pth/.pt/.ckpt/.bin weight file to .safetensors (in the standard key
layout of its architecture, with metadata). Pickles are read without running
code unless --trust-pickle is given for a file whose source you trust."""
from __future__ import annotations

import argparse
from pathlib import Path

from .options import new_safetensors_path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="weight file to convert")
    p.add_argument("output", help="output .safetensors path")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow a pickle that needs Python code to load (runs that code: only for files you trust)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")


def run(args: argparse.Namespace) -> int:
    from ..weights import load_model, save_model

    out = new_safetensors_path(args.output, args.overwrite)
    model = load_model(args.input, trust_pickle=args.trust_pickle)
    meta = {k: v for k, v in getattr(model, "metadata", {}).items() if not k.startswith("gensr.") and k != "format"}
    meta["gensr.converted_from"] = Path(args.input).name
    save_model(model, out, metadata=meta)
    print(f"{args.input} -> {out} ({model.arch}, x{model.scale}, {model.in_channels}->{model.out_channels} channels)")
    return 0
