"""Import a checkout of this repository as ``gensr``, not another installed copy.

Tests, benchmarks and examples load this file by path (before ``gensr`` can be
imported), so it imports nothing from the package."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def import_checkout_as_gensr(root: Path = ROOT) -> None:
    """Make ``import gensr`` resolve to ``root`` (this checkout by default)."""
    root = Path(root).resolve()
    spec = importlib.util.find_spec("gensr")
    if spec is not None and spec.origin and Path(spec.origin).resolve().parent == root:
        return
    for name in [m for m in sys.modules if m == "gensr" or m.startswith("gensr.")]:
        del sys.modules[name]
    spec = importlib.util.spec_from_file_location("gensr", root / "__init__.py", submodule_search_locations=[str(root)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["gensr"] = module
    spec.loader.exec_module(module)

