"""Adding an architecture means adding one registry entry: an architecture
registered here (in the test) is found by the loader, the engine and the CLI's help."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

import gensr
from gensr.cli import main as gensr_main
from gensr.sr_core.archs import ARCHITECTURES, Architecture, architecture_of, register
from gensr.sr_core.archs.registry import unregister
from gensr.sr_core.upscale import model_spec


class ShuffleNet(nn.Module):
    """conv3x3 -> ReLU -> conv3x3 -> pixel shuffle; needs even sizes (size_multiple 2)."""

    arch = "shufflenet-test"
    size_multiple = 2

    def __init__(self, num_feat: int = 4, scale: int = 2) -> None:
        super().__init__()
        self.scale, self.in_channels, self.out_channels = scale, 3, 3
        self.config = {"num_feat": num_feat, "scale": scale}
        self.shuffle_head = nn.Conv2d(3, num_feat, 3, padding=1)
        self.shuffle_tail = nn.Conv2d(num_feat, 3 * scale * scale, 3, padding=1)

    def forward(self, x):
        return F.pixel_shuffle(self.shuffle_tail(F.relu(self.shuffle_head(x))), self.scale)


def detect_shufflenet(sd):
    if set(sd) != {"shuffle_head.weight", "shuffle_head.bias", "shuffle_tail.weight", "shuffle_tail.bias"}:
        return None
    num_feat = sd["shuffle_head.weight"].shape[0]
    scale = int((sd["shuffle_tail.weight"].shape[0] // 3) ** 0.5)
    return {"num_feat": int(num_feat), "scale": scale}, sd


@pytest.fixture
def registered():
    calls = []

    def context(module):
        calls.append(module)
        return 2  # two 3x3 convolutions: 2 input pixels each side

    arch = register(Architecture(
        id=ShuffleNet.arch, name="ShuffleNet (test architecture)", model=ShuffleNet,
        detect=detect_shufflenet, exact_context=context,
    ))
    yield arch, calls
    unregister(arch.id)


def _file(tmp_path):
    torch.manual_seed(0)
    reference = ShuffleNet(num_feat=4, scale=2).eval()
    path = tmp_path / "shufflenet.safetensors"
    save_file(reference.state_dict(), str(path))
    return reference, path


def test_loader_builds_it(registered, tmp_path):
    arch, _ = registered
    reference, path = _file(tmp_path)
    model = gensr.load_model(path)
    assert isinstance(model, ShuffleNet) and model.config == {"num_feat": 4, "scale": 2}
    x = torch.rand(1, 3, 10, 12)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), atol=0, rtol=0)


def test_engine_asks_the_registry(registered, tmp_path):
    arch, context_calls = registered
    reference, path = _file(tmp_path)
    model = gensr.load_model(path)
    assert architecture_of(model) is arch
    assert model_spec(model).multiple == arch.size_rules(model).multiple == 2
    x = torch.rand(1, 3, 30, 26, generator=torch.Generator().manual_seed(1))
    tiled = gensr.upscale(model, x, tile=12, precision="fp32")
    assert context_calls, "the engine took the context from the architecture"
    with torch.no_grad():
        whole = reference(x).clamp(0, 1)
    torch.testing.assert_close(tiled, whole, atol=1e-6, rtol=0)  # the declared context makes tiling exact


def test_cli_help_and_models_list_it(registered, capsys):
    with pytest.raises(SystemExit):
        gensr_main(["upscale", "--help"])
    help_text = "".join(capsys.readouterr().out.split())  # argparse wraps lines (also at hyphens)
    for a in ARCHITECTURES.values():
        assert "".join(a.name.split()) in help_text
    assert "ShuffleNet(testarchitecture)" in help_text
    assert gensr_main(["models"]) == 0
    assert "ShuffleNet (test architecture)" in capsys.readouterr().out


def test_unregistered_it_is_unknown(tmp_path):
    _, path = _file(tmp_path)
    assert ShuffleNet.arch not in ARCHITECTURES
    with pytest.raises(gensr.weights.UnknownArchitectureError):
        gensr.load_model(path)
