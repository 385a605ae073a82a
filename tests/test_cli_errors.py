"""The ``gensr`` command's one error boundary: a user's mistake is one line on
stderr and exit code 2, never a traceback; anything unexpected keeps its
traceback under a line that says it is a bug. Also ``--version``, the preset
list in ``gensr train --help`` and the image extensions every command reads."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gensr.cli import main


def one_error_line(capsys, command: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert err.count("\n") == 1 and err.startswith(f"gensr {command}: error: "), err
    return err


def test_eval_on_a_missing_folder_is_one_line(tmp_path, model_file, capsys):
    missing = tmp_path / "nonexistent"
    assert main(["eval", str(model_file), "--data", str(missing), "--device", "cpu"]) == 2
    assert str(missing) in one_error_line(capsys, "eval")


def test_eval_on_an_unreadable_image_names_it_once(tmp_path, model_file, capsys):
    data = tmp_path / "val"
    data.mkdir()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(data / "a.png")
    (data / "x.png").write_text("a text file, not an image")
    assert main(["eval", str(model_file), "--data", str(data), "--device", "cpu"]) == 2
    err = one_error_line(capsys, "eval")
    assert err.count(str(data / "x.png")) == 1 and "cannot read image" in err


@pytest.mark.parametrize("command", [["upscale", "IMG", "-o", "OUT", "--model", "no-such-model"],
                                     ["info", "MISSING.safetensors"],
                                     ["convert", "MISSING.pth", "OUT.safetensors"]])
def test_missing_models_are_one_line(tmp_path, capsys, command):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "img.png")
    names = {"IMG": tmp_path / "img.png", "OUT": tmp_path / "out", "MISSING.safetensors": tmp_path / "m.safetensors",
             "MISSING.pth": tmp_path / "m.pth", "OUT.safetensors": tmp_path / "o.safetensors"}
    assert main([str(names.get(a, a)) for a in command]) == 2
    one_error_line(capsys, command[0])


@pytest.mark.parametrize("device", ["gpu", "cuda:99"])
def test_bad_device_is_an_option_error(tmp_path, model_file, capsys, device):
    with pytest.raises(SystemExit) as stop:
        main(["eval", str(model_file), "--data", str(tmp_path), "--device", device])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--device" in err and "Traceback" not in err


def test_an_unexpected_error_is_reported_as_a_bug_with_its_traceback(monkeypatch, capsys):
    from gensr.cli import models

    def broken(args):
        raise ZeroDivisionError("division by zero in a place that never divides by zero")

    monkeypatch.setattr(models, "run", broken)
    assert main(["models"]) == 1
    err = capsys.readouterr().err
    first, rest = err.split("\n", 1)
    assert first.startswith("gensr models: internal error") and "bug" in first
    assert rest.startswith("Traceback") and "ZeroDivisionError: division by zero in a place" in rest


def test_version_is_the_package_version(capsys):
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        tomllib = pytest.importorskip("tomli")

    with open(Path(__file__).resolve().parents[1] / "pyproject.toml", "rb") as f:
        version = tomllib.load(f)["project"]["version"]
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"gensr {version}"


def test_train_help_lists_every_preset(capsys):
    from gensr.training.presets import PRESETS

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = re.sub(r"-\s+", "-", " ".join(capsys.readouterr().out.split()))  # argparse wraps lines at hyphens
    listed = text.split("recipe to start from: ", 1)[1]
    assert [name for name in PRESETS if name in listed] == list(PRESETS)
    assert "gensr-x4-gan" in listed


# --------------------------------------------------------------------------- images


def save_all_kinds(folder) -> dict[str, tuple[int, int]]:
    """One small RGB image per extension the package reads; name -> (width, height)."""
    rng = np.random.default_rng(1)
    sizes = {}
    for i, name in enumerate(["a.png", "b.jpg", "c.jpeg", "d.webp", "e.bmp", "f.tif", "g.tiff"]):
        w, h = 8 + i, 6 + i
        Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(folder / name)
        sizes[name] = (w, h)
    return sizes


def test_upscale_reads_every_image_kind_eval_and_train_read(tmp_path, model_file, capsys):
    from gensr.training.data import find_images

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    sizes = save_all_kinds(src)
    (src / "notes.txt").write_text("not an image")
    (src / "model.safetensors").write_bytes(b"not an image either")
    assert sorted(p.name for p in find_images([src])) == sorted(sizes)  # what train and eval read
    assert main(["upscale", str(src), "-o", str(out), "--model", str(model_file), "--quiet"]) == 0
    outputs = {p.name: Image.open(p).size for p in out.iterdir()}
    expect = {name.replace(".bmp", ".png").replace(".tiff", ".png").replace(".tif", ".png"): (2 * w, 2 * h)
              for name, (w, h) in sizes.items()}
    assert outputs == expect
    assert "skipped 2 files that are not an image" in capsys.readouterr().err


def test_a_text_file_named_png_is_named_once(tmp_path, model_file, capsys):
    bad = tmp_path / "x.png"
    bad.write_text("hello")
    assert main(["upscale", str(bad), "-o", str(tmp_path / "out"), "--model", str(model_file), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count(str(bad)) == 1 and "cannot read image" in err and "Traceback" not in err


@pytest.mark.parametrize("flags", [["--outscale", "inf"], ["--long-side", str(10**30)], ["--size", f"{10**30}x8"]])
def test_an_output_size_no_image_can_have_is_an_option_error(tmp_path, model_file, capsys, flags):
    """An infinite or absurd output size is the user's mistake, caught before any
    pixel is computed: exit code 2 and one line, not an OverflowError traceback."""
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "img.png")
    with pytest.raises(SystemExit) as stop:
        main(["upscale", str(tmp_path / "img.png"), "-o", str(tmp_path / "out.png"), "--model", str(model_file), *flags])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert flags[0] in err and "Traceback" not in err
    assert not (tmp_path / "out.png").exists()


def test_an_outscale_too_large_for_the_image_fails_that_file_in_one_line(tmp_path, model_file, capsys):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "img.png")
    out = tmp_path / "out.png"
    assert main(["upscale", str(tmp_path / "img.png"), "-o", str(out), "--model", str(model_file),
                 "--outscale", "1e300"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "bug" not in err
    assert [line for line in err.splitlines() if line.startswith("failed")] == [
        line for line in err.splitlines() if "more than any image can hold" in line]
    assert not out.exists()


@pytest.mark.parametrize("outscale, target", [(float("inf"), None), (1e300, None), (None, 10**30), (None, (10**30, 8))])
def test_the_engine_refuses_an_output_size_no_tensor_can_hold(outscale, target):
    from gensr.sr_core.upscale.plan import output_size

    with pytest.raises(ValueError, match="output"):
        output_size(8, 8, 4, outscale, target)
