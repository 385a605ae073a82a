"""Devices: the model's device and the output's device may differ in every
combination (a GPU model writing into ComfyUI's CPU IMAGE is the common case),
checked on a strict pretend second device (tests/second_device.py), and the
model's converted weights are made once per (model, device, dtype) and kept
while the model lives."""
from __future__ import annotations

import copy
import gc
import itertools

import pytest
import torch

from gensr.sr_core.archs import SRVGGNetCompact
from gensr.sr_core.upscale import converted_weights_bytes, forget_converted_weights, upscale
from gensr.sr_core.upscale import run as run_mod
from second_device import OnDevice, second_device

SECOND = "meta"


def _compact(seed=0):
    torch.manual_seed(seed)
    return SRVGGNetCompact(num_feat=8, num_conv=2, scale=2).eval()


def _direct(model, x):
    with torch.no_grad():
        return model(x).clamp(0, 1)


def _on(x, where):
    return x.to(torch.device(SECOND)) if where == "second" else x


def _cpu(t):
    return t.to("cpu") if isinstance(t, OnDevice) else t


@pytest.mark.parametrize("compute, image_at, out_at", list(itertools.product(("cpu", "second"), repeat=3)))
def test_every_device_combination_writes_the_same_result(monkeypatch, compute, image_at, out_at):
    model = _compact()
    x = torch.rand(2, 3, 20, 26, generator=torch.Generator().manual_seed(1))
    alpha = torch.rand(2, 1, 20, 26, generator=torch.Generator().manual_seed(2))
    ref = _direct(model, x)
    with second_device(monkeypatch) as mode:
        image = _on(torch.cat((x, alpha), 1), image_at)  # RGBA: alpha takes its own path to the output
        device = torch.device(SECOND) if compute == "second" else torch.device("cpu")
        out_device = torch.device(SECOND) if out_at == "second" else torch.device("cpu")
        out = upscale(model, image, tile=16, precision="fp32", device=device, out_device=out_device,
                      memory_budget=1 << 26, channels_last=False)
        out8 = upscale(model, image, tile=16, precision="fp32", device=device, out_device=out_device,
                       memory_budget=1 << 26, channels_last=False, out_dtype=torch.uint8)
        assert out.device.type == out_device.type and out8.device.type == out_device.type
        out, out8 = _cpu(out), _cpu(out8)
    assert mode.mixed_ops == []
    assert mode.unsynced_host_copies == [], "a non_blocking copy to the host was read before it completed"
    assert out.shape == (2, 4, 40, 52)
    assert float((out[:, :3] - ref).abs().max()) < 1e-5
    assert torch.equal(out8[:, :3], (ref * 255).round().to(torch.uint8))
    assert float(out[:, 3:].min()) >= 0 and float(out[:, 3:].max()) <= 1


