"""Evaluate a model the way SR papers do: LR inputs made from HR images with
MATLAB-style antialiased bicubic, Y-channel PSNR / SSIM with a border of
`scale` pixels cropped, beside plain bicubic upscaling; plus GenSR's texture
diagnostics (grid dB, high-frequency ratio; sr_core/texture_metrics.py).
Table on screen, JSON with --json."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .errors import UsageError
from .options import device_option


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="weight file or hf:// source")
    p.add_argument("--data", action="append", required=True, help="folder of HR images (repeatable: one table each)")
    p.add_argument("--scale", type=int, default=None, help="scale of the LR inputs (default: the model's scale)")
    p.add_argument("--device", type=device_option, default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..sr_core.upscale import pick_device
    from ..training.validation import evaluate_images, summarise, validation_files
    from ..weights import load_model

    device = pick_device(args.device)
    model = load_model(args.model).to(device)
    scale = args.scale or model.scale
    if scale != model.scale:
        raise UsageError(f"the model is x{model.scale}; --scale {scale} needs a x{scale} model")

    @torch.no_grad()
    def upscale(x: torch.Tensor) -> torch.Tensor:
        return model(x.to(device)).float().cpu()

    report = {"model": str(args.model), "scale": scale, "datasets": {}}
    for folder in args.data:
        scores = evaluate_images(upscale, validation_files(folder), scale)
        report["datasets"][Path(folder).name] = {
            "images": [vars(s) for s in scores],
            "average": summarise(scores),
        }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for name, result in report["datasets"].items():
        print(f"\n{name} (x{scale}, Y channel, border {scale} px cropped; bicubic in brackets)")
        print(f"{'image':<24}{'PSNR':>17}{'SSIM':>19}{'grid dB':>17}{'HF ratio':>17}")
        for row in [*result["images"], {"name": "average", **result["average"]}]:
            print(_table_row(row))
    return 0


def _table_row(s: dict) -> str:
    return (f"{s['name']:<24}{s['psnr']:>8.2f} ({s['bicubic_psnr']:>5.2f}){s['ssim']:>9.4f} ({s['bicubic_ssim']:.4f})"
            f"{s['grid_db']:>8.1f} ({s['bicubic_grid_db']:>5.1f}){s['hf_ratio']:>9.3f} ({s['bicubic_hf_ratio']:.3f})")
