"""What the two loader nodes do: find the weight file, load it with GenSR's
safe loader and wrap it as ComfyUI's ``UPSCALE_MODEL``."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Optional

from . import comfy_bridge

#: Combo entry for the model shipped with the pack (stable: saved workflows name it).
BUNDLED_MODEL = "gensr-x4 (bundled)"

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


#: Where the pack ships its default model (found without importing ``weights``,
#: which would import torch while ComfyUI merely lists inputs).
BUNDLED_MODEL_FILE = Path(__file__).resolve().parents[1] / "weights" / "default" / "gensr-x4.safetensors"


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
    """Entries of the local loader's combo: the bundled model (when present),
    then ComfyUI's ``upscale_models`` files. Cheap: lists names, loads nothing."""
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


def _load_normal_tensors(load: Callable[[], Any]) -> Any:
    """Run ``load`` outside inference mode: ComfyUI executes every node under
    ``torch.inference_mode()``, and weights created there become inference
    tensors that cannot be modified, trained or versioned afterwards."""
    import torch

    with torch.inference_mode(False):
        return load()


def load_local(model_name: str) -> Any:
    """The ``GenSRModelLoader`` node: a file from ``upscale_models`` (or the bundled model)."""
    from ..weights.loader import load_model
    from .descriptor import as_upscale_model

    path = resolve_model_file(model_name)
    return _load_normal_tensors(lambda: as_upscale_model(load_model(path)))


def check_hub_inputs(repo_id: str, filename: str, revision: str) -> Optional[str]:
    """Why the Hub loader's inputs are unusable, or ``None`` when they look right."""
    if not _REPO_ID.match(repo_id.strip()):
        return f"repo_id must look like 'owner/name' (got {repo_id!r})"
    name = filename.strip()
    if name and (name.endswith("/") or name.startswith("/") or ".." in Path(name).parts):
        return f"filename must be a file path inside the repository, e.g. 'model.safetensors' (got {filename!r})"
    if not revision.strip():
        return "revision must not be empty (use 'main' for the latest version)"
    return None


def load_hub(repo_id: str, filename: str, revision: str = "main") -> Any:
    """The ``GenSRHubModelLoader`` node: a model file from the Hugging Face Hub,
    downloaded once into the Hub cache and read from there afterwards (offline too).
    An empty ``filename`` means the repository's only ``.safetensors`` file."""
    from ..weights.loader import load_model
    from .descriptor import as_upscale_model

    problem = check_hub_inputs(repo_id, filename, revision)
    if problem:
        raise ValueError(problem)
    try:
        import huggingface_hub  # noqa: F401
    except ImportError:
        raise ImportError(
            "GenSR Load Model (Hugging Face) needs the huggingface-hub package: install it into ComfyUI's Python "
            "(pip install huggingface-hub), or download the file yourself and use GenSR Load Model"
        ) from None
    return _load_normal_tensors(
        lambda: as_upscale_model(load_model(repo_id=repo_id.strip(), filename=filename.strip() or None, revision=revision.strip()))
    )
