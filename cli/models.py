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

    state = "cached" if cached_file(entry.repo, entry.filename, entry.revision) else "downloads on first use"
    return state + ("; needs allow_pickle" if entry.file_format == "pickle" else "")


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
    print('Load a Hub entry with gensr.load_model("SOURCE"); its sha256 is checked on every load.')
    print("Pickle (.pth) entries load only with allow_pickle=True (still read with weights_only).")
    return 0
