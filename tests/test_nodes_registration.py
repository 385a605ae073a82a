"""Registering the pack: the ids, names and inputs saved workflows rely on,
tooltips everywhere, and a cheap, offline import."""
from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

import gensr
from nodes_helpers import fake_comfy, tiny_model_file  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]
IDS = {
    "GenSRModelLoader": "GenSR Load Model",
    "GenSRHubModelLoader": "GenSR Load Model (Hugging Face)",
    "GenSRUpscale": "GenSR Upscale Image",
    "GenSRCompare": "GenSR Compare Images",
}


def test_node_ids_and_display_names_are_stable():
    assert set(gensr.NODE_CLASS_MAPPINGS) == set(IDS)
    assert gensr.NODE_DISPLAY_NAME_MAPPINGS == IDS
    for cls in gensr.NODE_CLASS_MAPPINGS.values():
        assert cls.CATEGORY == "image/upscaling/GenSR"


def test_inputs_and_outputs_saved_workflows_use():
    m = gensr.NODE_CLASS_MAPPINGS
    assert list(m["GenSRModelLoader"].INPUT_TYPES()["required"]) == ["model_name"]
    assert list(m["GenSRHubModelLoader"].INPUT_TYPES()["required"]) == ["repo_id", "filename", "revision"]
    up = m["GenSRUpscale"].INPUT_TYPES()["required"]
    assert list(up) == ["upscale_model", "image", "outscale", "target_long_side", "tile", "overlap", "precision"]
    assert up["upscale_model"][0] == "UPSCALE_MODEL" and up["image"][0] == "IMAGE"
    assert up["precision"][0] == ["auto", "fp32", "fp16", "bf16"]
    assert (up["outscale"][1]["default"], up["tile"][1]["default"], up["overlap"][1]["default"]) == (0.0, 0, -1)
    assert m["GenSRHubModelLoader"].INPUT_TYPES()["required"]["revision"][1]["default"] == "main"
    assert m["GenSRModelLoader"].RETURN_TYPES == ("UPSCALE_MODEL",)
    assert m["GenSRHubModelLoader"].RETURN_TYPES == ("UPSCALE_MODEL",)
    assert m["GenSRUpscale"].RETURN_TYPES == ("IMAGE",)
    cmp = m["GenSRCompare"]
    assert cmp.RETURN_TYPES == ("FLOAT", "FLOAT", "IMAGE", "IMAGE", "IMAGE")
    assert cmp.RETURN_NAMES == ("psnr", "ssim", "heatmap", "side_by_side", "image_a")
    assert cmp.OUTPUT_NODE is True  # runs (and shows its numbers) even with nothing connected


def test_every_input_and_output_has_a_tooltip_and_every_node_a_description():
    for node_id, cls in gensr.NODE_CLASS_MAPPINGS.items():
        assert len(cls.DESCRIPTION) > 40, node_id
        for name, (_, options) in cls.INPUT_TYPES()["required"].items():
            assert len(options.get("tooltip", "")) > 10, (node_id, name)
        assert len(cls.OUTPUT_TOOLTIPS) == len(cls.RETURN_TYPES)
        assert all(len(t) > 10 for t in cls.OUTPUT_TOOLTIPS), node_id


def test_importing_the_pack_is_cheap_and_offline():
    """No torch, no model code, no network client at import; listing inputs loads nothing."""
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('gensr', {str(ROOT / '__init__.py')!r}, "
        f"submodule_search_locations=[{str(ROOT)!r}])\n"
        "m = importlib.util.module_from_spec(spec); sys.modules['gensr'] = m; spec.loader.exec_module(m)\n"
        "assert len(m.NODE_CLASS_MAPPINGS) == 4\n"
        "for cls in m.NODE_CLASS_MAPPINGS.values(): cls.INPUT_TYPES()\n"
        "heavy = [n for n in ('torch', 'safetensors', 'huggingface_hub', 'spandrel', 'requests', 'gensr.weights', 'gensr.sr_core') if n in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout, out.stdout


def test_model_list_comes_from_comfyui_upscale_models_without_reading_files(fake_comfy):
    (fake_comfy.models_dir / "not-a-model.pth").write_bytes(b"garbage: listing must not open files")
    tiny_model_file(fake_comfy.models_dir, "tiny.safetensors")
    names = gensr.NODE_CLASS_MAPPINGS["GenSRModelLoader"].INPUT_TYPES()["required"]["model_name"][0]
    assert "tiny.safetensors" in names and "not-a-model.pth" in names


def test_v1_registration_outside_comfyui_and_a_clear_v3_entrypoint_error():
    assert gensr.nodes.API_VERSION == "v1"  # no comfy_api here
    with pytest.raises(RuntimeError, match="V3 node API"):
        asyncio.run(gensr.comfy_entrypoint())


def test_web_directory_holds_the_front_end_extension():
    web = ROOT / gensr.WEB_DIRECTORY
    scripts = list(web.rglob("*.js"))
    assert scripts and any("GenSRCompare" in p.read_text() for p in scripts)
