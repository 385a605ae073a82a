"""force_download=True reports "offline" only when the Hub really cannot be
reached (offline mode, no connection); an answer from the Hub (no such
repository, no access, a server error) is reported as what it is."""
from __future__ import annotations

import pytest

import gensr
from gensr.weights.errors import HubAccessError, HubDownloadError, HubOfflineError, HubRepoNotFoundError
from hub_env import (  # noqa: F401  (pytest fixtures)
    TOKEN,
    fake_hub,
    hub_home,
    no_outside_network,
    no_retry_sleep,
    safetensors_bytes,
    same_weights,
    tiny_model,
)

REPO = "alice/tiny-sr"
FILE = "tiny.safetensors"


@pytest.fixture
def published(fake_hub, tmp_path):
    model = tiny_model(0)
    fake_hub.commit(REPO, {FILE: safetensors_bytes(model, tmp_path)})
    fake_hub.commit("alice/private", {FILE: safetensors_bytes(model, tmp_path, "p.safetensors")}, private=True)
    return fake_hub, model


def test_force_download_works_online(published):
    hub, model = published
    assert same_weights(gensr.load_model(f"hf://{REPO}/{FILE}", force_download=True), model)


def test_force_download_of_a_private_repo_without_token_is_not_offline(published):
    with pytest.raises(HubRepoNotFoundError, match="private and needs a token"):
        gensr.load_model(f"hf://alice/private/{FILE}", force_download=True)
    with pytest.raises(HubAccessError, match="rejected the token"):
        gensr.load_model(f"hf://alice/private/{FILE}", force_download=True, token="hf_wrong")


def test_force_download_with_a_server_error_is_not_offline(published, no_retry_sleep):
    hub, model = published
    gensr.load_model(f"hf://{REPO}/{FILE}")  # cached: a server error is still not "offline"
    hub.fail_status = 500
    with pytest.raises(HubDownloadError, match="500") as err:
        gensr.load_model(f"hf://{REPO}/{FILE}", force_download=True)
    assert "cannot be reached" not in str(err.value)


def test_force_download_offline_or_unreachable_says_so(published, monkeypatch, no_retry_sleep):
    hub, model = published
    gensr.load_model(f"hf://{REPO}/{FILE}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubOfflineError, match=r"cannot be reached .* \(offline mode is on\)"):
        gensr.load_model(f"hf://{REPO}/{FILE}", force_download=True)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    hub.stop()
    with pytest.raises(HubOfflineError, match="force_download needs the network"):
        gensr.load_model(f"hf://{REPO}/{FILE}", force_download=True)
