"""The model catalogue (weights/catalogue.json) and `gensr models`."""
from __future__ import annotations

import json
import re

import pytest

from gensr.cli import main as gensr_main
from gensr.weights import catalogue
from gensr.weights.catalogue import CatalogueError, get_entry, load_catalogue, parse_catalogue
from gensr.weights.errors import WeightFileError
from gensr.weights.hub import parse_hf_uri
from hub_env import fake_hub, hub_home, no_outside_network  # noqa: F401  (pytest fixtures)


def test_bundled_default_models_come_first():
    entries = load_catalogue()
    assert [e.name for e in entries[:2]] == ["gensr-x4", "gensr-x4-gan"]
    for e in entries[:2]:
        assert e.bundled and e.licence == "Apache-2.0" and e.scale == 4
        assert e.bundled_path().parent.name == "default" and e.bundled_path().suffix == ".safetensors"
    assert catalogue.default_entry().name == "gensr-x4"


def test_hub_entries_are_pinned_and_parse_as_hub_addresses():
    hub = [e for e in load_catalogue() if not e.bundled]
    assert hub, "the catalogue lists community models"
    for e in hub:
        assert re.fullmatch(r"[0-9a-f]{64}", e.sha256) and e.size
        assert re.fullmatch(r"[0-9a-f]{40}", e.revision), f"{e.name}: revision must be a commit hash, not {e.revision!r}"
        assert re.fullmatch(r"[a-z0-9]+", e.arch) and e.file_format == ("safetensors" if e.filename.endswith(".safetensors") else "pickle")
        ref = parse_hf_uri(e.source)
        assert (ref.repo_id, ref.filename, ref.revision) == (e.repo, e.filename, e.revision)
        assert catalogue.find_hub_entry(e.repo.upper(), e.filename) == e



def test_catalogue_offers_each_modern_community_architecture():
    """Issue 12: people reach for SPAN, RealPLKSR and DAT2 models as well as ESRGAN; each has a pinned Hub entry,
    and a subfolder file name (a mirror's ``ESRGAN/...``) survives the round trip through its hf:// source."""
    hub = [e for e in load_catalogue() if not e.bundled]
    assert {"rrdbnet", "span", "realplksr", "dat"} <= {e.arch for e in hub}
    assert len({e.name for e in hub}) == len({(e.repo, e.filename) for e in hub}) == len(hub)
    nested = [e for e in hub if "/" in e.filename]
    assert nested, "the catalogue pins at least one file inside a repository folder"
    for e in nested:
        assert parse_hf_uri(e.source).filename == e.filename

def test_malformed_catalogues_are_rejected():
    good = {"name": "x", "description": "", "file": None, "repo": "a/b", "filename": "m.safetensors", "revision": "0" * 40,
            "sha256": "a" * 64, "size": 1, "arch": "compact", "scale": 4, "licence": "MIT"}
    assert parse_catalogue({"models": [good]})[0].name == "x"
    for bad in ({**good, "sha256": None}, {**good, "sha256": "xyz"}, {**good, "file": "default/x.safetensors"},
                {**good, "repo": "nodash"}, {**good, "scale": 0}, {**good, "extra": 1},
                {**good, "revision": "main"}, {**good, "revision": None}, {**good, "revision": "0" * 39}):
        with pytest.raises(CatalogueError):
            parse_catalogue({"models": [bad]})
    with pytest.raises(CatalogueError, match="duplicate"):
        parse_catalogue({"models": [good, good]})
    with pytest.raises(CatalogueError, match="known: gensr-x4"):
        get_entry("nope")


def test_missing_bundled_file_gives_a_clear_error(tmp_path, monkeypatch):
    entry = {"name": "b", "description": "", "file": "default/absent.safetensors", "repo": None, "filename": None,
             "revision": None, "sha256": None, "size": None, "arch": "compact", "scale": 4, "licence": "Apache-2.0"}
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({"models": [entry]}))
    monkeypatch.setattr(catalogue, "CATALOGUE_PATH", path)
    with pytest.raises(WeightFileError, match="missing from this installation.*Reinstall"):
        get_entry("b").bundled_file()


def test_gensr_models_table_and_json(hub_home, no_outside_network, capsys):
    assert gensr_main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["NAME", "ARCH", "SCALE", "LICENCE"]
    assert lines[1].startswith("gensr-x4 ") and lines[2].startswith("gensr-x4-gan ")
    assert any("hf://Kim2091/UltraSharp/4x-UltraSharp.safetensors@920fe218" in line and "downloads on first use" in line for line in lines)
    assert any("4x-hfa2k-realplksr" in line and ".pth@96c2a2e1" in line for line in lines)
    assert not any("allow_pickle" in line for line in lines), "every entry opens as it is"

    assert gensr_main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == [e.name for e in load_catalogue()]
    assert {"name", "arch", "scale", "licence", "sha256", "source", "status", "format"} <= set(rows[0])


@pytest.fixture
def hub_catalogue(fake_hub, tmp_path, monkeypatch):
    """A catalogue with a .safetensors and a weights-only .pth entry on the loopback Hub, pinned to commits."""
    import hashlib

    import torch

    from gensr.sr_core.archs import SRVGGNetCompact
    from gensr.weights import save_model

    torch.manual_seed(0)
    model = SRVGGNetCompact(num_feat=4, num_conv=1, scale=2).eval()
    st = save_model(model, tmp_path / "m.safetensors").read_bytes()
    pth_path = tmp_path / "m.pth"
    torch.save({"params": model.state_dict()}, pth_path)
    pth = pth_path.read_bytes()
    commit = fake_hub.commit("erin/tiny", {"tiny.safetensors": st, "tiny.pth": pth})
    fake_hub.commit("erin/tiny", {"notes.txt": b"main moves on"})
    entries = [
        {"name": f"tiny-{kind}", "description": "", "file": None, "repo": "erin/tiny", "filename": f"tiny.{kind}",
         "revision": commit, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "arch": "compact",
         "scale": 2, "licence": "MIT"}
        for kind, data in (("safetensors", st), ("pth", pth))
    ]
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({"models": entries}))
    monkeypatch.setattr(catalogue, "CATALOGUE_PATH", path)
    catalogue._load.cache_clear()
    yield model, commit
    catalogue._load.cache_clear()


@pytest.mark.parametrize("kind", ["safetensors", "pth"])
def test_every_kind_of_entry_opens_from_the_cli_and_the_hub_node(hub_catalogue, tmp_path, kind):
    import numpy as np
    import torch
    from PIL import Image

    from nodes_helpers import run_node

    model, commit = hub_catalogue
    src, out = tmp_path / "in.png", tmp_path / f"out-{kind}.png"
    pixels = (np.random.default_rng(0).random((10, 12, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(src)
    assert gensr_main(["upscale", str(src), "-o", str(out), "--model", f"tiny-{kind}", "--quiet", "--precision", "fp32"]) == 0
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        expected = (model(x).clamp(0, 1)[0].permute(1, 2, 0) * 255).round().numpy()
    assert np.abs(np.asarray(Image.open(out)).astype(np.float64) - expected).max() <= 1

    (node_model,), _ = run_node("GenSRHubModelLoader", repo_id="erin/tiny", filename=f"tiny.{kind}", revision=commit)
    assert node_model.scale == 2
    for a, b in zip(node_model.model.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)