def test_a_caller_out_on_the_cpu_from_a_second_device_model(monkeypatch):
    """The GenSR Upscale node's case: the model on the GPU, frames written
    straight into a CPU batch (BHWC) with ``out=``."""
    model = _compact()
    frames = torch.rand(2, 18, 22, 3, generator=torch.Generator().manual_seed(3))
    result = torch.zeros(2, 36, 44, 3)
    with second_device(monkeypatch):
        gpu_model = copy.deepcopy(model).to(torch.device(SECOND))
        for i in range(2):
            upscale(gpu_model, frames[i: i + 1], out=result[i: i + 1], tile=10, overlap=4, precision="fp32",
                    memory_budget=1 << 26)
    ref = _direct(model, frames.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    assert float((result - ref).abs().max()) < 1e-5


def test_weights_are_converted_once_across_calls_and_frames(monkeypatch):
    model = _compact()
    copies = []
    real_deepcopy = copy.deepcopy
    monkeypatch.setattr(run_mod.copy, "deepcopy", lambda m: copies.append(m) or real_deepcopy(m))
    x = torch.rand(3, 3, 14, 14, generator=torch.Generator().manual_seed(4))
    numel = sum(t.numel() for t in list(model.parameters()) + list(model.buffers()))
    # Before the copy exists, what it will take is asked for (bf16: 2 bytes a value) ...
    assert run_mod.weights_memory_required(model, "cpu", "bf16") == 2 * numel
    first = upscale(model, x, precision="bf16", tile=10)
    for _ in range(4):
        again = upscale(model, x, precision="bf16", tile=10)
    assert len(copies) == 1, "one bf16 copy for 5 calls of 3 frames"
    assert torch.equal(first, again)
    # The copy is counted: the model's parameters and buffers in bf16 ...
    assert converted_weights_bytes(model) == 2 * numel
    assert converted_weights_bytes(model, "cpu") == 2 * numel
    # ... and, once made, not asked for again (the device already reports it as used).
    assert run_mod.weights_memory_required(model, "cpu", "bf16") == 0
    assert run_mod.weights_memory_required(model, "cpu", "fp32") == 0  # runs as it is

    # Moving the model (new tensors, same values), as ComfyUI does, keeps the copy.
    model.double().float()
    upscale(model, x, precision="bf16", tile=10)
    assert len(copies) == 1
    # Changed weights make a new copy, and the result follows them.
    with torch.no_grad():
        model.body[0].weight.mul_(0.5)
    changed = upscale(model, x, precision="bf16", tile=10)
    assert len(copies) == 2 and not torch.equal(changed, first)
    assert converted_weights_bytes(model) == 2 * numel  # the stale copy was replaced, not kept


def test_converted_weights_live_as_long_as_the_model():
    forget_converted_weights()
    model = _compact(seed=5)
    upscale(model, torch.rand(1, 3, 12, 12), precision="bf16")
    assert converted_weights_bytes() > 0
    del model
    gc.collect()
    assert converted_weights_bytes() == 0


def test_the_cache_survives_a_round_trip_to_another_device(monkeypatch):
    model = _compact(seed=6)
    copies = []
    real_deepcopy = copy.deepcopy
    monkeypatch.setattr(run_mod.copy, "deepcopy", lambda m: copies.append(m) or real_deepcopy(m))
    x = torch.rand(1, 3, 12, 12)
    with second_device(monkeypatch):
        upscale(model, x, precision="bf16", device="cpu")
        model.to(torch.device(SECOND))  # ComfyUI loads the model on the GPU ...
        model.to("cpu")  # ... and offloads it again
        upscale(model, x, precision="bf16", device="cpu")
    assert len(copies) == 1


def test_threads_follow_what_the_cpu_has_free_and_are_restored(monkeypatch):
    from gensr.sr_core.archs import bands
    from gensr.sr_core.upscale import devices

    monkeypatch.setattr(devices, "_our_cpus", lambda: 4)
    seen = []
    model = _compact()
    normal = bands.band_rows(64, 8)

    def spy(done, total):  # progress runs inside the call: (threads, band height factor)
        seen.append((torch.get_num_threads(), bands.band_rows(64, 8) // normal))

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(4)
        monkeypatch.setattr(devices, "_running_elsewhere", lambda: 3)  # three of our four CPUs busy
        upscale(model, torch.rand(1, 3, 8, 8), progress=spy)
        assert seen[-1] == (1, 1) and torch.get_num_threads() == 4
        monkeypatch.setattr(devices, "_running_elsewhere", lambda: 0)  # a quiet machine: all of them
        upscale(model, torch.rand(1, 3, 8, 8), progress=spy)
        assert seen[-1] == (4, 1)
        monkeypatch.setattr(devices, "_running_elsewhere", lambda: 9)  # oversubscribed, a streaming model
        upscale(model, torch.rand(1, 3, 8, 8), progress=spy)
        assert seen[-1] == (4, devices.OVERSUBSCRIBED_BANDS)
        assert devices.cpu_plan("auto", streams=False) == (1, 1)  # others: one thread
        monkeypatch.setattr(devices, "_running_elsewhere", lambda: 1)  # one busy: the other three, taller bands
        upscale(model, torch.rand(1, 3, 8, 8), progress=spy)
        assert seen[-1] == (3, devices.BUSY_BANDS)
        upscale(model, torch.rand(1, 3, 8, 8), progress=spy, threads=2)
        assert seen[-1] == (2, 1) and torch.get_num_threads() == 4
        assert bands.band_rows(64, 8) == normal, "bands back to normal after the call"
    finally:
        torch.set_num_threads(before)


def test_staged_copies_are_complete_when_the_writer_finishes(monkeypatch):
    """The CUDA-to-CPU path of the writer (pinned staging, copies that finish
    later), with stand-ins for CUDA's streams and events: the output holds
    every result once ``finish`` returns, and at most ``in_flight`` copies wait."""
    from gensr.sr_core.upscale import write

    events = []

    class Event:  # a copy that completes only when waited for
        def __init__(self):
            self.done = False
            events.append(self)

        def record(self, stream=None):
            pass

        def query(self):
            return self.done

        def synchronize(self):
            self.done = True

    class Stream:
        def __init__(self, *a, **k):
            pass

        def wait_stream(self, other):
            pass

    import contextlib

    monkeypatch.setattr(torch.cuda, "Stream", Stream)
    monkeypatch.setattr(torch.cuda, "Event", Event)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: Stream())
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())
    monkeypatch.setattr(torch.Tensor, "record_stream", lambda self, s: None)
    monkeypatch.setattr(write, "same_device", lambda a, b: False)  # results "come from the GPU"
    out = torch.zeros(1, 3, 8, 32, dtype=torch.uint8)
    w = write.Writer(out, torch.device("cuda", 0), clamp=True, in_flight=2)
    parts = [torch.rand(3, 8, 4) for _ in range(8)]
    for i, p in enumerate(parts):
        w.put(0, slice(0, 3), (0, 8, 4 * i, 4 * i + 4), p)
        assert len(w.pending) <= 2
    w.finish()
    assert not w.pending and all(e.done for e in events)
    assert torch.equal(out[0], torch.cat([(p.clamp(0, 1) * 255).round().to(torch.uint8) for p in parts], -1))
