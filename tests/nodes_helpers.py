"""Shared helpers for the node tests: run a node class the way ComfyUI's
executor does (validate the inputs against ``INPUT_TYPES`` and
``VALIDATE_INPUTS`` / ``validate_inputs``, then call ``FUNCTION``), and tiny
model files."""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

import gensr


class ValidationFailed(Exception):
    pass


def _validate_function(cls: type):
    """V1's ``VALIDATE_INPUTS``, or a V3 class's own ``validate_inputs`` (as
    ComfyUI's executor picks them)."""
    if hasattr(cls, "GET_SCHEMA"):  # a V3 class
        own = any("validate_inputs" in vars(c) for c in cls.__mro__ if c.__name__ != "ComfyNode" and c is not object)
        return cls.validate_inputs if own else None
    return getattr(cls, "VALIDATE_INPUTS", None)


def combo_options(kind: Any, options: dict) -> Any:
    """The choices of a combo input in either V1 form (``[...]`` or ``"COMBO"`` + ``options``), else ``None``."""
    if isinstance(kind, list):
        return kind
    return options.get("options") if kind == "COMBO" else None


def validate(cls: type, inputs: dict[str, Any]) -> None:
    """ComfyUI's prompt validation for widget values: required inputs present,
    combo values in the list, numbers within min/max, then ``VALIDATE_INPUTS``
    (V3: ``validate_inputs``) with the inputs its signature names."""
    spec = cls.INPUT_TYPES()
    validate_fn = _validate_function(cls)
    declared = inspect.getfullargspec(validate_fn).args if validate_fn else []
    for name, (kind, options) in spec["required"].items():
        if name not in inputs:
            raise ValidationFailed(f"required input missing: {name}")
        value = inputs[name]
        if name in declared:
            continue
        choices = combo_options(kind, options)
        if choices is not None and value not in choices:
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


def run_class(cls: type, **inputs: Any) -> tuple[tuple, dict]:
    """Validate and execute a node class as ComfyUI does (under
    ``torch.inference_mode()``, like ComfyUI's executor); returns (outputs, ui).
    V1 classes are instantiated and their ``FUNCTION`` called; V3 classes run
    ``FUNCTION`` on a per-run class clone and return a ``NodeOutput``."""
    import torch

    validate(cls, inputs)
    with torch.inference_mode():
        if hasattr(cls, "PREPARE_CLASS_CLONE"):
            out = getattr(cls.PREPARE_CLASS_CLONE({}), cls.FUNCTION)(**inputs)
        else:
            out = getattr(cls(), cls.FUNCTION)(**inputs)
    if hasattr(out, "args"):  # V3 NodeOutput
        return tuple(out.args), out.ui or {}
    if isinstance(out, dict):
        return tuple(out["result"]), out.get("ui") or {}
    return tuple(out), {}


def run_node(node_id: str, **inputs: Any) -> tuple[tuple, dict]:
    """:func:`run_class` on the registered class ``node_id``."""
    return run_class(gensr.NODE_CLASS_MAPPINGS[node_id], **inputs)


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
