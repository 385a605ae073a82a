"""Shared helpers for the node tests: run a node class the way ComfyUI's
executor does (V1: validate the inputs against ``INPUT_TYPES`` and
``VALIDATE_INPUTS``, instantiate, call ``FUNCTION``), and tiny model files."""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

import gensr


class ValidationFailed(Exception):
    pass


def validate(cls: type, inputs: dict[str, Any]) -> None:
    """ComfyUI's prompt validation for widget values: required inputs present,
    combo values in the list, numbers within min/max, then ``VALIDATE_INPUTS``
    with the inputs its signature names."""
    spec = cls.INPUT_TYPES()
    validate_fn = getattr(cls, "VALIDATE_INPUTS", None)
    declared = inspect.getfullargspec(validate_fn).args if validate_fn else []
    for name, (kind, options) in spec["required"].items():
        if name not in inputs:
            raise ValidationFailed(f"required input missing: {name}")
        value = inputs[name]
        if name in declared:
            continue
        if isinstance(kind, list) and value not in kind:
            raise ValidationFailed(f"{name}: {value!r} not in list")
        if kind in ("INT", "FLOAT"):
            if "min" in options and value < options["min"]:
                raise ValidationFailed(f"{name}: {value} smaller than min {options['min']}")
            if "max" in options and value > options["max"]:
                raise ValidationFailed(f"{name}: {value} bigger than max {options['max']}")
    if validate_fn is not None:
        result = validate_fn(**{k: v for k, v in inputs.items() if k in declared})
        if result is not True:
            raise ValidationFailed(str(result))


def run_node(node_id: str, **inputs: Any) -> tuple[tuple, dict]:
    """Validate and execute a node as ComfyUI does (under ``torch.inference_mode()``,
    like ComfyUI's executor); returns (outputs, ui)."""
    import torch

    cls = gensr.NODE_CLASS_MAPPINGS[node_id]
    validate(cls, inputs)
    with torch.inference_mode():
        out = getattr(cls(), cls.FUNCTION)(**inputs)
    if isinstance(out, dict):
        return tuple(out["result"]), out.get("ui") or {}
    return tuple(out), {}


def tiny_model_file(folder: Path, name: str = "tiny-x2.safetensors", *, arch: str = "compact", scale: int = 2,
                    channels: int = 3, seed: int = 0) -> Path:
    """Save a tiny generator with random weights; returns its path."""
    import torch

    from gensr.sr_core.archs import build_generator

    torch.manual_seed(seed)
    if arch == "compact":
        config = dict(in_channels=channels, out_channels=channels, num_feat=4, num_conv=1, scale=scale)
    else:
        config = dict(in_channels=channels, out_channels=channels, num_feat=4, num_block=1, num_grow_ch=4, scale=scale)
    model = build_generator(arch, config)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0.3)
    return gensr.save_model(model, folder / name)


@pytest.fixture
def fake_comfy(tmp_path):
    """ComfyUI's modules faked (newer ComfyUI: with model_patcher / load_models_gpu)."""
    yield from _fake(tmp_path, with_patcher=True)


@pytest.fixture
def fake_comfy_03(tmp_path):
    """ComfyUI 0.3.x's modules faked (no patcher: free_memory + .to())."""
    yield from _fake(tmp_path, with_patcher=False)


def _fake(tmp_path: Path, with_patcher: bool):
    from nodes_fake_comfy import FakeComfy, install, uninstall

    models, temp = tmp_path / "upscale_models", tmp_path / "temp"
    models.mkdir()
    temp.mkdir()
    fake = FakeComfy(models, temp)
    saved = install(fake, with_patcher=with_patcher)
    try:
        yield fake
    finally:
        uninstall(saved)
