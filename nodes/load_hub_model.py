"""GenSR Load Model (Hugging Face): an upscaler from the Hugging Face Hub,
downloaded once into the Hub cache and read from there afterwards (offline too)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Union

from .comfy_io import CATEGORY, io, schema
from .load_model import MODEL_OUTPUT_TOOLTIP

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_hub_inputs(repo_id: str, filename: str, revision: str) -> Optional[str]:
    """Why the inputs are unusable, or ``None`` when they look right."""
    if not _REPO_ID.match(repo_id.strip()):
        return f"repo_id must look like 'owner/name' (got {repo_id!r})"
    name = filename.strip()
    if name and (name.endswith("/") or name.startswith("/") or ".." in Path(name).parts):
        return f"filename must be a file path inside the repository, e.g. 'model.safetensors' (got {filename!r})"
    if not revision.strip():
        return "revision must not be empty (use 'main' for the latest version)"
    return None


class GenSRHubModelLoader(io.ComfyNode):
    """Loads an upscaler from the Hugging Face Hub as ComfyUI's ``UPSCALE_MODEL``."""

    @classmethod
    def define_schema(cls):
        return schema(
            node_id="GenSRHubModelLoader",
            display_name="GenSR Load Model (Hugging Face)",
            category=CATEGORY,
            description=(
                "Downloads an upscaler from the Hugging Face Hub once (into the Hugging Face cache) and loads it; "
                "later runs use the cached file, also offline."
            ),
            search_aliases=("huggingface", "hub", "download upscaler"),
            inputs=[
                io.String.Input("repo_id", default="", tooltip="Hub repository, 'owner/name'."),
                io.String.Input(
                    "filename",
                    default="",
                    tooltip="Weight file inside the repository, e.g. 'RealESRGAN_x4plus.safetensors'. "
                    "Empty = the repository's only .safetensors file.",
                ),
                io.String.Input("revision", default="main", tooltip="Branch, tag or commit hash; a commit hash pins the exact file."),
            ],
            outputs=[io.UpscaleModel.Output("upscale_model", tooltip=MODEL_OUTPUT_TOOLTIP)],
        )

    @classmethod
    def validate_inputs(cls, repo_id: Optional[str] = None, filename: Optional[str] = None,
                        revision: Optional[str] = None) -> Union[bool, str]:
        """Checked by ComfyUI before anything runs; inputs fed by a link are checked when the node runs."""
        if repo_id is None or filename is None or revision is None:
            return True
        return check_hub_inputs(repo_id, filename, revision) or True

    @classmethod
    def execute(cls, repo_id: str, filename: str, revision: str = "main"):
        from .descriptor import load_upscale_model

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
        model = load_upscale_model(repo_id=repo_id.strip(), filename=filename.strip() or None, revision=revision.strip())
        return io.NodeOutput(model)
