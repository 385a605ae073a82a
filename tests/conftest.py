"""Make ``import gensr`` resolve to this checkout, whatever its folder is called
and whether or not it was pip-installed."""
from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import torch

# Tests use tiny tensors: one thread avoids OpenMP start-up and spin costs that
# make a tiny convolution ~100x slower on a busy 2-core machine.
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


runpy.run_path(str(ROOT / "_checkout.py"))["import_checkout_as_gensr"](ROOT)


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test when it is missing."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared test data missing: {p} (expected ../shared next to the project root)")
    return p


@pytest.fixture
def shared():
    return shared_path


@pytest.fixture
def model_file(tmp_path):
    """A tiny x2 Compact model saved as ``tiny-x2.safetensors``."""
    from gensr.sr_core.archs import SRVGGNetCompact
    from gensr.weights import save_model

    torch.manual_seed(0)
    path = tmp_path / "tiny-x2.safetensors"
    save_model(SRVGGNetCompact(num_feat=8, num_conv=2, scale=2).eval(), path)
    return path


@pytest.fixture(autouse=True)
def cpu_without_native_bf16(monkeypatch):
    """On CPUs with native bfloat16 (AVX512-BF16 / AMX) ``precision="auto"``
    computes in bf16; tests must not depend on the machine they run on, so they
    see a CPU without it. Tests about that choice patch it back themselves."""
    from gensr.sr_core.upscale import devices

    monkeypatch.setattr(devices, "cpu_has_fast_bf16", lambda: False)
