"""Run spandrel (ComfyUI's core model loader) on a weight file, from this test
process when spandrel is importable here, else from a Python that has it: the
``GENSR_SPANDREL_PYTHON`` environment variable, or ``../venv-sp/bin/python``
next to the project root. Tests skip with a clear message when there is none."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[1]

RUN_SPANDREL = r"""
import json, sys, torch
from safetensors.torch import load_file, save_file
from spandrel import ModelLoader
io, found = sys.argv[1], []
tensors = load_file(io)
for i, weights in enumerate(sys.argv[2:]):
    descriptor = ModelLoader().load_from_file(weights)
    with torch.no_grad():
        tensors[f"output.{i}"] = descriptor.model.eval()(tensors["input"]).contiguous()
    found.append({"arch": descriptor.architecture.id, "scale": descriptor.scale,
                  "supports_half": descriptor.supports_half, "supports_bfloat16": descriptor.supports_bfloat16})
save_file(tensors, io)
print(json.dumps(found))
"""


def spandrel_python() -> str:
    """A Python executable that can import spandrel, or skip the test."""
    if importlib.util.find_spec("spandrel") is not None:
        return sys.executable
    candidates = [os.environ.get("GENSR_SPANDREL_PYTHON"), str(ROOT.parent / "venv-sp" / "bin" / "python")]
    for exe in filter(None, candidates):
        if Path(exe).exists():
            return exe
    pytest.skip("spandrel is not importable here and no Python with it was found: set GENSR_SPANDREL_PYTHON "
                "to one (e.g. a venv with torch, torchvision and spandrel) to compare with ComfyUI's loader")


def spandrel_forward(weights: list[Path], x: torch.Tensor, workdir: Path) -> list[tuple[torch.Tensor, dict]]:
    """For each weight file: (spandrel's eval-mode output for ``x``, what spandrel
    detected: arch id, scale, fp16/bf16 support). One process for all (importing
    spandrel takes seconds)."""
    io = workdir / "spandrel_io.safetensors"
    save_file({"input": x.contiguous()}, str(io))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([spandrel_python(), "-c", RUN_SPANDREL, str(io), *map(str, weights)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, f"spandrel could not load {', '.join(p.name for p in weights)}:\n{done.stderr[-2000:]}"
    outputs, found = load_file(str(io)), json.loads(done.stdout.strip().splitlines()[-1])
    return [(outputs[f"output.{i}"], found[i]) for i in range(len(weights))]
