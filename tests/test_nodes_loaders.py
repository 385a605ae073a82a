"""The loader nodes: files from ComfyUI's upscale_models folder and from the
Hub, output usable by ComfyUI's core "Upscale Image (using Model)" node."""
from __future__ import annotations

import pytest
import torch

import gensr
from nodes_helpers import ValidationFailed, fake_comfy, fake_comfy_03, run_node, tiny_model_file  # noqa: F401


def _reference(path, x):
    model = gensr.load_model(path)
    with torch.no_grad():
        return model(x).clamp(0, 1)


def test_loader_lists_and_loads_a_file_from_upscale_models(fake_comfy):
    path = tiny_model_file(fake_comfy.models_dir, "tiny-x2.safetensors", scale=2)
    (model,), _ = run_node("GenSRModelLoader", model_name="tiny-x2.safetensors")
    assert (model.scale, model.input_channels, model.output_channels) == (2, 3, 3)
    assert model.size_requirements.check(7, 5)
    assert model.metadata["gensr.arch"] == "compact" and model.source == str(path)
    x = torch.rand(1, 3, 6, 5)
    torch.testing.assert_close(model(x), _reference(path, x))


def test_loader_rejects_a_name_not_in_the_folder(fake_comfy):
    with pytest.raises(ValidationFailed, match="not in list"):
        run_node("GenSRModelLoader", model_name="missing.safetensors")


def test_unknown_architecture_points_to_the_core_loader(fake_comfy):
    from safetensors.torch import save_file

    save_file({"foo.weight": torch.zeros(3, 3)}, str(fake_comfy.models_dir / "other-arch.safetensors"))
    with pytest.raises(gensr.weights.UnknownArchitectureError, match="Load Upscale Model"):
        run_node("GenSRModelLoader", model_name="other-arch.safetensors")


def test_rrdbnet_x2_pads_to_its_size_multiple(fake_comfy):
    """RRDBNet x2 pixel-unshuffles its input: odd sizes are padded and cropped back."""
    path = tiny_model_file(fake_comfy.models_dir, "rrdb-x2.safetensors", arch="rrdbnet", scale=2)
    (model,), _ = run_node("GenSRModelLoader", model_name="rrdb-x2.safetensors")
    assert model.size_requirements.multiple_of == 2
    out = model(torch.rand(1, 3, 7, 9))
    assert out.shape == (1, 3, 14, 18)
    x = torch.rand(1, 3, 8, 10)
    torch.testing.assert_close(model(x), _reference(path, x))


def test_output_works_in_current_comfyui_core_upscale_node(fake_comfy):
    from nodes_fake_comfy import core_upscale_with_model

    path = tiny_model_file(fake_comfy.models_dir, scale=2)
    (model,), _ = run_node("GenSRModelLoader", model_name=path.name)
    assert model.patcher.model is model.model and model.patcher.load_device == torch.device("cpu")
    image = torch.rand(1, 6, 8, 3)
    out = core_upscale_with_model(model, image)
    ref = _reference(path, image.movedim(-1, 1)).movedim(1, -1)
    torch.testing.assert_close(out, ref)
    assert fake_comfy.calls[0][0] == "load_models_gpu" and fake_comfy.calls[0][1] == [model.patcher]
    assert fake_comfy.progress[-1][:2] == (1, 1)  # one 512 px tile


def test_output_works_in_current_comfyui_core_upscale_node_on_rgba(fake_comfy):
    """The core node splits alpha off, so the model sees RGB; alpha comes back bilinear."""
    from nodes_fake_comfy import core_upscale_with_model

    path = tiny_model_file(fake_comfy.models_dir, scale=2)
    (model,), _ = run_node("GenSRModelLoader", model_name=path.name)
    image = torch.rand(2, 5, 7, 4)
    out = core_upscale_with_model(model, image)
    assert out.shape == (2, 10, 14, 4) and out.dtype == torch.float32
    torch.testing.assert_close(out[..., :3], _reference(path, image[..., :3].movedim(-1, 1)).movedim(1, -1))
    alpha = torch.nn.functional.interpolate(image[..., 3:].movedim(-1, 1), size=(10, 14), mode="bilinear")
    torch.testing.assert_close(out[..., 3:], alpha.movedim(1, -1))


