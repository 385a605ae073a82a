"""``gensr info`` and ``gensr convert``, driven through ``gensr.cli.main``."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import gensr
from gensr.cli import main
from gensr.sr_core.archs import RRDBNet, SRVGGNetCompact


class CreatesMarker:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def esrgan_file(path: Path) -> RRDBNet:
    """A tiny x2 RRDBNet saved in the ESRGAN/BSRGAN key layout, wrapped in ``params_ema``."""
    torch.manual_seed(0)
    model = RRDBNet(1, 1, 2, num_feat=6, num_block=1, num_grow_ch=3).eval()
    names = {"conv_body": "trunk_conv", "conv_up1": "upconv1", "conv_up2": "upconv2", "conv_hr": "HRconv"}
    sd = {}
    for key, value in model.state_dict().items():
        head, _, tail = key.partition(".")
        if head == "body":
            n, rdb, rest = tail.split(".", 2)
            key = f"RRDB_trunk.{n}.RDB{rdb[3:]}.{rest}"
        else:
            key = f"{names.get(head, head)}.{tail}"
        sd[key] = value
    torch.save({"params_ema": sd, "iter": 5}, path)
    return model


def test_info_prints_detected_config_as_json(tmp_path, capsys):
    path = tmp_path / "2x_gray.pth"
    model = esrgan_file(path)
    assert main(["info", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["arch"] == "rrdbnet"
    assert (info["scale"], info["in_channels"], info["out_channels"]) == (2, 1, 1)
    assert info["config"] == model.config
    assert info["parameters"] == sum(p.numel() for p in model.parameters())
    assert info["source"] == str(path)


def test_info_shows_safetensors_metadata(tmp_path, capsys):
    path = tmp_path / "m.safetensors"
    gensr.save_model(SRVGGNetCompact(3, 3, num_feat=4, num_conv=1, scale=3), path, metadata={"license": "MIT"})
    assert main(["info", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["scale"] == 3 and info["metadata"]["license"] == "MIT"
    assert info["metadata"]["gensr.arch"] == "compact"


def test_info_reports_bad_files_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "page.pth"
    path.write_text("<html>404</html>")
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gensr info: error:") and "HTML" in err and "Traceback" not in err


def test_convert_pth_to_standard_safetensors(tmp_path, capsys):
    src, dst = tmp_path / "2x_gray.pth", tmp_path / "out" / "2x_gray.safetensors"
    model = esrgan_file(src)
    assert main(["convert", str(src), str(dst)]) == 0
    assert "rrdbnet" in capsys.readouterr().out
    with safe_open(str(dst), "pt") as f:
        assert set(f.keys()) == set(model.state_dict())  # BasicSR layout, unwrapped
        meta = f.metadata()
    assert meta["gensr.converted_from"] == "2x_gray.pth"
    assert json.loads(meta["gensr.config"]) == model.config
    converted = gensr.load_model(dst)
    x = torch.rand(1, 1, 6, 6)
    with torch.no_grad():
        assert torch.equal(converted(x), model(x))


def test_convert_keeps_the_input_files_metadata(tmp_path):
    src, dst = tmp_path / "in.safetensors", tmp_path / "out.safetensors"
    sd = SRVGGNetCompact(3, 3, num_feat=4, num_conv=1, scale=2).state_dict()
    save_file({f"module.{k}": v for k, v in sd.items()}, str(src), metadata={"author": "someone"})
    assert main(["convert", str(src), str(dst)]) == 0
    loaded = gensr.load_model(dst)
    assert loaded.metadata["author"] == "someone" and loaded.metadata["gensr.converted_from"] == "in.safetensors"


def test_convert_refuses_unsafe_pickle_and_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "pwned"
    src, dst = tmp_path / "evil.pth", tmp_path / "evil.safetensors"
    torch.save({"params": {"x": torch.zeros(1)}, "payload": CreatesMarker(marker)}, src)
    assert main(["convert", str(src), str(dst)]) == 2
    err = capsys.readouterr().err
    assert "--trust-pickle" in err and "nothing in it was executed" in err
    assert not marker.exists() and not dst.exists()


def test_convert_trust_pickle_reads_a_pickled_model(tmp_path, capsys):
    src, dst = tmp_path / "full.pth", tmp_path / "full.safetensors"
    model = SRVGGNetCompact(3, 3, num_feat=4, num_conv=2, scale=2).eval()
    torch.save({"model": model}, src)  # needs code to load: refused unless trusted
    assert main(["convert", str(src), str(dst)]) == 2
    assert not dst.exists()
    assert main(["convert", "--trust-pickle", str(src), str(dst)]) == 0
    converted = gensr.load_model(dst)
    x = torch.rand(1, 3, 5, 5)
    with torch.no_grad():
        assert torch.equal(converted(x), model(x))


def test_convert_does_not_overwrite_without_flag(tmp_path, capsys):
    src, dst = tmp_path / "m.pth", tmp_path / "m.safetensors"
    esrgan_file(src)
    dst.write_bytes(b"keep me")
    assert main(["convert", str(src), str(dst)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert dst.read_bytes() == b"keep me"
    assert main(["convert", "--overwrite", str(src), str(dst)]) == 0
    assert gensr.load_model(dst).scale == 2


@pytest.mark.parametrize("name", ["m.pth", "m.safetensors.tmp"])
def test_convert_only_writes_safetensors(tmp_path, capsys, name):
    src = tmp_path / "m.pth"
    esrgan_file(src)
    assert main(["convert", str(src), str(tmp_path / "out" / name)]) == 2
    assert ".safetensors" in capsys.readouterr().err
    assert not (tmp_path / "out" / name).exists()

