"""The node classes under ComfyUI's V3 API (a stand-in of ``comfy_api``):
which API version they are built on, what ComfyUI reads from them, and running
them the way ComfyUI's executor does. Without ``comfy_api`` (the rest of the
node tests) the same classes are V1 nodes."""
from __future__ import annotations

import asyncio
import importlib
import logging
import math
import sys
from contextlib import contextmanager

import pytest
import torch

import gensr
import nodes_fake_comfy_api as fake_api
from nodes_helpers import ValidationFailed, combo_options, fake_comfy, run_class, tiny_model_file  # noqa: F401

IDS = ("GenSRModelLoader", "GenSRHubModelLoader", "GenSRUpscale", "GenSRCompare")


@contextmanager
def nodes_with(**api):
    """``gensr.nodes`` imported afresh with the stand-in ``comfy_api`` installed
    (``install(**api)``); the modules imported before are put back afterwards."""
    ours = lambda name: name == "gensr.nodes" or name.startswith("gensr.nodes.")  # noqa: E731
    before = {n: m for n, m in sys.modules.items() if ours(n)}
    attribute = gensr.nodes
    for name in before:
        del sys.modules[name]
    saved = fake_api.install(**api)
    try:
        yield importlib.import_module("gensr.nodes")
    finally:
        for name in [n for n in sys.modules if ours(n)]:
            del sys.modules[name]
        sys.modules.update(before)
        gensr.nodes = attribute
        fake_api.uninstall(saved)


@pytest.mark.parametrize(
    "versions, expected",
    [
        (("latest", "v0_0_2", "v0_0_3"), "v0_0_3"),  # ComfyUI 2026: the newest pinned version
        (("latest", "v0_0_1", "v0_0_2"), "v0_0_2"),  # ComfyUI 0.3.5x-0.3.6x
        (("latest",), "latest"),  # the first V3 releases: only the unstable API
        ((), "v1"),  # a comfy_api without the V3 API
    ],
)
def test_built_on_a_pinned_api_version_when_there_is_one(versions, expected):
    with nodes_with(versions=versions) as nodes:
        assert nodes.API_VERSION == expected
        v3 = expected != "v1"
        for node_id in IDS:
            assert issubclass(nodes.NODE_CLASS_MAPPINGS[node_id], fake_api.ComfyNode) is v3, node_id


def test_a_broken_pinned_version_falls_back_to_the_next(caplog):
    with caplog.at_level(logging.WARNING), nodes_with(versions=("latest", "v0_0_2"), broken=("v0_0_3",)) as nodes:
        assert nodes.API_VERSION == "v0_0_2"
    assert "comfy_api.v0_0_3 does not import" in caplog.text


def test_an_api_lacking_what_the_nodes_use_gives_working_v1_nodes(caplog):
    with caplog.at_level(logging.WARNING), nodes_with(with_upscale_model=False) as nodes:
        assert nodes.API_VERSION == "v1"
        up = nodes.NODE_CLASS_MAPPINGS["GenSRUpscale"]
        assert not issubclass(up, fake_api.ComfyNode)
        assert up.INPUT_TYPES()["required"]["upscale_model"][0] == "UPSCALE_MODEL"
    assert "lacks UpscaleModel" in caplog.text


def _normalised_inputs(info_inputs: dict) -> dict:
    """V1 inputs with combos in one form, ``(choices, options without "options"/"multiselect")``."""
    out = {}
    for name, (kind, options) in info_inputs["required"].items():
        choices = combo_options(kind, options)
        rest = {k: v for k, v in options.items() if k not in ("options", "multiselect")}
        out[name] = (choices if choices is not None else kind, rest)
    return out


