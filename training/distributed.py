"""Multi-process training with ``torchrun`` (PyTorch DDP): gloo on CPU, NCCL on
CUDA, one process per device, each reading its own shard of the images.

``torchrun --nproc_per_node=N -m gensr.cli train ...`` (or the ``gensr`` script)
sets RANK, WORLD_SIZE, LOCAL_RANK and MASTER_ADDR/PORT; ``gensr train`` sees
them and joins the group. Multi-node runs add ``--nnodes`` and a rendezvous
endpoint as usual.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and "MASTER_ADDR" in os.environ


def init_distributed(device: str = "auto", backend: Optional[str] = None) -> DistInfo:
    """Join the process group torchrun set up (no-op for a single process).
    Returns this process's rank, the world size and its local rank."""
    if not launched_by_torchrun():
        return DistInfo()
    world = int(os.environ["WORLD_SIZE"])
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", 0))
    if world <= 1:
        return DistInfo(rank, world, local)
    use_cuda = torch.cuda.is_available() and device in ("auto", "cuda") or str(device).startswith("cuda")
    if backend is None:
        backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistInfo(rank, world, local)


def device_for(info: DistInfo, device: str) -> Optional[str]:
    """The device a rank should use: its own GPU under torchrun on CUDA."""
    if info.enabled and torch.cuda.is_available() and device in ("auto", "cuda"):
        return f"cuda:{info.local_rank}"
    return None


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on any (e.g. a stop signal)."""
    if not (dist.is_available() and dist.is_initialized()):
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
