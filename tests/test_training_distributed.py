"""torchrun --nproc_per_node=2 on CPU (gloo): each process trains on its own
shard and all processes keep identical weights."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from training_env import TESTS, tiny_config, weights_equal


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("preset", ["tiny-test", "tiny-test-gan"])
def test_torchrun_two_processes_keep_identical_weights(tmp_path, preset):
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("this torch build has no gloo backend")
    cfg = tiny_config(tmp_path)
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={free_port()}", str(TESTS / "ddp_worker.py"), str(dumps),
           "train", "--preset", preset, "--data", cfg.data[0], "--val", cfg.val, "--out", cfg.out,
           "--iterations", "6", "--set", "val_every=6", "--set", "checkpoint_every=3",
           "--set", 'discriminator_config={"num_feat": 4}']
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert out.returncode == 0, out.stderr[-4000:]
    assert out.stdout.count("exported") == 1  # rank 0 exports, once

    r0, r1 = torch.load(dumps / "rank0.pt", weights_only=True), torch.load(dumps / "rank1.pt", weights_only=True)
    assert r0["world_size"] == r1["world_size"] == 2
    assert r0["shard"] and r1["shard"] and not set(r0["shard"]) & set(r1["shard"])  # own shards
    assert weights_equal(r0["generator"], r1["generator"]) and weights_equal(r0["ema"], r1["ema"])
    if preset == "tiny-test-gan":
        assert weights_equal(r0["discriminator"], r1["discriminator"])
    # and they trained: the weights differ from a fresh model with the same seed
    from gensr.training.loop import build_generator_for

    torch.manual_seed(0)
    fresh = build_generator_for(cfg.replace(arch_config={"num_feat": 8, "num_conv": 2})).state_dict()
    assert not weights_equal(fresh, r0["generator"])
    run_dir = Path(cfg.out) / preset
    assert (run_dir / f"{preset}.safetensors").is_file() and (run_dir / "checkpoint.pt").is_file()
    assert '"validation"' in (run_dir / "log.jsonl").read_text()
