"""Generate a Hugging Face model card (``README.md``) for a GenSR weight file.

The card has Hub metadata (YAML front matter: licence, tags, pipeline tag,
library name) and a body with the architecture, scale, configuration,
parameter count, the training facts found in the file's metadata
(``gensr.recipe``, ``gensr.data``, ``gensr.iterations``, ``gensr.validation``,
other ``gensr.*`` keys) and how to use the model in ComfyUI and with gensr.
"""
from __future__ import annotations

import json
from typing import Any, Mapping, Optional

from torch import nn

ARCH_NAMES = {
    "rrdbnet": "RRDBNet (ESRGAN / Real-ESRGAN)",
    "compact": "SRVGGNetCompact (Real-ESRGAN Compact)",
}
TAGS = ("super-resolution", "image-upscaling", "comfyui", "gensr")
LICENCE_KEYS = ("gensr.licence", "gensr.license", "licence", "license")
TRAINING_KEYS = ("gensr.recipe", "gensr.data", "gensr.iterations", "gensr.validation")
SHOWN_ELSEWHERE = {"format", "gensr.arch", "gensr.config", "gensr.scale", *LICENCE_KEYS, *TRAINING_KEYS}


def _yaml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML scalar


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else _compact(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _compact(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) for v in value):
        return ", ".join(_compact(v) if not isinstance(v, str) else v for v in value)
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _table(rows: list[tuple[str, Any]]) -> list[str]:
    return ["| | |", "| --- | --- |", *[f"| {_cell(k)} | {_cell(v)} |" for k, v in rows]]


def _validation_table(validation: Any) -> list[str]:
    if isinstance(validation, Mapping) and validation and all(isinstance(v, Mapping) for v in validation.values()):
        metrics: list[str] = []
        for figures in validation.values():
            metrics += [m for m in figures if m not in metrics]
        lines = ["| Data | " + " | ".join(_cell(m) for m in metrics) + " |", "| --- |" + " --- |" * len(metrics)]
        for name, figures in validation.items():
            lines.append(f"| {_cell(name)} | " + " | ".join(_cell(figures.get(m, "")) for m in metrics) + " |")
        return lines
    if isinstance(validation, Mapping):
        return _table(list(validation.items()))
    return [f"`{_compact(validation)}`"]


def card_licence(metadata: Mapping[str, Any], licence: Optional[str] = None) -> str:
    """The Hub licence id: ``licence``, else the file's metadata, else 'other'."""
    for value in (licence, *(metadata.get(k) for k in LICENCE_KEYS)):
        if isinstance(value, str) and value.strip():
            return value.strip().lower()
    return "other"


def build_model_card(
    model: nn.Module,
    *,
    repo_id: str,
    filename: str,
    licence: Optional[str] = None,
    sha256: Optional[str] = None,
    size: Optional[int] = None,
    metadata: Optional[Mapping[str, Any]] = None,
) -> str:
    """README.md text for ``model`` (as returned by ``load_model``) published as ``repo_id``/``filename``."""
    meta = dict(metadata if metadata is not None else getattr(model, "metadata", {}) or {})
    arch = getattr(model, "arch", "unknown")
    scale = getattr(model, "scale", None)
    lic = card_licence(meta, licence)
    tags = [*TAGS, arch] + ([f"x{scale}"] if scale else [])
    front = [
        "---",
        f"license: {_yaml_str(lic)}",
        f"library_name: {_yaml_str('gensr')}",
        f"pipeline_tag: {_yaml_str('image-to-image')}",
        "tags:",
        *[f"- {_yaml_str(t)}" for t in tags],
        "---",
    ]
    title = repo_id.split("/")[-1]
    params = sum(p.numel() for p in model.parameters())
    file_desc = f"`{filename}`"
    if size is not None:
        file_desc += f" ({size / 1e6:.1f} MB)" if size >= 1e6 else f" ({size / 1e3:.1f} kB)"
    rows: list[tuple[str, Any]] = [
        ("Architecture", ARCH_NAMES.get(arch, arch)),
        ("Scale", f"{scale}x" if scale else "unknown"),
        ("Input / output channels", f"{getattr(model, 'in_channels', '?')} / {getattr(model, 'out_channels', '?')}"),
        ("Parameters", params),
        ("Configuration", f"`{json.dumps(getattr(model, 'config', {}), sort_keys=True)}`"),
        ("File", file_desc),
    ]
    if sha256:
        rows.append(("sha256", f"`{sha256}`"))
    rows.append(("Licence", lic if lic != "other" else "not stated by the publisher"))
    body = [
        f"# {title}",
        "",
        f"A {scale}x {ARCH_NAMES.get(arch, arch)} super-resolution model for ComfyUI and the `gensr` Python package.",
        "",
        *_table(rows),
    ]
    training: list[str] = []
    if "gensr.recipe" in meta:
        recipe = meta["gensr.recipe"]
        if isinstance(recipe, Mapping):
            training += ["Recipe:", "", *_table(list(recipe.items())), ""]
        else:
            training += [f"- Recipe: {_cell(recipe)}"]
    if "gensr.data" in meta:
        training.append(f"- Training data: {_cell(meta['gensr.data'])}")
    if "gensr.iterations" in meta:
        training.append(f"- Iterations: {_cell(meta['gensr.iterations'])}")
    if "gensr.validation" in meta:
        training += ["", "Validation:", "", *_validation_table(meta["gensr.validation"])]
    if training:
        body += ["", "## Training", "", *training]
    others = [(k, v) for k, v in sorted(meta.items()) if k not in SHOWN_ELSEWHERE]
    if others:
        body += ["", "## Other metadata", "", *_table(others)]
    hf = f"hf://{repo_id}/{filename}"
    body += [
        "",
        "## Usage",
        "",
        "### ComfyUI",
        "",
        "With the ComfyUI-GenSR node pack installed, add **GenSR Load Model (Hugging Face)** with "
        f"`repo_id` = `{repo_id}` and `filename` = `{filename}` (downloaded once, then it works offline), "
        "and connect it to **GenSR Upscale Image**. Or put the file in `ComfyUI/models/upscale_models/` and use "
        "**GenSR Load Model** or ComfyUI's own **Load Upscale Model** with **Upscale Image (using Model)**.",
        "",
        "### gensr",
        "",
        "```bash",
        "pip install comfyui-gensr",
        f"gensr upscale photo.png --model {hf} -o out/",
        "```",
        "",
        "```python",
        "import gensr",
        "",
        f'model = gensr.load_model("{hf}")',
        "```",
        "",
    ]
    return "\n".join(front + [""] + body)
