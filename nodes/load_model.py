"""GenSR Load Model: an upscaler from ComfyUI's ``upscale_models`` folders or
the model bundled with the pack, loaded with GenSR's safe loader."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from . import comfy_bridge
from .comfy_io import CATEGORY, io, schema

#: Combo entry for the model shipped with the pack (stable: saved workflows name it).
BUNDLED_MODEL = "gensr-x4 (bundled)"

#: Where the pack ships its default model (found without importing ``weights``,
#: which would import torch while ComfyUI merely lists inputs).
BUNDLED_MODEL_FILE = Path(__file__).resolve().parents[1] / "weights" / "default" / "gensr-x4.safetensors"

MODEL_OUTPUT_TOOLTIP = "The loaded model; works with GenSR Upscale Image and ComfyUI's Upscale Image (using Model)."


def bundled_model_path(*, listing: bool = False) -> Optional[Path]:
    """The bundled default model file, or ``None`` when this install lacks it.
    ``listing``: answer from the file system only (cheap)."""
    path = BUNDLED_MODEL_FILE
    if not listing:
        try:
            from ..weights.default_model import default_model_path
        except ImportError:
            pass
        else:
            path = Path(default_model_path())
    return path if path.is_file() else None


def model_choices() -> list[str]:
    """Entries of the combo: the bundled model (when present), then ComfyUI's
    ``upscale_models`` files. Cheap: lists names, loads nothing."""
    names = comfy_bridge.upscale_model_names()
    return ([BUNDLED_MODEL] if bundled_model_path(listing=True) is not None else []) + names


def resolve_model_file(model_name: str) -> Path:
    """Path of a combo entry, or a clear error saying where the file should be."""
    if model_name == BUNDLED_MODEL:
        path = bundled_model_path()
        if path is None:
            raise FileNotFoundError(
                "the bundled GenSR model is missing from this install (weights/default/gensr-x4.safetensors); "
                "reinstall ComfyUI-GenSR or pick a file from models/upscale_models"
            )
        return path
    if comfy_bridge.comfy_module("folder_paths") is None:  # outside ComfyUI (tests, scripts): a file path
        candidate = Path(model_name).expanduser()
        if not candidate.is_file():
            raise FileNotFoundError(f"upscale model file {model_name!r} not found")
        return candidate
    found = comfy_bridge.upscale_model_path(model_name)
    if found is None:
        raise FileNotFoundError(
            f"upscale model {model_name!r} not found in ComfyUI's upscale_models folders; "
            "put the file in ComfyUI/models/upscale_models (or a folder mapped in extra_model_paths.yaml) and refresh"
        )
    return Path(found)


class GenSRModelLoader(io.ComfyNode):
    """Loads an upscaler file as ComfyUI's ``UPSCALE_MODEL``."""

    @classmethod
    def define_schema(cls):
        return schema(
            node_id="GenSRModelLoader",
            display_name="GenSR Load Model",
            category=CATEGORY,
            description=(
                "Loads an ESRGAN / Real-ESRGAN (RRDBNet) or Real-ESRGAN Compact upscaler from ComfyUI's "
                "upscale_models folder (extra_model_paths.yaml applies), or GenSR's bundled x4 model. Reads "
                ".safetensors and weights-only .pth files safely; never runs code from a file."
            ),
            search_aliases=("esrgan", "real-esrgan", "upscale model", "super resolution"),
            inputs=[
                io.Combo.Input(
                    "model_name",
                    options=model_choices(),
                    tooltip="Weight file in models/upscale_models (refresh after adding files), or the model bundled with GenSR.",
                ),
            ],
            outputs=[io.UpscaleModel.Output("upscale_model", tooltip=MODEL_OUTPUT_TOOLTIP)],
        )

    @classmethod
    def execute(cls, model_name: str):
        from .descriptor import load_upscale_model

        return io.NodeOutput(load_upscale_model(resolve_model_file(model_name)))
