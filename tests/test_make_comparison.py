"""examples/make_comparison.py: the README picture can be regenerated."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT, shared_path

spec = importlib.util.spec_from_file_location("make_comparison", ROOT / "examples" / "make_comparison.py")
make_comparison = importlib.util.module_from_spec(spec)
sys.modules["make_comparison"] = make_comparison  # dataclasses look their module up there
spec.loader.exec_module(make_comparison)


def test_compose_places_labelled_panels_side_by_side():
    panels = [torch.full((3, 6, 8), v, dtype=torch.uint8) for v in (10, 20, 30)]
    picture = np.asarray(make_comparison.compose(panels, ["a", "b", "c"]))
    assert picture.shape == (28 + 6, 3 * 8 + 2 * 10, 3)
    for k, v in enumerate((10, 20, 30)):
        assert (picture[28:, k * 18 : k * 18 + 8] == v).all()
    assert (picture[28:, 8:18] == 255).all()  # white gaps
    assert (picture[:28] < 128).any()  # the labels are drawn


def test_crop_is_enlarged_by_nearest_neighbour_and_checked():
    image = torch.arange(3 * 10 * 12, dtype=torch.int32).reshape(3, 10, 12)
    crop = make_comparison.Crop(left=2, top=3, size=4, zoom=3)
    out = crop.cut(image)
    assert out.shape == (3, 12, 12)
    assert out[1, 0, 0] == out[1, 2, 2] == image[1, 3, 2] and out[1, 11, 11] == image[1, 6, 5]
    with pytest.raises(SystemExit, match="does not fit"):
        make_comparison.Crop(left=10, top=0, size=4).check(image.shape)


def test_regenerates_the_readme_picture(tmp_path, capsys):
    shared_path("data", "val", "Set14")
    out = tmp_path / "comparison.png"
    assert make_comparison.main(["-o", str(out)]) == 0
    new = np.asarray(Image.open(out)).astype(int)
    committed = np.asarray(Image.open(ROOT / "examples" / "comparison.png")).astype(int)
    assert new.shape == committed.shape
    differ = np.abs(new - committed).max(axis=2)
    # Up to float rounding of the models (threads, CPU kernels): a few pixels off by one.
    assert differ.max() <= 1 and (differ > 0).mean() < 1e-4
    assert "gensr-x4-gan" in capsys.readouterr().out
