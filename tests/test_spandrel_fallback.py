"""Without spandrel, a file no GenSR architecture claims is refused with an
error that names GenSR's architectures and says how to open the others."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

import gensr
from gensr.cli import main as gensr_main
from gensr.sr_core.archs import ARCHITECTURES
from gensr.weights import UnknownArchitectureError, spandrel_models


@pytest.fixture
def without_spandrel(monkeypatch):
    monkeypatch.setattr(spandrel_models, "_spandrel", lambda: None)


def _swinir_like(tmp_path):
    path = tmp_path / "swinir.safetensors"
    save_file({"conv_first.weight": torch.zeros(8, 3, 3, 3), "patch_embed.norm.weight": torch.zeros(8),
               "layers.0.residual_group.blocks.0.attn.qkv.weight": torch.zeros(24, 8)}, str(path))
    return path


def test_unknown_architecture_says_how_to_get_the_others(without_spandrel, tmp_path):
    with pytest.raises(UnknownArchitectureError) as info:
        gensr.load_model(_swinir_like(tmp_path))
    message = str(info.value)
    for arch in ARCHITECTURES.values():
        assert arch.name in message
    assert 'pip install "comfyui-gensr[spandrel]"' in message
    assert "ComfyUI's core 'Load Upscale Model'" in message
    assert "conv_first.weight" in message


def test_cli_reports_it_in_one_line(without_spandrel, tmp_path, capsys):
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "in.png")
    rc = gensr_main(["upscale", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--model", str(_swinir_like(tmp_path))])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "comfyui-gensr[spandrel]" in err[0]  # what to install: one line, exit 2


def test_gensr_models_says_spandrel_is_missing(without_spandrel, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert gensr_main(["models"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("Architectures: GenSR runs ") and "need spandrel" in last
