"""The pack's nodes. Ids, input names and output order are part of saved
workflows: never change them."""
from __future__ import annotations

from typing import Optional, Union

from .spec import COMBO, FLOAT, IMAGE, INT, STRING, UPSCALE_MODEL, NodeDef, Param, Result

CATEGORY = "image/upscaling/GenSR"
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


def _model_choices() -> list[str]:
    from .loading import model_choices

    return model_choices()


def validate_hub_inputs(cls, repo_id: Optional[str] = None, filename: Optional[str] = None, revision: Optional[str] = None) -> Union[bool, str]:
    """ComfyUI validation of the Hub loader's text fields (before anything runs)."""
    from .loading import check_hub_inputs

    if repo_id is None or filename is None or revision is None:  # fed by a link: checked when it runs
        return True
    return check_hub_inputs(repo_id, filename, revision) or True


_MODEL_OUT = Result("upscale_model", UPSCALE_MODEL, "The loaded model; works with GenSR Upscale Image and ComfyUI's Upscale Image (using Model).")

MODEL_LOADER = NodeDef(
    node_id="GenSRModelLoader",
    display_name="GenSR Load Model",
    description=(
        "Loads an ESRGAN / Real-ESRGAN (RRDBNet) or Real-ESRGAN Compact upscaler from ComfyUI's upscale_models "
        "folder (extra_model_paths.yaml applies), or GenSR's bundled x4 model. Reads .safetensors and weights-only "
        ".pth files safely; never runs code from a file."
    ),
    category=CATEGORY,
    inputs=(
        Param("model_name", COMBO, "Weight file in models/upscale_models (refresh after adding files), or the model bundled with GenSR.", options=_model_choices),
    ),
    outputs=(_MODEL_OUT,),
    run=".runners:run_model_loader",
    search_aliases=("esrgan", "real-esrgan", "upscale model", "super resolution"),
)

HUB_LOADER = NodeDef(
    node_id="GenSRHubModelLoader",
    display_name="GenSR Load Model (Hugging Face)",
    description=(
        "Downloads an upscaler from the Hugging Face Hub once (into the Hugging Face cache) and loads it; "
        "later runs use the cached file, also offline."
    ),
    category=CATEGORY,
    inputs=(
        Param("repo_id", STRING, "Hub repository, 'owner/name'.", default=""),
        Param("filename", STRING, "Weight file inside the repository, e.g. 'RealESRGAN_x4plus.safetensors'. Empty = the repository's only .safetensors file.", default=""),
        Param("revision", STRING, "Branch, tag or commit hash; a commit hash pins the exact file.", default="main"),
    ),
    outputs=(_MODEL_OUT,),
    run=".runners:run_hub_loader",
    validate=validate_hub_inputs,
    search_aliases=("huggingface", "hub", "download upscaler"),
)

UPSCALE = NodeDef(
    node_id="GenSRUpscale",
    display_name="GenSR Upscale Image",
    description=(
        "Upscales images with any upscale model (GenSR's loaders or ComfyUI's Load Upscale Model) using seam-free "
        "tiling. Batches are processed frame by frame; Cancel stops it within one tile."
    ),
    category=CATEGORY,
    inputs=(
        Param("upscale_model", UPSCALE_MODEL, "Model from GenSR Load Model or ComfyUI's Load Upscale Model."),
        Param("image", IMAGE, "Images to upscale (a batch is processed frame by frame; RGBA keeps its alpha)."),
        Param("outscale", FLOAT, "Final scale factor; the model's output is resized to it. 0 = the model's own scale.", default=0.0, min=0.0, max=16.0, step=0.05),
        Param("target_long_side", INT, "Resize the result so its longer side has this many pixels (overrides outscale). 0 = off.", default=0, min=0, max=16384),
        Param("tile", INT, "Tile size in input pixels. 0 = auto (as large as the free memory allows).", default=0, min=0, max=8192),
        Param("overlap", INT, "Overlap between tiles in input pixels. -1 = auto (enough for this model to leave no seams).", default=-1, min=-1, max=512),
        Param("precision", COMBO, "Compute precision. auto = fp16/bf16 on GPUs that handle them well, fp32 otherwise.", default="auto", options=PRECISIONS),
    ),
    outputs=(Result("image", IMAGE, "The upscaled images (same channels as the input)."),),
    run=".upscaling:run_upscale",
    search_aliases=("upscale", "super resolution", "esrgan", "enlarge image"),
)

COMPARE = NodeDef(
    node_id="GenSRCompare",
    display_name="GenSR Compare Images",
    description=(
        "PSNR and SSIM between two images (or batches), a difference heat-map and a side-by-side view; "
        "shows the pair for compare-slider widgets and the numbers on the node. image_b is resized to image_a's size "
        "when they differ (noted in the text)."
    ),
    category=CATEGORY,
    inputs=(
        Param("image_a", IMAGE, "Reference images (e.g. the ground truth or one upscaler's result)."),
        Param("image_b", IMAGE, "Images compared with image_a; resized to image_a's size when it differs."),
    ),
    outputs=(
        Result("psnr", FLOAT, "Peak signal-to-noise ratio in dB on RGB (higher = closer; inf when identical)."),
        Result("ssim", FLOAT, "Structural similarity on RGB, mean over the batch (1 = identical; NaN below 11x11 pixels)."),
        Result("heatmap", IMAGE, "Per-pixel absolute difference: black = none, white = 0.25 or more."),
        Result("side_by_side", IMAGE, "image_a and image_b next to each other."),
        Result("image_a", IMAGE, "image_a, passed through unchanged."),
    ),
    run=".runners:run_compare",
    output_node=True,
    search_aliases=("psnr", "ssim", "difference", "image compare"),
)

NODES: tuple[NodeDef, ...] = (MODEL_LOADER, HUB_LOADER, UPSCALE, COMPARE)
