"""Queue the API-format example workflows on a running ComfyUI and report what
came back (status, errors, output images and their sizes, the compare text).

    python example_workflows/run_api.py --server http://127.0.0.1:8188 \\
        --image small.png --gensr-model my_x4.pth --core-model my_x4.pth
    python example_workflows/run_api.py --cancel   # also check that Cancel stops an upscale

Uses only the standard library. Exit status 1 when a workflow fails.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Optional

API_DIR = Path(__file__).resolve().parent / "api"
DEFAULT = ["upscale_image", "compare_gensr_vs_core_upscale", "interop_core_and_gensr_nodes"]


def _request(server: str, path: str, payload: Optional[dict] = None) -> Any:
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(server + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return json.loads(body)
        except ValueError:
            raise RuntimeError(f"{path}: HTTP {e.code}: {body[:300]!r}") from None
    return json.loads(body) if body else None


def _image_size(server: str, record: dict) -> tuple[int, int]:
    from io import BytesIO

    from PIL import Image

    query = urllib.parse.urlencode({k: record[k] for k in ("filename", "subfolder", "type")})
    with urllib.request.urlopen(f"{server}/view?{query}", timeout=30) as r:
        with Image.open(BytesIO(r.read())) as im:
            return im.size


def customise(workflow: dict, image: Optional[str], gensr_model: Optional[str], core_model: Optional[str]) -> dict:
    """Point the example's LoadImage / model loaders at files this server has."""
    for node in workflow.values():
        inputs, kind = node["inputs"], node["class_type"]
        if kind == "LoadImage" and image:
            inputs["image"] = image
        elif kind == "GenSRModelLoader" and gensr_model and inputs["model_name"] == "gensr-x4 (bundled)":
            inputs["model_name"] = gensr_model
        elif kind in ("UpscaleModelLoader", "GenSRModelLoader") and core_model and inputs["model_name"] == "RealESRGAN_x4plus.pth":
            inputs["model_name"] = core_model
    return workflow


def queue(server: str, workflow: dict) -> str:
    answer = _request(server, "/prompt", {"prompt": workflow, "client_id": str(uuid.uuid4())})
    if "prompt_id" not in answer:
        raise RuntimeError(f"rejected: {json.dumps(answer)[:2000]}")
    return answer["prompt_id"]


def wait(server: str, prompt_id: str, timeout: float) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        history = _request(server, f"/history/{prompt_id}")
        if history and prompt_id in history and history[prompt_id].get("status", {}).get("completed") is not None:
            entry = history[prompt_id]
            if entry["status"].get("status_str") in ("success", "error"):
                return entry
        time.sleep(0.5)
    raise TimeoutError(f"prompt {prompt_id} did not finish within {timeout:.0f} s")


def report(server: str, name: str, workflow: dict, entry: dict) -> bool:
    status = entry["status"]
    ok = status.get("status_str") == "success"
    print(f"== {name}: {status.get('status_str')}")
    for kind, data in status.get("messages", []):
        if kind in ("execution_error", "execution_interrupted"):
            print(f"   {kind}: node {data.get('node_id')} ({data.get('node_type')}): {data.get('exception_message', '')}".rstrip())
    for node_id, out in entry.get("outputs", {}).items():
        kind = workflow[node_id]["class_type"]
        for text in out.get("text", []):
            print(f"   {kind} #{node_id} text: {text!r}")
        for key in ("images", "a_images", "b_images"):
            for rec in out.get(key, []):
                w, h = _image_size(server, rec)
                print(f"   {kind} #{node_id} {key}: {rec['filename']} ({rec['type']}) {w}x{h}")
    return ok


def cancel_check(server: str, workflow: dict, timeout: float) -> bool:
    """Queue an upscale with small tiles, press Cancel (POST /interrupt) once it
    runs, and report how long it took to stop."""
    for node in workflow.values():
        if node["class_type"] == "GenSRUpscale":
            node["inputs"]["tile"] = 32
            node["inputs"]["outscale"] = 1.0 + (time.time() % 1) / 100  # a new value: never a cached result
    prompt_id = queue(server, workflow)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        running = _request(server, "/queue").get("queue_running", [])
        if any(item[1] == prompt_id for item in running):
            break
        time.sleep(0.2)
    time.sleep(2.0)  # let it get into the tiles
    pressed = time.monotonic()
    _request(server, "/interrupt", {})
    entry = wait(server, prompt_id, timeout)
    stopped = time.monotonic() - pressed
    kinds = [k for k, _ in entry["status"].get("messages", [])]
    print(f"== cancel: {entry['status'].get('status_str')}, {'execution_interrupted' in kinds and 'interrupted' or 'not interrupted'}, "
          f"stopped {stopped:.2f} s after Cancel")
    return "execution_interrupted" in kinds


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workflows", nargs="*", default=DEFAULT, help=f"names in api/ (default: {' '.join(DEFAULT)})")
    p.add_argument("--server", default="http://127.0.0.1:8188")
    p.add_argument("--image", help="LoadImage file (in ComfyUI's input folder) to use instead of example.png")
    p.add_argument("--gensr-model", help="model for GenSR Load Model instead of the bundled one")
    p.add_argument("--core-model", help="upscale_models file instead of RealESRGAN_x4plus.pth")
    p.add_argument("--cancel", action="store_true", help="also check that Cancel stops a running GenSR upscale")
    p.add_argument("--cancel-image", default="example.png", help="a larger input image for the Cancel check")
    p.add_argument("--timeout", type=float, default=600)
    args = p.parse_args(argv)
    ok = True
    for name in args.workflows:
        workflow = customise(json.loads((API_DIR / f"{name}.json").read_text()), args.image, args.gensr_model, args.core_model)
        try:
            entry = wait(args.server, queue(args.server, workflow), args.timeout)
            ok = report(args.server, name, workflow, entry) and ok
        except (RuntimeError, TimeoutError) as e:
            print(f"== {name}: {e}")
            ok = False
    if args.cancel:
        workflow = customise(json.loads((API_DIR / "upscale_image.json").read_text()), args.cancel_image, args.gensr_model, args.core_model)
        ok = cancel_check(args.server, workflow, args.timeout) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
