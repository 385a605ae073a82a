"""The example workflows: up to date with their generator, and loadable as
saved: every GenSR node in the committed files is checked against the node
classes (input names, socket and output types, widget values in the order the
front end assigns them), and every link against the types the nodes at both
ends declare (ComfyUI's core nodes from the table below, taken from ComfyUI)."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

import gensr
from nodes_helpers import combo_options, validate

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "example_workflows"
SOCKET_TYPES = ("IMAGE", "UPSCALE_MODEL")

#: Sockets (name -> type) and outputs (types) of the ComfyUI core nodes the examples use, as ComfyUI's nodes.py and
#: comfy_extras/nodes_upscale_model.py declare them.
CORE_NODES: dict[str, tuple[dict[str, str], list[str]]] = {
    "LoadImage": ({}, ["IMAGE", "MASK"]),
    "SaveImage": ({"images": "IMAGE"}, []),
    "PreviewImage": ({"images": "IMAGE"}, []),
    "UpscaleModelLoader": ({}, ["UPSCALE_MODEL"]),
    "ImageUpscaleWithModel": ({"upscale_model": "UPSCALE_MODEL", "image": "IMAGE"}, ["IMAGE"]),
    "CheckpointLoaderSimple": ({}, ["MODEL", "CLIP", "VAE"]),
    "CLIPTextEncode": ({"clip": "CLIP"}, ["CONDITIONING"]),
    "EmptyLatentImage": ({}, ["LATENT"]),
    "KSampler": ({"model": "MODEL", "positive": "CONDITIONING", "negative": "CONDITIONING", "latent_image": "LATENT"}, ["LATENT"]),
    "VAEDecode": ({"samples": "LATENT", "vae": "VAE"}, ["IMAGE"]),
}


def _build_module():
    spec = importlib.util.spec_from_file_location("gensr_example_build", EXAMPLES / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


build = _build_module()
NAMES = sorted(build.WORKFLOWS)


def _sockets_and_outputs(node_type: str) -> tuple[dict[str, str], list[str]]:
    """Socket inputs (name -> type) and output types of a node type, from our classes or the core table."""
    cls = gensr.NODE_CLASS_MAPPINGS.get(node_type)
    if cls is None:
        return CORE_NODES[node_type]
    required = cls.INPUT_TYPES()["required"]
    return {n: kind for n, (kind, _) in required.items() if kind in SOCKET_TYPES}, list(cls.RETURN_TYPES)


def _widgets(cls: type) -> list[str]:
    """Widget inputs in the order the front end fills them from ``widgets_values``."""
    return [n for n, (kind, _) in cls.INPUT_TYPES()["required"].items() if kind not in SOCKET_TYPES]


def _check_widget_values(cls: type, values: dict) -> None:
    if "model_name" in values:  # the loader's combo lists the files of the user's ComfyUI
        assert values["model_name"] in ("gensr-x4 (bundled)", "RealESRGAN_x4plus.pth")
        return
    sockets = {n: object() for n in _sockets_and_outputs(cls.__name__)[0]}
    validate(cls, {**values, **sockets})


def test_files_are_generated_from_build_py():
    assert build.main(["--check"]) == 0, "run: python example_workflows/build.py"


def test_generator_knows_our_nodes_as_they_are():
    for node_id, cls in gensr.NODE_CLASS_MAPPINGS.items():
        sockets, outputs = build.SOCKETS[node_id]
        assert dict(sockets) == _sockets_and_outputs(node_id)[0]
        assert [(n, t) for n, t in outputs] == list(zip(cls.RETURN_NAMES, cls.RETURN_TYPES))


@pytest.mark.parametrize("name", NAMES)
def test_api_workflow_is_valid_for_our_nodes(name):
    wf = json.loads((EXAMPLES / "api" / f"{name}.json").read_text())
    for node_id, node in wf.items():
        sockets, _ = _sockets_and_outputs(node["class_type"])
        for input_name, value in node["inputs"].items():
            if isinstance(value, list):  # a link: [node id, output slot]
                source_outputs = _sockets_and_outputs(wf[value[0]]["class_type"])[1]
                assert source_outputs[value[1]] == sockets[input_name], (name, node_id, input_name)
        cls = gensr.NODE_CLASS_MAPPINGS.get(node["class_type"])
        if cls is not None:
            assert set(node["inputs"]) == set(cls.INPUT_TYPES()["required"]), (name, node_id)
            _check_widget_values(cls, {k: v for k, v in node["inputs"].items() if not isinstance(v, list)})


@pytest.mark.parametrize("name", NAMES)
def test_ui_workflow_loads_into_our_nodes(name):
    wf = json.loads((EXAMPLES / f"{name}.json").read_text())
    nodes = {n["id"]: n for n in wf["nodes"]}
    for link_id, src, slot, dst, dst_slot, kind in wf["links"]:
        assert _sockets_and_outputs(nodes[src]["type"])[1][slot] == kind, (name, link_id)
        target_input = nodes[dst]["inputs"][dst_slot]
        assert _sockets_and_outputs(nodes[dst]["type"])[0][target_input["name"]] == kind, (name, link_id)
        assert target_input["link"] == link_id and link_id in nodes[src]["outputs"][slot]["links"]
    for n in wf["nodes"]:
        cls = gensr.NODE_CLASS_MAPPINGS.get(n["type"])
        if cls is None:
            continue
        sockets, outputs = _sockets_and_outputs(n["type"])
        assert [(i["name"], i["type"]) for i in n["inputs"]] == list(sockets.items()), (name, n["type"])
        assert [(o["name"], o["type"]) for o in n["outputs"]] == list(zip(cls.RETURN_NAMES, cls.RETURN_TYPES))
        widgets = _widgets(cls)
        assert len(n["widgets_values"]) == len(widgets), (name, n["type"])
        _check_widget_values(cls, dict(zip(widgets, n["widgets_values"])))


def test_upscale_widget_values_land_where_saved_workflows_expect():
    """ComfyUI assigns ``widgets_values`` by position: the order is part of every saved workflow."""
    cls = gensr.NODE_CLASS_MAPPINGS["GenSRUpscale"]
    assert _widgets(cls) == ["outscale", "target_long_side", "tile", "overlap", "precision"]
    required = cls.INPUT_TYPES()["required"]
    assert combo_options(*required["precision"]) == ["auto", "fp32", "fp16", "bf16"]
    assert [required[w][1]["default"] for w in _widgets(cls)] == [0.0, 0, 0, -1, "auto"]
    assert _widgets(gensr.NODE_CLASS_MAPPINGS["GenSRHubModelLoader"]) == ["repo_id", "filename", "revision"]
    assert _widgets(gensr.NODE_CLASS_MAPPINGS["GenSRCompare"]) == []
