"""Blend two weight files of one network (ESRGAN's network interpolation):
OUTPUT = (1 - alpha) * FIRST + alpha * SECOND, e.g. FIRST a PSNR model and
SECOND its GAN fine-tune, to choose between fidelity and generated texture."""
from __future__ import annotations

import argparse
from pathlib import Path

from .errors import UsageError
from .options import new_safetensors_path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("first", help="weight file weighted 1 - alpha (e.g. the PSNR model)")
    p.add_argument("second", help="weight file weighted alpha (e.g. its GAN fine-tune)")
    p.add_argument("--alpha", type=float, required=True, help="share of SECOND, 0..1")
    p.add_argument("-o", "--output", required=True, help="output .safetensors path")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")


def run(args: argparse.Namespace) -> int:
    from ..weights import load_model, save_model
    from ..weights.interpolate import interpolate_models

    out = new_safetensors_path(args.output, args.overwrite)
    if not 0.0 <= args.alpha <= 1.0:
        raise UsageError(f"--alpha must lie between 0 and 1 (the share of {args.second}), got {args.alpha}")
    a, b = load_model(args.first), load_model(args.second)
    model = interpolate_models(a, b, args.alpha)
    record = {"first": Path(args.first).name, "second": Path(args.second).name, "alpha": args.alpha}
    for key, source in (("first_recipe", a), ("second_recipe", b)):  # the training runs, where they say
        recipe = getattr(source, "metadata", {}).get("gensr.recipe")
        if recipe:
            record[key] = recipe
    save_model(model, out, metadata={"gensr.interpolated": record})
    print(f"{out}: {1 - args.alpha:g} x {args.first} + {args.alpha:g} x {args.second} ({model.arch}, x{model.scale})")
    return 0
