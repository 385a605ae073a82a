"""The example workflows: up to date with their generator, and consistent
with the nodes' real inputs and outputs (a renamed input would break them)."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

import gensr
from nodes_helpers import validate

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "example_workflows"


def _build_module():
    spec = importlib.util.spec_from_file_location("gensr_example_build", EXAMPLES / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


build = _build_module()
NAMES = sorted(build.WORKFLOWS)


def test_files_are_generated_from_build_py():
    assert build.main(["--check"]) == 0, "run: python example_workflows/build.py"


def test_generator_knows_our_nodes_as_they_are():
    for node_id, cls in gensr.NODE_CLASS_MAPPINGS.items():
        sockets, outputs = build.SOCKETS[node_id]
        spec = cls.INPUT_TYPES()["required"]
        assert [n for n, _ in sockets] == [n for n, (kind, _) in spec.items() if kind in ("IMAGE", "UPSCALE_MODEL")]
        assert [(n, t) for n, t in outputs] == list(zip(cls.RETURN_NAMES, cls.RETURN_TYPES))


@pytest.mark.parametrize("name", NAMES)
def test_api_workflow_is_valid_for_our_nodes(name):
    wf = json.loads((EXAMPLES / "api" / f"{name}.json").read_text())
    for node_id, node in wf.items():
        for value in node["inputs"].values():
            if isinstance(value, list):  # a link: [node id, output slot]
                src = wf[value[0]]
                assert value[1] < len(build.SOCKETS[src["class_type"]][1])
        cls = gensr.NODE_CLASS_MAPPINGS.get(node["class_type"])
        if cls is None:
            continue
        assert set(node["inputs"]) == set(cls.INPUT_TYPES()["required"]), (name, node_id)
        if node["class_type"] == "GenSRModelLoader":
            continue  # its combo lists the files of the user's ComfyUI
        # widget values as ComfyUI validates them; linked inputs are checked above
        validate(cls, {k: (object() if isinstance(v, list) else v) for k, v in node["inputs"].items()})


@pytest.mark.parametrize("name", NAMES)
def test_ui_workflow_links_match_sockets(name):
    wf = json.loads((EXAMPLES / f"{name}.json").read_text())
    nodes = {n["id"]: n for n in wf["nodes"]}
    for link_id, src, slot, dst, dst_slot, kind in wf["links"]:
        assert nodes[src]["outputs"][slot]["type"] == kind
        assert link_id in nodes[src]["outputs"][slot]["links"]
        assert nodes[dst]["inputs"][dst_slot] == {"name": nodes[dst]["inputs"][dst_slot]["name"], "type": kind, "link": link_id}
    for n in wf["nodes"]:
        cls = gensr.NODE_CLASS_MAPPINGS.get(n["type"])
        if cls is not None:
            widget_names = [k for k, (kind, _) in cls.INPUT_TYPES()["required"].items() if kind not in ("IMAGE", "UPSCALE_MODEL")]
            assert len(n["widgets_values"]) == len(widget_names), (name, n["type"])
