"""What a training run keeps when things go wrong or are repeated: a NaN loss is
caught before it reaches the weights or the EMA, ``--resume`` on a finished run
exports the same metadata as the first export, and best.safetensors holds the
EMA weights of the best validation."""
from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from gensr.training import losses as training_losses
from gensr.training.loop import Trainer
from training_env import tiny_config


def metadata(path) -> dict:
    with safe_open(str(path), "pt") as f:
        return dict(f.metadata())


def snapshot(trainer: Trainer) -> dict[str, torch.Tensor]:
    out = {f"g.{k}": v.detach().clone() for k, v in trainer.generator.state_dict().items()}
    out.update({f"ema.{k}": v.detach().clone() for k, v in trainer.ema.module.state_dict().items()})
    if trainer.losses.discriminator is not None:  # its parameters (spectral norm's power-iteration buffers move on every forward)
        out.update({f"d.{k}": v.detach().clone() for k, v in trainer.losses.discriminator.named_parameters()})
    return out


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def all_finite(state: dict) -> bool:
    return all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def poison_generator_loss(trainer: Trainer, at: int) -> None:
    """Make the generator loss NaN (through the graph, so its gradients are NaN too) at 0-based iteration ``at``."""
    real = trainer.losses.generator_loss

    def loss(out, hr, iteration, *rest):
        value, logs = real(out, hr, iteration, *rest)
        if iteration == at:
            value = value * float("nan")
            logs["loss"] = float(value.detach())
        return value, logs

    trainer.losses.generator_loss = loss


def record_states(trainer: Trainer) -> list[dict]:
    """States after each finished step (index 0: before the first)."""
    states = [snapshot(trainer)]
    step = trainer.train_step

    def recorded(lr, hr):
        logs = step(lr, hr)
        states.append(snapshot(trainer))
        return logs

    trainer.train_step = recorded
    return states


def test_nan_loss_stops_the_run_before_the_step(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, iterations=6, val=None, checkpoint_every=100))
    poison_generator_loss(trainer, at=2)
    states = record_states(trainer)
    with pytest.raises(FloatingPointError, match=r"loss became nan at iteration 3\b"):
        trainer.run()
    assert len(states) == 3  # before, after iterations 1 and 2
    now = snapshot(trainer)
    assert all_finite(now) and same(now, states[-1]), "the NaN step changed the generator or its EMA"


def test_nan_loss_can_skip_the_step_and_say_which(tmp_path, capsys):
    trainer = Trainer(tiny_config(tmp_path, iterations=5, val=None, checkpoint_every=100, log_every=100,
                                  nonfinite_loss="skip"))
    poison_generator_loss(trainer, at=2)
    states = record_states(trainer)
    path = trainer.run()
    assert len(states) == 6 and all(all_finite(s) for s in states)
    assert same(states[3], states[2]), "the skipped step (iteration 3) changed the weights"
    assert not same(states[4], states[3]), "training goes on after the skipped step"
    assert "iteration 3: loss is nan; this step's update was skipped" in capsys.readouterr().err
    records = [json.loads(l) for l in (trainer.run_dir / "log.jsonl").read_text().splitlines()]
    assert {"iteration": 3, "skipped": "loss"}.items() <= next(r for r in records if r.get("skipped")).items()
    assert all(math.isfinite(v) for v in load_file(str(path)).values() for v in v.flatten().tolist())


def test_nan_discriminator_loss_stops_before_the_discriminator_steps(tmp_path, monkeypatch):
    trainer = Trainer(tiny_config(tmp_path, preset="tiny-test-gan", iterations=4, val=None, checkpoint_every=100,
                                  discriminator_config={"num_feat": 4}))
    real = training_losses.discriminator_loss
    calls = []

    def d_loss(kind, real_logits, fake_logits):
        calls.append(1)
        value = real(kind, real_logits, fake_logits)
        return value * float("nan") if len(calls) == 2 else value

    monkeypatch.setattr(training_losses, "discriminator_loss", d_loss)
    states = record_states(trainer)
    before = {k: v for k, v in snapshot(trainer).items() if k.startswith("d.")}
    with pytest.raises(FloatingPointError, match=r"l_d became nan at iteration 2\b"):
        trainer.run()
    d_now = {k: v for k, v in snapshot(trainer).items() if k.startswith("d.")}
    d_after_1 = {k: v for k, v in states[1].items() if k.startswith("d.")}
    assert not same(d_after_1, before), "the discriminator trains in iteration 1"
    assert same(d_now, d_after_1) and all_finite(d_now)


def test_unknown_nonfinite_policy_is_refused(tmp_path):
    with pytest.raises(ValueError, match="nonfinite_loss"):
        Trainer(tiny_config(tmp_path, nonfinite_loss="ignore"))


def test_resume_of_a_finished_run_exports_the_same_metadata(tmp_path):
    cfg = tiny_config(tmp_path, iterations=4, val_every=2, checkpoint_every=2, log_every=2)
    first = Trainer(cfg).run()
    meta, weights = metadata(first), load_file(str(first))
    assert json.loads(meta["gensr.validation"])["images"] == 2
    again = Trainer(cfg)
    assert again.run(resume=True) == first and again.iteration == 4
    assert metadata(first) == meta
    assert same(load_file(str(first)), weights)


def test_best_validation_weights_are_kept(tmp_path):
    """Scripted validation scores (rise, then fall): best.safetensors holds the EMA of the best one."""
    cfg = tiny_config(tmp_path, iterations=30, val_every=10, checkpoint_every=10, log_every=10)
    trainer = Trainer(cfg)
    scripted = iter([20.0, 25.0, 22.0, 21.0])  # iterations 0, 10, 20, 30
    ema_at = {}
    validate = trainer.validate

    def scripted_validate():
        real = validate()
        ema_at[trainer.iteration] = {k: v.clone() for k, v in trainer.ema.module.state_dict().items()}
        return {**real, "psnr": next(scripted)}

    trainer.validate = scripted_validate
    final = trainer.run()
    best = trainer.run_dir / "best.safetensors"
    meta = metadata(best)
    assert json.loads(meta["gensr.validation"])["psnr"] == 25.0 and meta["gensr.iterations"] == "10"
    saved = load_file(str(best))
    assert same(saved, {k: v.contiguous() for k, v in ema_at[10].items()})
    assert not same(saved, load_file(str(final))), "best is not simply the final export"
    assert json.loads(metadata(final)["gensr.validation"])["psnr"] == 21.0

    resumed = Trainer(cfg)  # the record of the best survives a resume
    resumed.run(resume=True)
    assert resumed.best == {"iteration": 10, "psnr": 25.0}
