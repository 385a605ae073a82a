"""Resume: a run stopped by SIGTERM (or killed with SIGKILL) and continued with
--resume ends exactly where an uninterrupted run with the same seed ends."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

import gensr
from gensr.training.checkpoint import load_checkpoint
from gensr.weights.errors import GenSRError
from gensr.training.loop import Trainer, TrainingInterrupted
from training_env import gensr_command, tiny_config, weights_equal


def records(run_dir: Path) -> list[dict]:
    return [json.loads(l) for l in (run_dir / "log.jsonl").read_text().splitlines()]


def state(trainer: Trainer) -> dict:
    out = {f"g.{k}": v for k, v in trainer.generator.state_dict().items()}
    out.update({f"ema.{k}": v for k, v in trainer.ema.state_dict().items()})
    if trainer.losses.discriminator is not None:
        out.update({f"d.{k}": v for k, v in trainer.losses.discriminator.state_dict().items()})
    return out


def test_sigterm_then_resume_equals_an_uninterrupted_run(tmp_path):
    """GAN stage with Real-ESRGAN degradations in a worker process: every piece of state resumes."""
    common = dict(preset="tiny-test-gan", iterations=8, log_every=1, checkpoint_every=100, val=None,
                  degradation="realesrgan", num_workers=1, batch_size=2, discriminator_config={"num_feat": 4})
    full = Trainer(tiny_config(tmp_path / "a", **common))
    full.run()

    cfg = tiny_config(tmp_path / "b", **common)
    first = Trainer(cfg)
    step = first.train_step

    def step_then_signal(lr, hr):
        logs = step(lr, hr)
        if first.iteration == 2:  # the 3rd step: the run stops after it
            os.kill(os.getpid(), signal.SIGTERM)
        return logs

    first.train_step = step_then_signal
    with pytest.raises(TrainingInterrupted):
        first.run()
    assert load_checkpoint(first.checkpoint_path)["iteration"] == 3
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or signal.getsignal(signal.SIGTERM) != first._on_signal

    second = Trainer(cfg)
    second.run(resume=True)
    assert second.iteration == 8
    assert weights_equal(state(second), state(full), atol=1e-6)
    a = records(Path(full.run_dir))
    b = records(Path(second.run_dir))
    assert [r["iteration"] for r in b] == list(range(1, 9))
    for ra, rb in zip(a, b):
        for key in ("loss", "l_pix", "l_adv", "l_d"):
            assert rb[key] == pytest.approx(ra[key], rel=1e-5, abs=1e-7)


def wait_for(predicate, timeout: float = 300.0, proc: subprocess.Popen | None = None) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"training exited early: {proc.communicate()}")
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for the training process")
        time.sleep(0.2)


def cli_args(cfg, *extra: str) -> list[str]:
    return ["train", "--preset", "tiny-test", "--data", cfg.data[0], "--out", cfg.out,
            "--set", "val=null", "--set", "log_every=1", *extra]


def test_kill_9_leaves_a_readable_checkpoint_and_resume_matches(tmp_path):
    cfg = tiny_config(tmp_path, val=None)
    run_dir = Path(cfg.out) / cfg.name
    proc = subprocess.Popen(gensr_command(*cli_args(cfg, "--iterations", "100000", "--set", "checkpoint_every=3")),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: (run_dir / "checkpoint.pt").exists() and len(records(run_dir)) >= 7, proc=proc)
    finally:
        proc.kill()  # SIGKILL: no handler runs
        proc.communicate()
    ckpt = load_checkpoint(run_dir / "checkpoint.pt")
    done = ckpt["iteration"]
    assert done >= 3 and done % 3 == 0

    target = done + 2
    rc = subprocess.run(gensr_command(*cli_args(cfg, "--iterations", str(target), "--resume")),
                        capture_output=True, text=True, timeout=600)
    assert rc.returncode == 0, rc.stderr
    assert f"resumed {run_dir / 'checkpoint.pt'} at iteration {done}" in rc.stderr
    resumed = gensr.load_model(str(run_dir / "tiny-test.safetensors"))

    straight = Trainer(tiny_config(tmp_path / "straight", val=None, iterations=target))
    straight.run()
    assert weights_equal(resumed.state_dict(), straight.ema.state_dict(), atol=1e-6)


def test_sigterm_to_the_cli_saves_a_checkpoint_and_exits_130(tmp_path):
    cfg = tiny_config(tmp_path, val=None)
    run_dir = Path(cfg.out) / cfg.name
    proc = subprocess.Popen(gensr_command(*cli_args(cfg, "--iterations", "100000", "--set", "checkpoint_every=100000")),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: (run_dir / "log.jsonl").exists() and len(records(run_dir)) >= 2, proc=proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130
    assert "checkpoint saved, continue with --resume" in err
    ckpt = load_checkpoint(run_dir / "checkpoint.pt")
    assert ckpt["iteration"] == records(run_dir)[-1]["iteration"]


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", None])
def test_a_damaged_checkpoint_is_a_one_line_error_that_says_what_to_do(tmp_path, content):
    """``--resume`` on a checkpoint.pt that is empty, not a pickle, or a pickle
    of something else (another program's file) is the user's to fix (delete it
    or drop --resume), said in one line, not a traceback reported as a bug."""
    from gensr.cli.errors import report

    path = tmp_path / "checkpoint.pt"
    if content is None:
        torch.save({"model": {"w": torch.zeros(2)}}, path)  # a weights-only pickle without GenSR's run state
    else:
        path.write_bytes(content)
    with pytest.raises(GenSRError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert str(path) in message and "--resume" in message and "\n" not in message
    assert report("train", caught.value) == 2
