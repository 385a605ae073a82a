"""Publishing: the generated model card, and `gensr push` against the local Hub-compatible server."""
from __future__ import annotations

import hashlib

import pytest

import gensr
from gensr.cli import main as gensr_main
from gensr.weights.errors import HubRepoNotFoundError
from gensr.weights.model_card import build_model_card
from hub_env import (  # noqa: F401  (pytest fixtures)
    TOKEN,
    fake_hub,
    hub_home,
    no_outside_network,
    same_weights,
    tiny_model,
)

TRAINING_META = {
    "gensr.recipe": {"preset": "compact-x4-psnr", "loss": "l1", "lr": 0.0002},
    "gensr.data": ["T91", "BSD200"],
    "gensr.iterations": 12000,
    "gensr.validation": {"Set5": {"psnr": 30.9123, "ssim": 0.8712}, "Set14": {"psnr": 27.71, "ssim": 0.7601}},
    "gensr.licence": "Apache-2.0",
    "gensr.notes": "a | b",
}


@pytest.fixture
def saved_model(tmp_path):
    model = tiny_model(7)
    path = tmp_path / "tiny-x2.safetensors"
    gensr.save_model(model, path, TRAINING_META)
    return model, path


def parse_card(text: str):
    from huggingface_hub import ModelCard

    return ModelCard(text)


def test_model_card_from_a_saved_model_with_metadata(saved_model):
    model, path = saved_model
    loaded = gensr.load_model(path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    text = build_model_card(loaded, repo_id="alice/tiny-x2", filename=path.name, sha256=sha, size=path.stat().st_size)

    card = parse_card(text)  # huggingface_hub's own parser reads the front matter
    assert card.data.license == "apache-2.0"
    assert card.data.library_name == "gensr" and card.data.pipeline_tag == "image-to-image"
    assert {"super-resolution", "comfyui", "compact", "x2"} <= set(card.data.tags)

    body = card.text
    params = sum(p.numel() for p in model.parameters())
    for expected in (
        "# tiny-x2", "SRVGGNetCompact", "| Scale | 2x |", f"| Parameters | {params:,} |", '"num_conv": 1', sha,
        "| preset | compact-x4-psnr |", "Training data: T91, BSD200", "Iterations: 12,000",
        "| Data | psnr | ssim |", "| Set5 | 30.9123 | 0.8712 |", "| Set14 | 27.71 | 0.7601 |",
        "| gensr.notes | a \\| b |",
        'gensr.load_model("hf://alice/tiny-x2/tiny-x2.safetensors")', "repo_id` = `alice/tiny-x2`", "upscale_models",
    ):
        assert expected in body, expected


def test_model_card_without_metadata_states_no_licence(tmp_path):
    path = gensr.save_model(tiny_model(), tmp_path / "m.safetensors")
    card = parse_card(build_model_card(gensr.load_model(path), repo_id="bob/m", filename="m.safetensors"))
    assert card.data.license == "other"
    assert "not stated by the publisher" in card.text and "## Training" not in card.text
    card = parse_card(build_model_card(gensr.load_model(path), repo_id="bob/m", filename="m.safetensors", licence="MIT"))
    assert card.data.license == "mit"


def test_push_uploads_weights_and_card_that_load_back(fake_hub, saved_model, capsys):
    model, path = saved_model
    assert gensr_main(["push", str(path), "alice/new-sr", "--token", TOKEN]) == 0
    out = capsys.readouterr().out
    repo = fake_hub.repos["alice/new-sr"]
    files = repo.commits[repo.refs["main"]]
    assert files[path.name] == path.read_bytes()
    assert parse_card(files["README.md"].decode()).data.license == "apache-2.0"
    assert repo.refs["main"] in out and "sha256" in out

    loaded = gensr.load_model(f"hf://alice/new-sr/{path.name}")
    assert same_weights(loaded, model) and loaded.metadata["gensr.iterations"] == 12000


def test_push_private_to_a_branch_keeps_an_existing_card(fake_hub, saved_model, capsys):
    model, path = saved_model
    fake_hub.commit("alice/priv", {"README.md": b"# my own card\n"}, private=True)
    assert gensr_main(["push", str(path), "alice/priv", "--private", "--token", TOKEN, "--revision", "dev",
                       "--path-in-repo", "x2/model.safetensors"]) == 0
    assert "kept the repository's existing README.md" in capsys.readouterr().out
    repo = fake_hub.repos["alice/priv"]
    dev = repo.commits[repo.refs["dev"]]
    assert dev["README.md"] == b"# my own card\n" and "x2/model.safetensors" in dev
    assert "x2/model.safetensors" not in repo.commits[repo.refs["main"]]
    with pytest.raises(HubRepoNotFoundError):
        gensr.load_model("hf://alice/priv/x2/model.safetensors@dev")
    assert same_weights(gensr.load_model("hf://alice/priv/x2/model.safetensors@dev", token=TOKEN), model)

    assert gensr_main(["push", str(path), "alice/priv", "--token", TOKEN, "--revision", "dev",
                       "--path-in-repo", "x2/model.safetensors", "--overwrite-card"]) == 0
    assert repo.commits[repo.refs["dev"]]["README.md"].startswith(b"---\nlicense:")


def test_push_without_token_or_a_pickle_fails_clearly(fake_hub, saved_model, tmp_path, capsys):
    model, path = saved_model
    assert gensr_main(["push", str(path), "alice/new-sr"]) == 2
    err = capsys.readouterr().err
    assert "refused the upload to alice/new-sr" in err and "hf auth login" in err and "\n" == err[-1] and err.count("\n") == 1
    assert "alice/new-sr" not in fake_hub.repos

    pth = tmp_path / "m.pth"
    pth.write_bytes(b"not used")
    assert gensr_main(["push", str(pth), "alice/new-sr", "--token", TOKEN]) == 2
    assert "gensr convert" in capsys.readouterr().err


def test_push_dry_run_prints_the_card_and_sends_nothing(fake_hub, saved_model, capsys):
    model, path = saved_model
    assert gensr_main(["push", str(path), "alice/dry", "--dry-run", "--license", "mit"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("---\nlicense: \"mit\"") and "would upload" in out
    assert fake_hub.requests == []
