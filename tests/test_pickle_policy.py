"""Weight pickles, from disk and from the Hub, and the Hub loader node.

* weights-only pickles load from the Hub as from disk (torch >= 2.6);
* a pickle that needs code is refused everywhere, and its code never runs;
* on torch < 2.6 every pickle is refused (CVE-2025-32434), a Hub one before
  it is downloaded, with an error that says to upgrade torch or convert it;
* the Hub node loads a .safetensors and a .pth from the loopback Hub and its
  output matches the parity reference (computed by spandrel 0.4.2).
"""
from __future__ import annotations

import io
import pathlib

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_save

import gensr
from gensr.sr_core.archs import ARCHITECTURES
from gensr.weights.errors import HubUnsafeFileError, UnsafeWeightFileError
from hub_env import fake_hub, hub_home, no_outside_network  # noqa: F401  (pytest fixtures)
from nodes_helpers import run_node


def parity(shared, name: str):
    """(state dict, input, reference output) of a parity file."""
    with safe_open(str(shared("weights", "parity", name)), framework="pt") as f:
        sd = {k[3:]: f.get_tensor(k) for k in f.keys() if k.startswith("sd.")}
        return sd, f.get_tensor("input"), f.get_tensor("output")


def pth_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


class TouchOnLoad:
    """Pickles as a call that creates a file: proof whether unpickling ran code."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def code_carrying_pickle(marker: pathlib.Path) -> bytes:
    sd = gensr.sr_core.archs.SRVGGNetCompact(num_feat=4, num_conv=1, scale=2).state_dict()
    return pth_bytes({"params": sd, "extra": TouchOnLoad(marker)})


def _node_output(repo_id: str, filename: str, x: torch.Tensor) -> tuple:
    (model,), _ = run_node("GenSRHubModelLoader", repo_id=repo_id, filename=filename, revision="main")
    with torch.no_grad():
        return model, model(x)


@pytest.mark.parametrize("name", ["rrdb_x4_new.safetensors", "span_x4.safetensors"], ids=["rrdbnet", "span"])
def test_hub_node_loads_safetensors_and_weights_only_pth(fake_hub, shared, name):
    if name.startswith("span") and "span" not in ARCHITECTURES:
        pytest.skip("GenSR's SPAN (sr_core/archs/span) is not merged yet")
    sd, x, expected = parity(shared, name)
    repo = f"carol/{name.split('_')[0]}"
    fake_hub.commit(repo, {"model.safetensors": safetensors_save(sd), "model.pth": pth_bytes({"params": sd})})
    for filename in ("model.safetensors", "model.pth"):
        model, y = _node_output(repo, filename, x)
        assert model.scale == 4, filename
        torch.testing.assert_close(y, expected.clamp(0, 1), atol=1e-4, rtol=0, msg=filename)


def test_code_carrying_pickle_is_refused_from_disk_and_hub_and_runs_nothing(fake_hub, tmp_path):
    marker = tmp_path / "code-ran"
    data = code_carrying_pickle(marker)
    local = tmp_path / "evil.pth"
    local.write_bytes(data)
    with pytest.raises(UnsafeWeightFileError, match="cannot be read safely.*nothing in it was executed"):
        gensr.load_model(local)
    fake_hub.commit("mallory/sr", {"evil.pth": data})
    with pytest.raises(UnsafeWeightFileError, match="nothing in it was executed"):
        gensr.load_model("hf://mallory/sr/evil.pth")
    with pytest.raises(UnsafeWeightFileError, match="nothing in it was executed"):
        run_node("GenSRHubModelLoader", repo_id="mallory/sr", filename="evil.pth", revision="main")
    assert not marker.exists(), "the pickle's code must never run"
    torch.load(io.BytesIO(data), weights_only=False)  # what an unsafe reader would have done
    assert marker.exists(), "the test pickle does carry code"


@pytest.fixture
def torch_2_5(monkeypatch):
    """This torch pretends to be 2.5.1 (its weights-only reader could run code)."""
    monkeypatch.setattr(torch, "__version__", "2.5.1+cpu")


def test_old_torch_refuses_every_local_pickle_but_reads_safetensors(torch_2_5, tmp_path):
    from gensr.weights import save_model

    model = gensr.sr_core.archs.SRVGGNetCompact(num_feat=4, num_conv=1, scale=2).eval()
    plain = tmp_path / "plain.pth"
    torch.save({"params": model.state_dict()}, plain)
    with pytest.raises(UnsafeWeightFileError) as info:
        gensr.load_model(plain)
    message = str(info.value)
    assert "CVE-2025-32434" in message and "torch (2.5)" in message and 'pip install "torch>=2.6"' in message
    assert "convert the file to .safetensors on a machine that trusts it" in message and "gensr convert --trust-pickle" in message
    assert gensr.load_model(save_model(model, tmp_path / "m.safetensors")).scale == 2


def test_old_torch_refuses_hub_pickles_before_downloading(torch_2_5, fake_hub, tmp_path):
    from gensr.weights import save_model

    model = gensr.sr_core.archs.SRVGGNetCompact(num_feat=4, num_conv=1, scale=2).eval()
    fake_hub.commit("dave/sr", {"m.pth": pth_bytes({"params": model.state_dict()}),
                                "m.safetensors": save_model(model, tmp_path / "m.safetensors").read_bytes()})
    with pytest.raises(HubUnsafeFileError, match=r"CVE-2025-32434.*torch>=2\.6.*It was not downloaded"):
        gensr.load_model("hf://dave/sr/m.pth")
    with pytest.raises(HubUnsafeFileError, match="CVE-2025-32434"):
        run_node("GenSRHubModelLoader", repo_id="dave/sr", filename="m.pth", revision="main")
    assert fake_hub.file_requests("GET") == [] and fake_hub.file_requests("HEAD") == []
    assert gensr.load_model("hf://dave/sr/m.safetensors").scale == 2


def test_current_torch_reads_weights_only_pickles():
    from gensr.weights.safe_read import pickles_are_safe, torch_version

    assert pickles_are_safe() == (torch_version() >= (2, 6))
    assert torch_version() == tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2])
