"""Packaging and layering: ``pip install .`` ships every subpackage and its data
files, and ``sr_core`` stays free of ComfyUI, the network and the other layers."""
from __future__ import annotations

import ast
import fnmatch
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = pytest.importorskip("tomli")

NOT_SHIPPED = {"tests", "bench", "build", "dist", "node_modules"}


def pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def package_dirs() -> dict[str, Path]:
    """'gensr.a.b' -> folder, for every folder with an __init__.py chain from the root."""
    found = {"gensr": ROOT}
    for init in sorted(ROOT.rglob("__init__.py")):
        rel = init.parent.relative_to(ROOT)
        if not rel.parts or rel.parts[0] in NOT_SHIPPED or any(p.startswith(".") or p.endswith(".egg-info") for p in rel.parts):
            continue
        if all((ROOT.joinpath(*rel.parts[:i]) / "__init__.py").exists() for i in range(1, len(rel.parts))):
            found[".".join(("gensr",) + rel.parts)] = init.parent
    return found


def test_every_subpackage_is_listed_in_pyproject():
    setuptools = pyproject()["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"gensr": "."}
    listed = set(setuptools["packages"])
    present = set(package_dirs())
    missing = sorted(present - listed)
    assert not missing, f"add these to [tool.setuptools] packages in pyproject.toml: {missing}"
    stale = sorted(listed - present)
    assert not stale, f"pyproject.toml lists packages without a folder + __init__.py: {stale}"


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout")
    return [ROOT / name for name in out.decode().split("\0") if name]


def test_data_files_of_subpackages_are_package_data():
    packages = package_dirs()
    data = pyproject()["tool"]["setuptools"].get("package-data", {})
    unshipped = []
    for path in tracked_files():
        if path.suffix in (".py", ".pyc") or not path.exists():
            continue
        owners = [(name, d) for name, d in packages.items() if name != "gensr" and d in path.parents]
        if not owners:
            continue  # repository files (README, pyproject, tests, ...) are not package data
        name, folder = max(owners, key=lambda item: len(item[1].parts))
        rel = path.relative_to(folder).as_posix()
        if not any(fnmatch.fnmatch(rel, pattern) for pattern in data.get(name, [])):
            unshipped.append(f"{path.relative_to(ROOT)} (package {name})")
    assert not unshipped, f"add to [tool.setuptools.package-data] in pyproject.toml: {unshipped}"


def test_console_script_points_at_the_cli():
    assert pyproject()["project"]["scripts"] == {"gensr": "gensr.cli:main"}
    from gensr.cli import main

    assert callable(main)


FORBIDDEN_TOP_LEVEL = {
    "comfy", "comfy_extras", "comfy_api", "comfy_execution", "folder_paths", "server", "nodes",
    "huggingface_hub", "requests", "urllib3", "httpx", "socket", "http", "spandrel", "torchvision",
}
OTHER_LAYERS = {"weights", "nodes", "training", "cli", "bench"}


def imported_modules(source: str, package: tuple[str, ...]) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, a module of
    ``package`` (e.g. ('gensr', 'sr_core')); relative imports are resolved."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = ".".join(package[: len(package) - node.level + 1])
            if node.module:
                found.append((node.lineno, f"{base}.{node.module}"))
            else:
                found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, node.module or ""))
    return found


def layering_violations(module: str) -> bool:
    parts = module.split(".")
    if parts[0] == "gensr":
        return len(parts) > 1 and parts[1] != "sr_core"
    return parts[0] in FORBIDDEN_TOP_LEVEL or parts[0] in OTHER_LAYERS or module.startswith("urllib.request")


def test_sr_core_imports_nothing_from_other_layers_comfyui_or_the_network():
    files = sorted((ROOT / "sr_core").rglob("*.py"))
    assert files
    bad = []
    for path in files:
        package = ("gensr",) + path.parent.relative_to(ROOT).parts
        for line, module in imported_modules(path.read_text(encoding="utf-8"), package):
            if layering_violations(module):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not bad, "sr_core must stay pure PyTorch: " + "; ".join(bad)


def test_import_checker_catches_escapes():
    """The layering check itself: imports out of sr_core are caught, its own are not."""
    source = (
        "import torch\nfrom torch import nn\nfrom . import compact\nfrom ..metrics import psnr\n"
        "from ...weights import load_model\nfrom ... import nodes\nimport huggingface_hub\n"
        "from comfy import model_management\nimport gensr.training.loop\nfrom urllib.request import urlopen\n"
    )
    modules = [m for _, m in imported_modules(source, ("gensr", "sr_core", "archs"))]
    assert modules == [
        "torch", "torch", "gensr.sr_core.archs.compact", "gensr.sr_core.metrics", "gensr.weights",
        "gensr.nodes", "huggingface_hub", "comfy", "gensr.training.loop", "urllib.request",
    ]
    assert [layering_violations(m) for m in modules] == [False] * 4 + [True] * 6



def absolute_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every non-relative import in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            found.append((node.lineno, node.module or ""))
    return found


def test_package_code_imports_itself_only_relatively():
    """ComfyUI imports the pack under its folder name, not as ``gensr``: an
    absolute ``gensr`` import inside the package would break there."""
    bad = []
    for folder in package_dirs().values():
        for path in sorted(folder.glob("*.py")):
            for line, module in absolute_imports(path.read_text(encoding="utf-8")):
                if module.split(".")[0] == "gensr":
                    bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not bad, "use relative imports inside the package: " + "; ".join(bad)
    assert absolute_imports("import gensr.weights\nfrom gensr import load_model\nfrom . import x\n") == [
        (1, "gensr.weights"), (2, "gensr")]


def import_cycles(modules: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle (as a path that ends where it starts) in the graph
    ``module -> modules it imports``, each found once from its smallest name."""
    cycles = []

    def walk(start: str, path: list[str]) -> None:
        for nxt in sorted(modules.get(path[-1], ())):
            if nxt == start:
                cycles.append(path + [start])
            elif nxt > start and nxt not in path:
                walk(start, path + [nxt])

    for start in sorted(modules):
        walk(start, [start])
    return cycles


def test_import_cycle_finder():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c", "a"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_weights_modules_import_each_other_one_way():
    """Within ``weights`` the dependencies go one way, lazy imports included
    (e.g. ``hub`` reads the catalogue; the catalogue knows nothing of the Hub)."""
    graph = {}
    for path in sorted((ROOT / "weights").glob("*.py")):
        name = "gensr.weights" + ("" if path.stem == "__init__" else f".{path.stem}")
        imported = {m for _, m in imported_modules(path.read_text(encoding="utf-8"), ("gensr", "weights"))}
        graph[name] = {m for m in imported if m.startswith("gensr.weights.")}
    assert graph["gensr.weights.hub"]
    assert import_cycles(graph) == []
