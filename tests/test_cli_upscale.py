"""gensr upscale: files, folders (recursive) and globs; formats, bit depth,
gray and alpha kept; sizes; a bad file is reported and skipped; existing
outputs are kept unless --overwrite; a missing default model is a clear error."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gensr.cli import main
from gensr.sr_core.image_io import encode_png16, read_image


@pytest.fixture
def inputs(tmp_path):
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((12, 10, 3)) * 255).astype(np.uint8)).save(root / "rgb.png")
    Image.fromarray((rng.random((12, 10)) * 255).astype(np.uint8)).save(root / "sub" / "gray.jpg")
    Image.fromarray((rng.random((12, 10, 4)) * 255).astype(np.uint8), "RGBA").save(root / "sub" / "alpha.webp", lossless=True)
    (root / "sub" / "deep.png").write_bytes(encode_png16((rng.random((12, 10, 3)) * 65535).astype(np.uint16)))
    (root / "broken.png").write_bytes(b"definitely not a png")
    (root / "notes.txt").write_text("ignored")
    return root


def test_folder_is_upscaled_recursively_keeping_modes_and_depth(tmp_path, model_file, inputs, capsys):
    out = tmp_path / "out"
    rc = main(["upscale", str(inputs), "-o", str(out), "--model", str(model_file), "--quiet"])
    assert rc == 1, "one file failed"
    err = capsys.readouterr().err
    assert "broken.png" in err and "1 of 5 files failed" in err
    expect = {"rgb.png": ("RGB", 8), "sub/gray.jpg": ("L", 8), "sub/alpha.webp": ("RGBA", 8), "sub/deep.png": ("RGB", 16)}
    for rel, (mode, bits) in expect.items():
        t, info = read_image(out / rel)
        assert (info.mode, info.bits) == (mode, bits), rel
        assert t.shape[-2:] == (24, 20), rel
    assert not (out / "broken.png").exists()


def test_existing_outputs_are_kept_unless_overwrite(tmp_path, model_file, inputs, capsys):
    src = inputs / "rgb.png"
    dst = tmp_path / "result.png"
    dst.write_bytes(b"keep me")
    assert main(["upscale", str(src), "-o", str(dst), "--model", str(model_file), "--quiet"]) == 0
    assert dst.read_bytes() == b"keep me"
    assert "exists" in capsys.readouterr().out
    assert main(["upscale", str(src), "-o", str(dst), "--model", str(model_file), "--quiet", "--overwrite"]) == 0
    assert Image.open(dst).size == (20, 24)


@pytest.mark.parametrize(
    "flags,size",
    [(["--outscale", "1.5"], (15, 18)), (["--size", "33x21"], (33, 21)), (["--long-side", "48"], (40, 48))],
)
def test_output_size_options(tmp_path, model_file, inputs, flags, size):
    dst = tmp_path / "o.png"
    assert main(["upscale", str(inputs / "rgb.png"), "-o", str(dst), "--model", str(model_file), "--quiet", *flags]) == 0
    assert Image.open(dst).size == size


def test_globs_format_suffix_and_tiling_options(tmp_path, model_file, inputs):
    out = tmp_path / "o"
    pattern = str(inputs / "**" / "*.jpg")
    rc = main(["upscale", pattern, "-o", str(out), "--model", str(model_file), "--quiet",
               "--format", "png", "--suffix", "_x2", "--tile", "8", "--overlap", "2", "--precision", "fp32", "--device", "cpu"])
    assert rc == 0
    assert Image.open(out / "gray_x2.png").mode == "L"


def test_bad_arguments(tmp_path, model_file, inputs, capsys):
    assert main(["upscale", str(tmp_path / "nothing-here"), "-o", str(tmp_path / "o"), "--model", str(model_file)]) == 2
    assert "no such file" in capsys.readouterr().err
    rc = main(["upscale", str(inputs), "-o", str(tmp_path / "one.png"), "--model", str(model_file)])
    assert rc == 2 and "give a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["upscale", str(inputs), "-o", str(tmp_path), "--size", "big"])


def test_missing_default_model_is_a_clear_error(tmp_path, inputs, monkeypatch, capsys):
    from gensr.weights import default_model

    monkeypatch.setattr(default_model, "default_model_path", lambda: tmp_path / "absent.safetensors")
    assert main(["upscale", str(inputs / "rgb.png"), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "default model" in err and "--model" in err
