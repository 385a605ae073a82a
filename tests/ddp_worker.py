"""Run by tests/test_training_distributed.py under torchrun: ``gensr train`` as
each process would, then every rank dumps its weights and data shard."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conftest  # noqa: E402,F401  (makes `gensr` this checkout)
import torch  # noqa: E402

torch.set_num_threads(1)

import gensr.training.loop as loop  # noqa: E402
from gensr.cli import main  # noqa: E402

dump_dir = Path(sys.argv[1])
original_run = loop.Trainer.run
original_data = loop.Trainer._data


def run_and_dump(self, resume: bool = False):
    path = original_run(self, resume)
    state = {"generator": self.generator.state_dict(), "ema": self.ema.state_dict(),
             "world_size": self.world_size, "shard": self.shard}
    if self.losses.discriminator is not None:
        state["discriminator"] = self.losses.discriminator.state_dict()
    torch.save(state, dump_dir / f"rank{self.rank}.pt")
    return path


def data_and_record(self, start):
    loader = original_data(self, start)
    self.shard = [str(p) for p in loader.dataset.files]
    return loader


loop.Trainer.run = run_and_dump
loop.Trainer._data = data_and_record
sys.exit(main(sys.argv[2:]))
