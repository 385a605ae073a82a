"""EMA of the generator's weights: plain decay, and the warm-up that keeps a
short run's average from being its random start."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from gensr.training.ema import EMA
from gensr.training.loop import Trainer
from training_env import tiny_config


def _scalar_model(value: float) -> nn.Module:
    m = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        m.weight.fill_(value)
    return m


@pytest.mark.parametrize("warmup, expected", [(False, 0.001), (True, 9 / 11)])
def test_first_update_moves_the_average_by_one_minus_decay(warmup, expected):
    model = _scalar_model(0.0)
    ema = EMA(model, 0.999, warmup=warmup)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model, 1)
    # by hand: decay 0.999 -> 0.001 of the new weight; warm-up: decay (1+1)/(10+1) = 2/11 -> 9/11
    assert ema.module.weight.item() == pytest.approx(expected, rel=1e-6)


def test_warmup_decay_rises_to_the_configured_decay():
    ema = EMA(_scalar_model(0.0), 0.99, warmup=True)
    assert ema.decay_at(10) == pytest.approx(11 / 20)
    assert ema.decay_at(890) == pytest.approx(0.99)  # (1+n)/(10+n) passes 0.99 at n = 881
    assert ema.decay_at(10**6) == 0.99


def _distance(a: dict, b: dict) -> float:
    return sum(float((a[k].float() - b[k].float()).pow(2).sum()) for k in a if a[k].is_floating_point()) ** 0.5


@pytest.mark.parametrize("warmup", [False, True])
def test_a_short_runs_average_follows_its_weights_only_with_warmup(tmp_path, warmup, monkeypatch):
    cfg = tiny_config(tmp_path, iterations=20, val=None, ema_decay=0.999, ema_warmup=warmup, checkpoint_every=20)
    trainer = Trainer(cfg)
    start = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    numbers = []
    update = EMA.update
    monkeypatch.setattr(EMA, "update", lambda self, model, n=1: (numbers.append(n), update(self, model, n)))
    trainer.run()
    assert numbers == list(range(1, 21))  # each update knows its step, which the warm-up needs
    raw, avg = trainer.generator.state_dict(), trainer.ema.state_dict()
    travelled = _distance(start, raw)
    assert travelled > 0
    if warmup:  # the average sits near the recent weights
        assert _distance(avg, raw) < 0.5 * travelled
    else:  # 20 updates of 0.001 leave ~98% of the start
        assert _distance(avg, start) < 0.05 * travelled
