"""Parity with spandrel, the loader ComfyUI uses: each reference file's weights,
written back in their original form (wrapped as its metadata says, as .pth and
as .safetensors), load and reproduce spandrel's output within 1e-4.

References: ../shared/weights/parity, and tests/fixtures/spandrel (SPAN and
RealPLKSR variants, written by tests/fixtures/make_spandrel_fixtures.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import gensr
PARITY_DIR = Path(__file__).resolve().parents[2] / "shared" / "weights" / "parity"
PARITY_FILES = sorted(p.name for p in PARITY_DIR.glob("*.safetensors")) or ["(none found)"]
FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures" / "spandrel"
FIXTURES = sorted(FIXTURE_DIR.glob("*.safetensors"))

# What each reference's metadata says, in GenSR's terms.
EXPECTED_ARCH = {"RRDBNet": "rrdbnet", "SRVGGNetCompact": "compact", "SPAN": "span", "RealPLKSR": "realplksr"}
CONFIG_KEYS = {
    "nf": "num_feat", "nb": "num_block", "gc": "num_grow_ch", "num_conv": "num_conv", "scale": "scale",
    "feature_channels": "num_feat", "norm": "norm", "in_ch": "in_channels", "out_ch": "out_channels",  # SPAN
    "dim": "num_feat", "n_blocks": "num_block", "kernel_size": "kernel_size", "split_ratio": "split_ratio",
    "use_ea": "use_ea", "layer_norm": "layer_norm", "dysample": "dysample", "norm_groups": "norm_groups",  # RealPLKSR
}


def meta_value(text: str):
    """A metadata string as the number or boolean it spells."""
    return {"true": True, "false": False}.get(text) if text in ("true", "false") else float(text)


def read_reference(path: Path) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, dict[str, str]]:
    with safe_open(str(path), "pt") as f:
        meta = dict(f.metadata())
        sd = {k[3:]: f.get_tensor(k) for k in f.keys() if k.startswith("sd.")}
        return sd, f.get_tensor("input"), f.get_tensor("output"), meta


def original_form(sd: dict[str, torch.Tensor], meta: dict[str, str]) -> dict:
    sd = {meta.get("key_prefix", "") + k: v for k, v in sd.items()}
    return {meta["wrap"]: sd} if meta.get("wrap") else sd


def check_reference(reference: Path, tmp_path: Path, suffix: str) -> None:
    sd, x, expected, meta = read_reference(reference)
    path = tmp_path / f"model{suffix}"
    if suffix == ".pth":
        torch.save(original_form(sd, meta), path)
    else:  # safetensors is flat: the wrapper cannot exist there, a prefix can
        save_file({meta.get("key_prefix", "") + k: v for k, v in sd.items()}, str(path))

    model = gensr.load_model(path)

    assert model.arch == EXPECTED_ARCH[meta["arch"]]
    for meta_key, config_key in CONFIG_KEYS.items():
        if meta_key in meta:
            assert model.config[config_key] == meta_value(meta[meta_key]), config_key
    with torch.no_grad():
        out = model(x)
    assert out.shape == expected.shape
    assert (out - expected).abs().max().item() < 1e-4


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
@pytest.mark.parametrize("name", PARITY_FILES)
def test_matches_spandrel_reference(tmp_path, shared, name, suffix):
    check_reference(shared("weights", "parity", name), tmp_path, suffix)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
@pytest.mark.parametrize("reference", FIXTURES, ids=lambda p: p.stem)
def test_matches_spandrel_fixture(tmp_path, reference, suffix):
    check_reference(reference, tmp_path, suffix)


def test_fixtures_cover_the_variants():
    """The committed fixtures exercise every hyper-parameter spandrel detects."""
    metas = []
    for path in FIXTURES:
        with safe_open(str(path), "pt") as f:
            metas.append(dict(f.metadata()))
    span = [m for m in metas if m["arch"] == "SPAN"]
    plksr = [m for m in metas if m["arch"] == "RealPLKSR"]
    assert {m["scale"] for m in span} >= {"1", "2", "3"} and {m["norm"] for m in span} == {"true", "false"}
    assert {m["in_ch"] for m in span} >= {"1", "3", "4"} and "stale" in {m["eval_conv"] for m in span}
    assert {m["scale"] for m in plksr} >= {"1", "2", "3", "4"}
    for flag in ("dysample", "layer_norm", "use_ea"):
        assert {m[flag] for m in plksr} == {"true", "false"}, flag


def test_parity_references_exist(shared):
    folder = shared("weights", "parity")
    names = {p.name for p in folder.glob("*.safetensors")}
    assert {"rrdb_x4_new.safetensors", "compact_animevideov3.safetensors", "span_x4.safetensors", "realplksr_x4.safetensors"} <= names