def test_output_works_in_comfyui_03_core_upscale_node(fake_comfy_03):
    from nodes_fake_comfy import core_upscale_with_model_0_3

    path = tiny_model_file(fake_comfy_03.models_dir, scale=2)
    (model,), _ = run_node("GenSRModelLoader", model_name=path.name)
    assert not hasattr(model, "patcher")  # 0.3.x has no model_patcher for upscale models
    image = torch.rand(2, 5, 7, 3)
    out = core_upscale_with_model_0_3(model, image)
    assert out.shape == (2, 10, 14, 3)
    torch.testing.assert_close(out, _reference(path, image.movedim(-1, 1)).movedim(1, -1))
    assert model.device == torch.device("cpu") and model.dtype == torch.float32
    (kind, required, device), = fake_comfy_03.calls
    assert kind == "free_memory" and device == torch.device("cpu") and required > sum(
        p.numel() * p.element_size() for p in model.model.parameters()
    )


def test_descriptor_moves_and_casts_like_spandrels(tmp_path):
    from gensr.nodes.descriptor import as_upscale_model

    path = tiny_model_file(tmp_path, scale=2)
    model = as_upscale_model(gensr.load_model(path))
    assert model.half() is model and model.dtype == torch.float16
    assert model.float().dtype == torch.float32
    assert model.architecture.id == "GenSR-compact" and model.purpose == "SR"
    with pytest.raises(ValueError, match="B, C, H, W"):
        model(torch.rand(3, 4, 4))


def test_loader_outside_comfyui_takes_a_path(tmp_path):
    from gensr.nodes.load_model import GenSRModelLoader

    path = tiny_model_file(tmp_path, scale=2)
    model = GenSRModelLoader.execute(str(path)).args[0]
    assert model.scale == 2 and not hasattr(model, "patcher")
    with pytest.raises(FileNotFoundError, match="not found"):
        GenSRModelLoader.execute(str(tmp_path / "nope.safetensors"))


# ------------------------------------------------------------------ Hub loader


@pytest.mark.parametrize(
    "repo_id, filename, revision, message",
    [
        ("not a repo", "m.safetensors", "main", "owner/name"),
        ("alice/sr", "../m.safetensors", "main", "file path inside"),
        ("alice/sr", "m.safetensors", " ", "revision"),
    ],
)
def test_hub_loader_validation_says_what_is_wrong(repo_id, filename, revision, message):
    with pytest.raises(ValidationFailed, match=message):
        run_node("GenSRHubModelLoader", repo_id=repo_id, filename=filename, revision=revision)


def test_hub_loader_downloads_once_then_works_offline(tmp_path, monkeypatch):
    from hub_server import FakeHub

    data = tiny_model_file(tmp_path, "hub.safetensors", scale=2).read_bytes()
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with FakeHub() as hub:
        hub.commit("alice/sr", {"x2.safetensors": data})
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        (model,), _ = run_node("GenSRHubModelLoader", repo_id="alice/sr", filename="x2.safetensors", revision="main")
        assert model.scale == 2
        (same,), _ = run_node("GenSRHubModelLoader", repo_id="alice/sr", filename="", revision="main")
        assert same.scale == 2
    # the server is gone (no network): the cached file is used, without HF_HUB_OFFLINE being set
    (again,), _ = run_node("GenSRHubModelLoader", repo_id="alice/sr", filename="x2.safetensors", revision="main")
    for a, b in zip(model.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)


def test_hub_loader_without_huggingface_hub_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install huggingface-hub"):
        run_node("GenSRHubModelLoader", repo_id="alice/sr", filename="x2.safetensors", revision="main")


def test_bundled_model_is_listed_first_and_loads(fake_comfy):
    from gensr.nodes.load_model import BUNDLED_MODEL, bundled_model_path

    if bundled_model_path() is None:
        pytest.skip("this checkout has no bundled model file")
    names = gensr.NODE_CLASS_MAPPINGS["GenSRModelLoader"].INPUT_TYPES()["required"]["model_name"][0]
    assert names[0] == BUNDLED_MODEL
    (model,), _ = run_node("GenSRModelLoader", model_name=BUNDLED_MODEL)
    assert model.scale == 4 and model.input_channels == 3
