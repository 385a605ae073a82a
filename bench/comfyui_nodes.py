"""GenSR Upscale against ComfyUI's own "Upscale Image (using Model)" inside a
running ComfyUI: the same model file and image, timed by ComfyUI itself.

    python main.py --cpu --listen 127.0.0.1        # in a ComfyUI with this pack installed
    python bench/comfyui_nodes.py --model realesr-animevideov3.pth --size 1024

Uploads two photo-like test images (so ComfyUI's cache cannot answer the second
run), warms both paths up on a small image, then alternates core and GenSR.
Each workflow ends in a 64 px nearest resize and a preview, so saving a large
PNG is not timed. Reports the best time of each (execution start to success,
from ComfyUI's history). Standard library and Pillow only.
"""
from __future__ import annotations

import argparse
import io
import json
import time
import urllib.request
import uuid

from PIL import Image, ImageFilter


def _test_image(size: int, seed: int) -> bytes:
    """A smooth random picture with fine noise, as PNG bytes."""
    import random

    rng = random.Random(seed)
    small = Image.new("RGB", (16, 16))
    small.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(256)])
    image = small.resize((size, size), Image.BICUBIC)
    noise = Image.effect_noise((size, size), 24).convert("RGB")
    image = Image.blend(image, noise, 0.15).filter(ImageFilter.SHARPEN)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _upload(server: str, name: str, data: bytes) -> str:
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{name}\"\r\n"
        f"Content-Type: image/png\r\n\r\n"
    ).encode() + data + (
        f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"overwrite\"\r\n\r\ntrue\r\n--{boundary}--\r\n"
    ).encode()
    req = urllib.request.Request(server + "/upload/image", data=body,
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())["name"]


def _run(server: str, prompt: dict, timeout: float) -> float:
    req = urllib.request.Request(server + "/prompt", data=json.dumps({"prompt": prompt}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        pid = json.loads(r.read())["prompt_id"]
    deadline = time.time() + timeout
    while time.time() < deadline:
        with urllib.request.urlopen(f"{server}/history/{pid}", timeout=60) as r:
            hist = json.loads(r.read())
        status = hist.get(pid, {}).get("status", {})
        if status.get("completed") is not None:
            msgs = {kind: data for kind, data in status.get("messages", [])}
            if "execution_success" not in msgs:
                raise SystemExit(f"workflow failed: {json.dumps(msgs.get('execution_error', msgs))[:2000]}")
            return (msgs["execution_success"]["timestamp"] - msgs["execution_start"]["timestamp"]) / 1000
        time.sleep(0.25)
    raise SystemExit(f"no result within {timeout} s")


def _workflow(kind: str, image: str, model: str) -> dict:
    prompt = {"1": {"class_type": "LoadImage", "inputs": {"image": image}}}
    if kind == "core":
        prompt["2"] = {"class_type": "UpscaleModelLoader", "inputs": {"model_name": model}}
        prompt["3"] = {"class_type": "ImageUpscaleWithModel", "inputs": {"upscale_model": ["2", 0], "image": ["1", 0]}}
    else:
        prompt["2"] = {"class_type": "GenSRModelLoader", "inputs": {"model_name": model}}
        prompt["3"] = {"class_type": "GenSRUpscale", "inputs": {
            "outscale": 0.0, "target_long_side": 0, "tile": 0, "overlap": -1, "precision": "auto",
            "upscale_model": ["2", 0], "image": ["1", 0]}}
    prompt["4"] = {"class_type": "ImageScale", "inputs": {
        "upscale_method": "nearest-exact", "width": 64, "height": 64, "crop": "disabled", "image": ["3", 0]}}
    prompt["5"] = {"class_type": "PreviewImage", "inputs": {"images": ["4", 0]}}
    return prompt


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", default="http://127.0.0.1:8188")
    p.add_argument("--model", required=True, help="a file in ComfyUI's models/upscale_models")
    p.add_argument("--size", type=int, default=1024, help="test image side in pixels")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--timeout", type=float, default=1800)
    args = p.parse_args()

    warm = _upload(args.server, "gensr_bench_warm.png", _test_image(64, 0))
    images = [_upload(args.server, f"gensr_bench_{args.size}_{i}.png", _test_image(args.size, i + 1))
              for i in range(args.repeats)]
    for kind in ("core", "gensr"):
        _run(args.server, _workflow(kind, warm, args.model), args.timeout)
    best = {}
    for image in images:
        for kind in ("core", "gensr"):
            seconds = _run(args.server, _workflow(kind, image, args.model), args.timeout)
            best[kind] = min(best.get(kind, seconds), seconds)
            print(f"  {kind:<6}{image}: {seconds:.2f} s", flush=True)
    print(f"{args.model}, {args.size}x{args.size}: core Upscale Image (using Model) {best['core']:.2f} s, "
          f"GenSR Upscale {best['gensr']:.2f} s: {best['core'] / best['gensr']:.2f}x")


if __name__ == "__main__":
    main()