@pytest.mark.parametrize("search_aliases", [True, False], ids=["schema-with-search-aliases", "older-schema"])
def test_comfyui_reads_from_v3_what_v1_comfyui_reads(search_aliases):
    """ComfyUI derives /object_info from the V3 schema; it must match the V1
    classes (derived by GenSR's own shim) in every input, default, bound,
    tooltip, output and flag that saved workflows and the UI rely on."""
    v1 = gensr.NODE_CLASS_MAPPINGS
    assert gensr.nodes.API_VERSION == "v1"
    with nodes_with(search_aliases=search_aliases) as nodes:
        assert nodes.NODE_DISPLAY_NAME_MAPPINGS == gensr.NODE_DISPLAY_NAME_MAPPINGS
        for node_id in IDS:
            cls = nodes.NODE_CLASS_MAPPINGS[node_id]
            info = cls.GET_NODE_INFO_V1()  # as the server builds it (validates the schema too)
            old = v1[node_id]
            assert info["name"] == node_id
            assert list(info["input"]) == ["required"]
            assert info["input_order"]["required"] == list(old.INPUT_TYPES()["required"])
            assert _normalised_inputs(info["input"]) == _normalised_inputs(old.INPUT_TYPES()), node_id
            assert tuple(info["output"]) == tuple(old.RETURN_TYPES)
            assert tuple(info["output_name"]) == tuple(old.RETURN_NAMES)
            assert tuple(info["output_tooltips"]) == tuple(old.OUTPUT_TOOLTIPS)
            assert (info["category"], info["description"], info["output_node"]) == (old.CATEGORY, old.DESCRIPTION, old.OUTPUT_NODE)
            schema = cls.GET_SCHEMA()
            if search_aliases:
                assert schema.search_aliases == list(old.SEARCH_ALIASES) and schema.search_aliases
            else:
                assert not hasattr(schema, "search_aliases")


def test_v3_nodes_run_as_comfyui_runs_them(fake_comfy):
    path = tiny_model_file(fake_comfy.models_dir, "tiny-x2.safetensors", scale=2)
    image = torch.rand(1, 12, 10, 3, generator=torch.Generator().manual_seed(0))
    with nodes_with() as nodes:
        m = nodes.NODE_CLASS_MAPPINGS
        (model,), ui = run_class(m["GenSRModelLoader"], model_name=path.name)
        assert ui == {} and model.scale == 2 and model.patcher.model is model.model
        widgets = dict(outscale=0.0, target_long_side=0, tile=8, overlap=-1, precision="fp32")
        (out,), _ = run_class(m["GenSRUpscale"], upscale_model=model, image=image, **widgets)
        reference = gensr.load_model(path)
        with torch.no_grad():
            expected = reference(image.movedim(-1, 1)).clamp(0, 1).movedim(1, -1)
        torch.testing.assert_close(out, expected, atol=2e-5, rtol=0)
        (psnr, ssim, heat, side, passthrough), ui = run_class(m["GenSRCompare"], image_a=out, image_b=out.clone())
        assert math.isinf(psnr) and ssim == pytest.approx(1.0) and heat.abs().max() == 0
        assert side.shape == (1, 24, 40, 3) and passthrough is out
        assert ui["text"][0].startswith("PSNR inf") and len(ui["a_images"]) == len(ui["b_images"]) == 1
        with pytest.raises(ValidationFailed, match="not in list"):
            run_class(m["GenSRUpscale"], upscale_model=model, image=image, **{**widgets, "precision": "fp64"})


def test_hub_loader_validation_runs_under_v3():
    with nodes_with() as nodes:
        hub = nodes.NODE_CLASS_MAPPINGS["GenSRHubModelLoader"]
        with pytest.raises(ValidationFailed, match="owner/name"):
            run_class(hub, repo_id="not a repo", filename="m.safetensors", revision="main")
        assert hub.validate_inputs(repo_id="alice/sr", filename="m.safetensors", revision="main") is True


def test_v3_entrypoint_lists_the_four_nodes():
    with nodes_with() as nodes:
        extension = asyncio.run(nodes.comfy_entrypoint())
        assert isinstance(extension, fake_api.ComfyExtension)
        asyncio.run(extension.on_load())
        listed = asyncio.run(extension.get_node_list())
        assert {cls.GET_SCHEMA().node_id: cls for cls in listed} == nodes.NODE_CLASS_MAPPINGS
