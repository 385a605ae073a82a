"""Reading training config files: TOML (always) or YAML (when PyYAML is installed).

A file holds TrainConfig fields at the top level, e.g.::

    preset = "compact-x4-psnr"      # optional: start from this preset
    data = ["datasets/DF2K"]
    val = "datasets/Set5"
    iterations = 200000
    [degradation_options]
    second_blur_prob = 0.5
"""
from __future__ import annotations

from pathlib import Path
from typing import Any


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping stored in a ``.toml``, ``.yaml`` or ``.yml`` file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python < 3.11
            try:
                import tomli as tomllib  # type: ignore[no-redef]
            except ModuleNotFoundError:
                raise RuntimeError(f"reading {path.name} needs Python 3.11+ (tomllib) or `pip install tomli`") from None
        with open(path, "rb") as f:
            try:
                values = tomllib.load(f)
            except tomllib.TOMLDecodeError as e:
                raise ValueError(f"{path}: invalid TOML: {e}") from None
    elif suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ModuleNotFoundError:
            raise RuntimeError(
                f"reading {path.name} needs PyYAML: `pip install pyyaml`, or write the config as TOML"
            ) from None
        with open(path, encoding="utf-8") as f:
            try:
                values = yaml.safe_load(f)
            except yaml.YAMLError as e:
                raise ValueError(f"{path}: invalid YAML: {e}") from None
        values = {} if values is None else values
    else:
        raise ValueError(f"config file {path.name}: use a .toml, .yaml or .yml file")
    if not isinstance(values, dict):
        raise ValueError(f"{path}: the config must be a mapping of option names to values")
    return values
