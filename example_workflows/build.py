"""Write the example workflows, each in ComfyUI's UI format (``<name>.json``,
shown in ComfyUI's template browser) and API format (``api/<name>.json``, for
``POST /prompt``), from one description per graph, so the two never drift.

    python example_workflows/build.py          # rewrite the files
    python example_workflows/build.py --check  # exit 1 if a file is out of date
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent

GENSR_MODEL = "gensr-x4 (bundled)"
CORE_MODEL = "RealESRGAN_x4plus.pth"
IMAGE = "example.png"

#: Sockets (name, type) and outputs (name, type) of the node types used; widgets
#: are given per node below, in the node's widget order.
SOCKETS: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {
    "LoadImage": ([], [("IMAGE", "IMAGE"), ("MASK", "MASK")]),
    "SaveImage": ([("images", "IMAGE")], []),
    "PreviewImage": ([("images", "IMAGE")], []),
    "UpscaleModelLoader": ([], [("UPSCALE_MODEL", "UPSCALE_MODEL")]),
    "ImageUpscaleWithModel": ([("upscale_model", "UPSCALE_MODEL"), ("image", "IMAGE")], [("IMAGE", "IMAGE")]),
    "CheckpointLoaderSimple": ([], [("MODEL", "MODEL"), ("CLIP", "CLIP"), ("VAE", "VAE")]),
    "CLIPTextEncode": ([("clip", "CLIP")], [("CONDITIONING", "CONDITIONING")]),
    "EmptyLatentImage": ([], [("LATENT", "LATENT")]),
    "KSampler": (
        [("model", "MODEL"), ("positive", "CONDITIONING"), ("negative", "CONDITIONING"), ("latent_image", "LATENT")],
        [("LATENT", "LATENT")],
    ),
    "VAEDecode": ([("samples", "LATENT"), ("vae", "VAE")], [("IMAGE", "IMAGE")]),
    "GenSRModelLoader": ([], [("upscale_model", "UPSCALE_MODEL")]),
    "GenSRHubModelLoader": ([], [("upscale_model", "UPSCALE_MODEL")]),
    "GenSRUpscale": ([("upscale_model", "UPSCALE_MODEL"), ("image", "IMAGE")], [("image", "IMAGE")]),
    "GenSRCompare": (
        [("image_a", "IMAGE"), ("image_b", "IMAGE")],
        [("psnr", "FLOAT"), ("ssim", "FLOAT"), ("heatmap", "IMAGE"), ("side_by_side", "IMAGE"), ("image_a", "IMAGE")],
    ),
}

UPSCALE_WIDGETS = {"outscale": 0.0, "target_long_side": 0, "tile": 0, "overlap": -1, "precision": "auto"}


@dataclass
class Node:
    id: int
    type: str
    pos: tuple[int, int]
    widgets: dict[str, Any] = field(default_factory=dict)
    links: dict[str, tuple[int, int]] = field(default_factory=dict)  # input -> (node id, output slot)
    title: Optional[str] = None
    size: tuple[int, int] = (320, 130)


def upscale_image() -> list[Node]:
    return [
        Node(1, "LoadImage", (40, 60), {"image": IMAGE}, size=(320, 330)),
        Node(2, "GenSRModelLoader", (40, 440), {"model_name": GENSR_MODEL}, size=(320, 60)),
        Node(3, "GenSRUpscale", (400, 200), dict(UPSCALE_WIDGETS), {"upscale_model": (2, 0), "image": (1, 0)}, size=(320, 200)),
        Node(4, "SaveImage", (760, 200), {"filename_prefix": "GenSR/upscaled"}, {"images": (3, 0)}, size=(360, 380)),
    ]


def txt2img_then_upscale() -> list[Node]:
    return [
        Node(1, "CheckpointLoaderSimple", (20, 200), {"ckpt_name": "v1-5-pruned-emaonly-fp16.safetensors"}, size=(320, 100)),
        Node(2, "CLIPTextEncode", (380, 60), {"text": "a lighthouse on a cliff at sunset, detailed, photograph"}, {"clip": (1, 1)}, "Positive", (400, 160)),
        Node(3, "CLIPTextEncode", (380, 260), {"text": "blurry, low quality, watermark"}, {"clip": (1, 1)}, "Negative", (400, 160)),
        Node(4, "EmptyLatentImage", (20, 380), {"width": 512, "height": 512, "batch_size": 1}, size=(320, 110)),
        Node(
            5,
            "KSampler",
            (820, 120),
            {"seed": 42, "steps": 20, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0},
            {"model": (1, 0), "positive": (2, 0), "negative": (3, 0), "latent_image": (4, 0)},
            size=(320, 270),
        ),
        Node(6, "VAEDecode", (1180, 120), {}, {"samples": (5, 0), "vae": (1, 2)}, size=(210, 50)),
        Node(7, "GenSRModelLoader", (1180, 260), {"model_name": GENSR_MODEL}, size=(320, 60)),
        Node(8, "GenSRUpscale", (1540, 120), dict(UPSCALE_WIDGETS, outscale=2.0), {"upscale_model": (7, 0), "image": (6, 0)}, size=(320, 200)),
        Node(9, "SaveImage", (1900, 120), {"filename_prefix": "GenSR/txt2img_x2"}, {"images": (8, 0)}, size=(400, 440)),
    ]


def compare_gensr_vs_core() -> list[Node]:
    return [
        Node(1, "LoadImage", (20, 160), {"image": IMAGE}, size=(320, 330)),
        Node(2, "GenSRModelLoader", (380, 40), {"model_name": GENSR_MODEL}, size=(320, 60)),
        Node(3, "GenSRUpscale", (740, 40), dict(UPSCALE_WIDGETS), {"upscale_model": (2, 0), "image": (1, 0)}, "GenSR upscale", (320, 200)),
        Node(4, "UpscaleModelLoader", (380, 580), {"model_name": CORE_MODEL}, size=(320, 60)),
        Node(5, "ImageUpscaleWithModel", (740, 580), {}, {"upscale_model": (4, 0), "image": (1, 0)}, "Core upscale", (240, 50)),
        Node(6, "GenSRCompare", (1100, 160), {}, {"image_a": (3, 0), "image_b": (5, 0)}, size=(420, 460)),
        Node(7, "PreviewImage", (1560, 60), {}, {"images": (6, 2)}, "Difference heat-map", (360, 300)),
        Node(8, "PreviewImage", (1560, 400), {}, {"images": (6, 3)}, "Side by side", (360, 300)),
    ]


def interop_core_and_gensr() -> list[Node]:
    return [
        Node(1, "LoadImage", (20, 160), {"image": IMAGE}, size=(320, 330)),
        Node(2, "GenSRModelLoader", (380, 40), {"model_name": CORE_MODEL}, title="GenSR Load Model (same file)", size=(320, 60)),
        Node(3, "ImageUpscaleWithModel", (740, 40), {}, {"upscale_model": (2, 0), "image": (1, 0)}, "Core upscale, GenSR model", (320, 50)),
        Node(4, "UpscaleModelLoader", (380, 580), {"model_name": CORE_MODEL}, size=(320, 60)),
        Node(5, "GenSRUpscale", (740, 580), dict(UPSCALE_WIDGETS), {"upscale_model": (4, 0), "image": (1, 0)}, "GenSR upscale, core model", (320, 200)),
        Node(6, "GenSRCompare", (1100, 160), {}, {"image_a": (3, 0), "image_b": (5, 0)}, size=(420, 460)),
        Node(7, "SaveImage", (1560, 160), {"filename_prefix": "GenSR/interop"}, {"images": (6, 3)}, size=(400, 400)),
    ]


WORKFLOWS = {
    "upscale_image": upscale_image,
    "txt2img_then_gensr_upscale": txt2img_then_upscale,
    "compare_gensr_vs_core_upscale": compare_gensr_vs_core,
    "interop_core_and_gensr_nodes": interop_core_and_gensr,
}


def api_format(nodes: list[Node]) -> dict:
    """``{"id": {"class_type", "inputs", "_meta"}}`` as ``POST /prompt`` takes it."""
    out = {}
    for n in nodes:
        inputs: dict[str, Any] = dict(n.widgets)
        for name, (src, slot) in n.links.items():
            inputs[name] = [str(src), slot]
        out[str(n.id)] = {"class_type": n.type, "inputs": inputs, "_meta": {"title": n.title or n.type}}
    return out


def _ui_widgets(n: Node) -> list[Any]:
    values = []
    for name, value in n.widgets.items():
        values.append(value)
        if n.type == "KSampler" and name == "seed":
            values.append("fixed")  # the control-after-generate widget
    if n.type == "LoadImage":
        values.append("image")  # the upload widget
    return values


def ui_format(nodes: list[Node]) -> dict:
    """The graph as ComfyUI's front end saves it (workflow format 0.4)."""
    links = []
    targets: dict[tuple[int, str], int] = {}
    for n in nodes:
        sockets = [name for name, _ in SOCKETS[n.type][0]]
        for name, (src, slot) in n.links.items():
            link_id = len(links) + 1
            kind = SOCKETS[next(m.type for m in nodes if m.id == src)][1][slot][1]
            links.append([link_id, src, slot, n.id, sockets.index(name), kind])
            targets[(n.id, name)] = link_id
    order = {n.id: i for i, n in enumerate(nodes)}
    ui_nodes = []
    for n in nodes:
        ins, outs = SOCKETS[n.type]
        node: dict[str, Any] = {
            "id": n.id,
            "type": n.type,
            "pos": list(n.pos),
            "size": list(n.size),
            "flags": {},
            "order": order[n.id],
            "mode": 0,
            "inputs": [{"name": name, "type": kind, "link": targets.get((n.id, name))} for name, kind in ins],
            "outputs": [
                {
                    "name": name,
                    "type": kind,
                    "links": [l[0] for l in links if l[1] == n.id and l[2] == slot],
                    "slot_index": slot,
                }
                for slot, (name, kind) in enumerate(outs)
            ],
            "properties": {"Node name for S&R": n.type},
            "widgets_values": _ui_widgets(n),
        }
        if n.title:
            node["title"] = n.title
        ui_nodes.append(node)
    return {
        "last_node_id": max(n.id for n in nodes),
        "last_link_id": len(links),
        "nodes": ui_nodes,
        "links": links,
        "groups": [],
        "config": {},
        "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}},
        "version": 0.4,
    }


def rendered() -> dict[Path, str]:
    files = {}
    for name, build in WORKFLOWS.items():
        nodes = build()
        files[HERE / f"{name}.json"] = json.dumps(ui_format(nodes), indent=2) + "\n"
        files[HERE / "api" / f"{name}.json"] = json.dumps(api_format(nodes), indent=2) + "\n"
    return files


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the files are up to date")
    args = parser.parse_args(argv)
    stale = []
    for path, text in rendered().items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(text)
            os.replace(tmp, path)  # atomic: readers never see half a file
    for path in stale:
        print(("out of date: " if args.check else "wrote ") + str(path.relative_to(HERE)))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
