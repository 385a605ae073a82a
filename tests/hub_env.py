"""Pytest fixtures for Hub tests: a FakeHub on 127.0.0.1, huggingface_hub pointed
at it (environment and the constants it read at import), a temporary HF_HOME,
and a guard that fails the test if anything connects to any other address.

Import the fixtures into a test module: ``from hub_env import fake_hub, hub_home, ...``.
"""
from __future__ import annotations

import io
import socket
import time
from pathlib import Path

import pytest
import torch

from hub_server import TOKEN, FakeHub

LOCAL_HOSTS = {"127.0.0.1"}


@pytest.fixture
def no_outside_network(monkeypatch):
    """Refuse (and record) every connection to an address other than 127.0.0.1."""
    attempts: list = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def _allowed(sock, address) -> bool:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return True
        return address[0] in LOCAL_HOSTS

    def connect(sock, address):
        if not _allowed(sock, address):
            attempts.append(address)
            raise ConnectionRefusedError(f"test blocked a connection to {address}")
        return real_connect(sock, address)

    def connect_ex(sock, address):
        if not _allowed(sock, address):
            attempts.append(address)
            return 111
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield attempts
    assert not attempts, f"a test tried to reach addresses other than 127.0.0.1: {attempts}"


@pytest.fixture
def hub_home(tmp_path, monkeypatch) -> Path:
    """A fresh HF_HOME, with huggingface_hub's import-time constants following it."""
    from huggingface_hub import constants
    from huggingface_hub.utils import close_session

    home = tmp_path / "hf_home"
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(home / ".agent_harnesses.json"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    close_session()  # no pooled connection or proxy setting from an earlier test
    yield home
    close_session()


@pytest.fixture
def fake_hub(hub_home, monkeypatch, no_outside_network) -> FakeHub:
    """A running FakeHub that huggingface_hub (HF_ENDPOINT and its constants) points at."""
    from huggingface_hub import constants

    hub = FakeHub().start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    yield hub
    hub.stop()


@pytest.fixture
def no_retry_sleep(monkeypatch):
    """huggingface_hub backs off with time.sleep between retries; skip the waiting."""
    monkeypatch.setattr(time, "sleep", lambda seconds: None)


def tiny_model(seed: int = 0, scale: int = 2):
    from gensr.sr_core.archs import SRVGGNetCompact

    torch.manual_seed(seed)
    return SRVGGNetCompact(num_feat=4, num_conv=1, scale=scale).eval()


def safetensors_bytes(model, tmp_path: Path, name: str = "m.safetensors", metadata=None) -> bytes:
    from gensr.weights import save_model

    path = save_model(model, tmp_path / name, metadata)
    return path.read_bytes()


def pickle_bytes(model) -> bytes:
    buf = io.BytesIO()
    torch.save({"params": model.state_dict()}, buf)
    return buf.getvalue()


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


__all__ = ["TOKEN", "fake_hub", "hub_home", "no_outside_network", "no_retry_sleep", "pickle_bytes", "safetensors_bytes", "same_weights", "tiny_model"]
