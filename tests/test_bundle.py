"""training/bundle.py: a run's export becomes a bundled file with the same
tensors, its metadata kept, the held-out evaluation added, and the sha256
printed for the catalogue matching the bytes on disk."""
from __future__ import annotations

import hashlib
import json

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from gensr.cli import main as gensr_cli
from gensr.sr_core.archs import SRVGGNetCompact
from gensr.training.bundle import main as bundle
from gensr.weights.save import save_model
from training_env import tiny_data


def test_bundle_keeps_the_tensors_and_adds_the_evaluation(tmp_path, capsys):
    _, val = tiny_data(tmp_path, n=0)
    torch.manual_seed(0)
    export = save_model(SRVGGNetCompact(num_feat=8, num_conv=2, scale=4), tmp_path / "run.safetensors",
                        metadata={"gensr.recipe": "tiny-test", "gensr.iterations": 60})
    target = tmp_path / "bundled" / "m.safetensors"
    assert bundle([str(export), str(target), "--eval", str(val), "--hardware", "2-core CPU", "--hours", "0.25"]) == 0

    printed = json.loads(capsys.readouterr().out)
    assert printed["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()
    assert printed["size"] == target.stat().st_size
    assert list(target.parent.iterdir()) == [target]  # no temporary file left behind

    before, after = load_file(str(export)), load_file(str(target))
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    with safe_open(str(target), "pt") as f:
        meta = f.metadata()
    assert meta["gensr.recipe"] == "tiny-test" and meta["gensr.iterations"] == "60"
    assert (meta["gensr.training_hardware"], meta["gensr.training_time_hours"]) == ("2-core CPU", "0.25")

    # The evaluation is what `gensr eval` reports for the same file and folder.
    evaluated = json.loads(meta["gensr.evaluation"])[val.name]
    assert gensr_cli(["eval", str(target), "--data", str(val), "--json"]) == 0
    reported = json.loads(capsys.readouterr().out)["datasets"][val.name]["average"]
    for key in ("psnr", "ssim", "bicubic_psnr", "grid_db", "hf_ratio"):
        assert abs(evaluated[key] - reported[key]) < 1e-6, key
    assert evaluated["images"] == 2
