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
from hub_env import hub_home, no_outside_network  # noqa: F401  (pytest fixtures)


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
        assert re.fullmatch(r"[0-9a-f]{64}", e.sha256) and e.size and e.revision
        assert e.arch in ("rrdbnet", "compact") and e.file_format == ("safetensors" if e.filename.endswith(".safetensors") else "pickle")
        ref = parse_hf_uri(e.source)
        assert (ref.repo_id, ref.filename, ref.revision) == (e.repo, e.filename, e.revision)
        assert catalogue.find_hub_entry(e.repo.upper(), e.filename) == e


def test_malformed_catalogues_are_rejected():
    good = {"name": "x", "description": "", "file": None, "repo": "a/b", "filename": "m.safetensors", "revision": "main",
            "sha256": "a" * 64, "size": 1, "arch": "compact", "scale": 4, "licence": "MIT"}
    assert parse_catalogue({"models": [good]})[0].name == "x"
    for bad in ({**good, "sha256": None}, {**good, "sha256": "xyz"}, {**good, "file": "default/x.safetensors"},
                {**good, "repo": "nodash"}, {**good, "scale": 0}, {**good, "extra": 1}):
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
        get_entry("b").local_path()


def test_gensr_models_table_and_json(hub_home, no_outside_network, capsys):
    assert gensr_main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["NAME", "ARCH", "SCALE", "LICENCE"]
    assert lines[1].startswith("gensr-x4 ") and lines[2].startswith("gensr-x4-gan ")
    assert any("hf://Kim2091/UltraSharp/4x-UltraSharp.safetensors@920fe218" in line and "downloads on first use" in line for line in lines)
    assert any("4x-remacri" in line and "needs allow_pickle" in line for line in lines)

    assert gensr_main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == [e.name for e in load_catalogue()]
    assert {"name", "arch", "scale", "licence", "sha256", "source", "status", "format"} <= set(rows[0])
