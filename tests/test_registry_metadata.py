"""Publishing on the Comfy Registry (what ComfyUI-Manager installs from): the
pyproject.toml metadata the registry reads is complete and well-formed, the
archive it builds (git-tracked files plus ``includes``) holds every file the
pack loads, and comfy-cli's own ``comfy node validate`` passes when installed.

The rules are those of https://docs.comfy.org/registry/specifications and of
comfy-cli's parser (comfy_cli/registry/config_parser.py), restated here."""
from __future__ import annotations

import fnmatch
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = pytest.importorskip("tomli")

# comfy-cli's lists: anything else is dropped with a warning ("No OS information will be populated").
OS_PREFIXES = ("Microsoft", "POSIX", "MacOS", "OS Independent")
ACCELERATORS = {"GPU :: NVIDIA CUDA", "GPU :: AMD ROCm", "GPU :: Intel Arc", "NPU :: Huawei Ascend", "GPU :: Apple Metal"}
VERSION_PART = re.compile(r"^(?:(==|>=|<=|!=|~=|>|<|<>|=)\s*)?(\d+\.\d+\.\d+(?:-[a-zA-Z0-9]+)?)?$")
ICON_TYPES = (".svg", ".png", ".jpg", ".jpeg", ".gif")
ICON_MAX = (800, 400)  # width, height


def pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def git_files(*args: str) -> list[str]:
    try:
        out = subprocess.run(["git", *args, "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout: the registry archives git-tracked files")
    return [name for name in out.decode().split("\0") if name]


def repo_file_of(icon_url: str, repository: str) -> str:
    """The repository path an Icon URL serves, for a raw.githubusercontent.com URL of ``repository``."""
    owner_repo = urlparse(repository).path.strip("/")
    url = urlparse(icon_url)
    assert url.scheme == "https" and url.netloc == "raw.githubusercontent.com", icon_url
    prefix = f"/{owner_repo}/"
    assert url.path.startswith(prefix), f"Icon {icon_url} is not a file of {repository}"
    branch, _, path = url.path[len(prefix):].partition("/")
    assert branch and path, icon_url
    return path


def test_project_metadata_follows_the_registry_rules():
    project = pyproject()["project"]
    name = project["name"]
    assert len(name) < 100 and re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*", name), name
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"]), "the registry wants a X.Y.Z version"
    assert project["license"] == {"text": "Apache-2.0"}
    licence = (ROOT / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    repository = project["urls"]["Repository"]
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", repository), repository
    classifiers = project["classifiers"]
    systems = [c.split(" :: ", 1)[1] for c in classifiers if c.startswith("Operating System :: ")]
    accelerators = [c.split(" :: ", 1)[1] for c in classifiers if c.startswith("Environment ::")]
    assert systems and all(s.startswith(OS_PREFIXES) for s in systems), systems
    assert accelerators and set(accelerators) <= ACCELERATORS, accelerators


def test_tool_comfy_metadata_follows_the_registry_rules():
    data = pyproject()
    comfy = data["tool"]["comfy"]
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", comfy["PublisherId"]), comfy["PublisherId"]
    assert comfy["DisplayName"].strip()
    requires = comfy["requires-comfyui"]
    assert requires and all(VERSION_PART.match(part.strip()) for part in requires.split(",")), requires
    assert isinstance(comfy["includes"], list) and all((ROOT / p.lstrip("/")).exists() for p in comfy["includes"])

    icon = comfy["Icon"]
    path = repo_file_of(icon, data["project"]["urls"]["Repository"])
    assert path.lower().endswith(ICON_TYPES), icon
    assert path in git_files("ls-files"), f"the Icon URL serves {path}, which is not a tracked file"
    if not path.endswith(".svg"):
        with Image.open(ROOT / path) as im:
            im.load()
            assert im.width <= ICON_MAX[0] and im.height <= ICON_MAX[1], im.size


def runtime_files() -> list[str]:
    """Files the pack loads in ComfyUI: the packages' modules and data, the web extension, LICENSE."""
    setuptools = pyproject()["tool"]["setuptools"]
    package_data = setuptools.get("package-data", {})
    needed = ["LICENSE", "pyproject.toml", "README.md"]
    for package in setuptools["packages"]:
        folder = ROOT.joinpath(*package.split(".")[1:])
        patterns = ["*.py"] + package_data.get(package, [])
        for path in folder.rglob("*"):
            rel = path.relative_to(folder).as_posix()
            if path.is_file() and "__pycache__" not in rel and any(fnmatch.fnmatch(rel, p) for p in patterns):
                if fnmatch.fnmatch(rel, "*.py") and "/" in rel:
                    continue  # a subfolder's modules belong to its own package entry
                needed.append(path.relative_to(ROOT).as_posix())
    import gensr

    web = ROOT / gensr.WEB_DIRECTORY
    needed += [p.relative_to(ROOT).as_posix() for p in web.rglob("*") if p.is_file()]
    return sorted(set(needed))


def test_registry_archive_holds_everything_the_pack_loads():
    includes = [p.lstrip("/") for p in pyproject()["tool"]["comfy"]["includes"]]
    archived = set(git_files("ls-files"))
    missing = [f for f in runtime_files()
               if f not in archived and not any(f == i or f.startswith(i.rstrip("/") + "/") for i in includes)]
    assert not missing, f"the registry archives git-tracked files and [tool.comfy] includes only; add these: {missing}"


def test_comfy_node_validate_passes(tmp_path):
    if importlib.util.find_spec("comfy_cli") is None:
        pytest.skip("comfy-cli is not installed (pip install comfy-cli; .ci/run installs it): "
                    "the registry checks above still ran")
    env = {**os.environ, "HOME": str(tmp_path), "DO_NOT_TRACK": "1", "COMFY_NO_TELEMETRY": "1",
           "COMFY_NO_UPDATE_CHECK": "1", "RUFF_NO_CACHE": "true"}
    proc = subprocess.run([sys.executable, "-m", "comfy_cli", "--skip-prompt", "node", "validate"], cwd=ROOT, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Warning" not in out and "Error" not in out and "All validation checks passed" in out, out
