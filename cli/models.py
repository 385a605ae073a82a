"""List the model catalogue: the bundled default models first, then community
models on the Hugging Face Hub (repo, file, pinned revision, sha256 verified on load)."""
from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the catalogue as JSON")


def _status(entry) -> str:
    if entry.bundled:
        return "bundled" if entry.bundled_path().is_file() else "missing from this install"
    from ..weights.hub import cached_file

    from ..weights.safe_read import pickles_are_safe

    state = "cached" if cached_file(entry.repo, entry.filename, entry.revision) else "downloads on first use"
    return state + ("; .pth needs torch >= 2.6" if entry.file_format == "pickle" and not pickles_are_safe() else "")


def run(args: argparse.Namespace) -> int:
    from ..weights.catalogue import load_catalogue

    entries = load_catalogue()
    rows = [{**e.to_dict(), "status": _status(e)} for e in entries]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    cols = [("NAME", "name"), ("ARCH", "arch"), ("SCALE", "scale"), ("LICENCE", "licence"), ("STATUS", "status"), ("SOURCE", "source")]
    cells = [[h for h, _ in cols]] + [[f"x{r[k]}" if k == "scale" else str(r[k]) for _, k in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    print()
    print("Use an entry by name: gensr upscale --model NAME ..., or gensr.load_model(\"SOURCE\"); its sha256 is checked on every load.")
    print("Pickle (.pth) entries are read with weights_only (no code in them runs), with torch >= 2.6.")
    print(architectures_line())
    return 0


def architectures_line() -> str:
    """Which architectures this installation opens: GenSR's registry, then spandrel's."""
    from ..sr_core.archs import ARCHITECTURES
    from ..weights.spandrel_models import INSTALL_HINT, spandrel_architecture_names, spandrel_version

    own = ", ".join(arch.name for arch in ARCHITECTURES.values())
    others = spandrel_architecture_names()
    if others:
        via = f"through spandrel {spandrel_version()}: {len(others)} more ({', '.join(others)})"
    else:
        via = f"other architectures need spandrel ({INSTALL_HINT})"
    return f"Architectures: GenSR runs {own}; {via}."
