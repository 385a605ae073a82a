"""Hub loading with the real huggingface_hub client against a local Hub-compatible server."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

import gensr
from gensr.weights import catalogue
from gensr.weights.errors import (
    GenSRError,
    HubAccessError,
    HubDownloadError,
    HubFileNotFoundError,
    HubIntegrityError,
    HubOfflineError,
    HubRepoNotFoundError,
    HubRevisionNotFoundError,
    HubSourceError,
    HubUnsafeFileError,
)
from gensr.weights.hub import HubRef, parse_hf_uri, resolve_hub_file
from hub_env import (  # noqa: F401  (pytest fixtures)
    TOKEN,
    fake_hub,
    hub_home,
    no_outside_network,
    no_retry_sleep,
    pickle_bytes,
    safetensors_bytes,
    same_weights,
    tiny_model,
)

REPO = "alice/tiny-sr"
FILE = "weights/tiny.safetensors"


@pytest.fixture
def published(fake_hub, tmp_path):
    """A repo with one tiny model; returns (hub, model, file bytes, commit)."""
    model = tiny_model(0)
    data = safetensors_bytes(model, tmp_path, metadata={"gensr.data": "T91"})
    commit = fake_hub.commit(REPO, {FILE: data, "README.md": b"# tiny\n"})
    return fake_hub, model, data, commit


def cache_files(home: Path) -> list[Path]:
    return [p for p in (home / "hub").rglob("*") if p.is_file() or p.is_symlink()]


# ---------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("hf://a/b", HubRef("a/b")),
        ("hf://a/b/m.safetensors", HubRef("a/b", "m.safetensors")),
        ("hf://a/b/dir/m.safetensors@v1.0", HubRef("a/b", "dir/m.safetensors", "v1.0")),
        ("hf://a/b@dev/dir/m.safetensors", HubRef("a/b", "dir/m.safetensors", "dev")),
        ("hf://a/b@refs/pr/3/m.safetensors", HubRef("a/b", "m.safetensors", "refs/pr/3")),
        ("hf://a/b/m.safetensors@refs/pr/3", HubRef("a/b", "m.safetensors", "refs/pr/3")),
        ("hf://a/b@" + "c" * 40, HubRef("a/b", None, "c" * 40)),
        ("hf://models/a/b/m.safetensors", HubRef("a/b", "m.safetensors")),
        ("hf://datasets/a/b/m.safetensors", HubRef("a/b", "m.safetensors", None, "dataset")),
        ("hf://a/b/x@2x.safetensors", HubRef("a/b", "x@2x.safetensors")),
    ],
)
def test_parse_hf_uri(uri, expected):
    assert parse_hf_uri(uri) == expected


@pytest.mark.parametrize("uri", ["hf://", "hf://onlyowner", "hf://a/b/m.safetensors@", "hf://a/b/../m.safetensors", "a/b/m.safetensors"])
def test_parse_hf_uri_rejects_malformed(uri):
    with pytest.raises(HubSourceError):
        parse_hf_uri(uri)


def test_conflicting_arguments_are_refused_before_any_request(fake_hub):
    with pytest.raises(HubSourceError, match="not both"):
        resolve_hub_file("hf://a/b/m.safetensors", repo_id="a/b")
    with pytest.raises(HubSourceError, match="already names revision"):
        resolve_hub_file("hf://a/b/m.safetensors@v1", revision="v2")
    with pytest.raises(HubSourceError, match="OWNER/REPO"):
        resolve_hub_file(repo_id="no-owner", filename="m.safetensors")
    assert fake_hub.requests == []


# ---------------------------------------------------------------- download, cache, offline


def test_first_download_then_cached_load_with_server_stopped(published, hub_home):
    hub, model, data, commit = published
    loaded = gensr.load_model(f"hf://{REPO}/{FILE}")
    assert same_weights(loaded, model)
    assert loaded.metadata["gensr.data"] == "T91"
    path = Path(loaded.source)
    assert path.is_relative_to(hub_home / "hub") and commit in path.parts
    assert hub.file_requests("GET") == [f"/{REPO}/resolve/main/{FILE}"]

    hub.stop()
    again = gensr.load_model(f"hf://{REPO}/{FILE}")  # server gone: the cache answers
    assert same_weights(again, model) and again.source == loaded.source


def test_environment_set_after_import_is_honoured(published, monkeypatch, tmp_path):
    """HF_ENDPOINT / HF_HOME / HF_HUB_CACHE are read when a file is resolved, not only at import."""
    from huggingface_hub import constants

    hub, model, data, commit = published
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # what huggingface_hub read at import: dead
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", "http://127.0.0.1:9/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "import-time-cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "later-home"))
    path = resolve_hub_file(f"hf://{REPO}/{FILE}")
    assert path.is_relative_to(tmp_path / "later-home" / "hub")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "explicit-cache"))
    assert resolve_hub_file(f"hf://{REPO}/{FILE}").is_relative_to(tmp_path / "explicit-cache")
    assert not (tmp_path / "import-time-cache").exists()


def test_keyword_form_and_repo_with_a_single_weight_file(published):
    hub, model, data, commit = published
    by_keywords = gensr.load_model(repo_id=REPO, filename=FILE, revision="main")
    without_filename = gensr.load_model(f"hf://{REPO}")  # exactly one weight file in the repo
    assert same_weights(by_keywords, model) and same_weights(without_filename, model)
    assert by_keywords.source == without_filename.source


def test_hf_hub_offline_uses_the_cache_and_makes_no_request(published, monkeypatch):
    hub, model, data, commit = published
    gensr.load_model(f"hf://{REPO}/{FILE}")
    seen = len(hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert same_weights(gensr.load_model(f"hf://{REPO}/{FILE}"), model)
    assert same_weights(gensr.load_model(f"hf://{REPO}"), model)  # no listing possible: the cached snapshot decides
    assert len(hub.requests) == seen


def test_offline_without_cache_says_so_and_how_to_get_the_file(published, monkeypatch, hub_home):
    hub, *_ = published
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubOfflineError) as err:
        gensr.load_model(f"hf://{REPO}/{FILE}")
    message = str(err.value)
    assert "offline mode is on" in message and "HF_HUB_OFFLINE" in message
    assert str(hub_home / "hub") in message and f"hf download {REPO} {FILE}" in message
    assert "\n" not in message and "Traceback" not in message
    assert hub.requests == []


def test_unreachable_hub_without_cache_says_so(published, no_retry_sleep):
    hub, *_ = published
    hub.stop()
    with pytest.raises(HubOfflineError, match="cannot be reached") as err:
        gensr.load_model(f"hf://{REPO}/{FILE}")
    assert "HF_ENDPOINT" in str(err.value)
    with pytest.raises(HubOfflineError, match="cannot be reached"):
        gensr.load_model(f"hf://{REPO}")  # listing fails too, and nothing is cached


def test_revision_pinning_by_tag_commit_and_branch(fake_hub, tmp_path, monkeypatch):
    v1, v2 = tiny_model(1), tiny_model(2)
    c1 = fake_hub.commit(REPO, {FILE: safetensors_bytes(v1, tmp_path, "v1.safetensors")})
    fake_hub.tag(REPO, "v1")
    c2 = fake_hub.commit(REPO, {FILE: safetensors_bytes(v2, tmp_path, "v2.safetensors")})
    fake_hub.commit(REPO, {FILE: safetensors_bytes(v1, tmp_path, "dev.safetensors")}, branch="dev")

    assert same_weights(gensr.load_model(f"hf://{REPO}/{FILE}"), v2)
    assert same_weights(gensr.load_model(f"hf://{REPO}/{FILE}@v1"), v1)
    assert same_weights(gensr.load_model(f"hf://{REPO}@{c1}/{FILE}"), v1)
    assert same_weights(gensr.load_model(f"hf://{REPO}/{FILE}", revision=c2), v2)
    assert same_weights(gensr.load_model(f"hf://{REPO}/{FILE}@dev"), v1)

    seen = len(fake_hub.requests)
    assert same_weights(gensr.load_model(f"hf://{REPO}/{FILE}@{c1}"), v1)  # a cached commit needs no request at all
    assert len(fake_hub.requests) == seen
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert same_weights(gensr.load_model(f"hf://{REPO}/{FILE}@v1"), v1)
    assert same_weights(gensr.load_model(f"hf://{REPO}/{FILE}"), v2)


# ---------------------------------------------------------------- one sentence per failure


def test_missing_repo_file_and_revision(published):
    with pytest.raises(HubRepoNotFoundError, match=r"repository alice/nope was not found on http://127\.0\.0\.1.*private.*token"):
        gensr.load_model("hf://alice/nope/m.safetensors")
    with pytest.raises(HubFileNotFoundError, match=rf"has no file 'missing.safetensors' \(weight files there: {FILE}\)"):
        gensr.load_model(f"hf://{REPO}/missing.safetensors")
    with pytest.raises(HubRevisionNotFoundError, match="has no revision 'v9'; give an existing branch, tag or full commit hash"):
        gensr.load_model(f"hf://{REPO}/{FILE}@v9")
    with pytest.raises(HubRevisionNotFoundError):
        gensr.load_model(f"hf://{REPO}@v9")  # also when listing files


def test_private_and_gated_repositories_need_a_token(fake_hub, tmp_path, monkeypatch):
    data = safetensors_bytes(tiny_model(), tmp_path)
    fake_hub.commit("alice/private", {"m.safetensors": data}, private=True)
    fake_hub.commit("alice/gated", {"m.safetensors": data}, gated=True)

    with pytest.raises(HubRepoNotFoundError, match="private and needs a token"):
        gensr.load_model("hf://alice/private/m.safetensors")
    with pytest.raises(HubAccessError, match="gated repository: accept its conditions"):
        gensr.load_model("hf://alice/gated/m.safetensors")
    with pytest.raises(HubAccessError, match="rejected the token"):
        gensr.load_model("hf://alice/private/m.safetensors", token="hf_wrong")

    assert gensr.load_model("hf://alice/private/m.safetensors", token=TOKEN).scale == 2
    monkeypatch.setenv("HF_TOKEN", TOKEN)  # huggingface_hub's environment variable works too
    assert gensr.load_model("hf://alice/gated/m.safetensors").scale == 2


def test_server_errors_become_one_sentence(published, no_retry_sleep):
    hub, *_ = published
    hub.fail_status = 500
    with pytest.raises(HubOfflineError, match=r"is unavailable \(HTTP 500\)") as err:
        gensr.load_model(f"hf://{REPO}/{FILE}")
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------- interrupted and damaged downloads


def test_download_whose_connection_always_drops_leaves_nothing(published, hub_home, no_retry_sleep):
    hub, model, data, commit = published
    hub.truncate_at = 0  # headers announce the whole file, then the connection drops, every time
    with pytest.raises(HubDownloadError, match="partial file was discarded"):
        gensr.load_model(f"hf://{REPO}/{FILE}")
    assert len(hub.file_requests("GET")) > 1  # huggingface_hub retried before giving up
    leftovers = cache_files(hub_home)
    assert not any(p.name.endswith(".incomplete") for p in leftovers)
    assert not any(p.parent.name == "blobs" for p in leftovers) and not any("snapshots" in p.parts for p in leftovers)

    hub.truncate_at = None
    assert same_weights(gensr.load_model(f"hf://{REPO}/{FILE}"), model)


def test_short_response_body_is_never_cached(published, hub_home):
    hub, model, data, commit = published
    hub.short_body_at = len(data) // 2  # a consistent but short GET, while HEAD said the full size
    with pytest.raises(HubDownloadError, match="was cut short"):
        gensr.load_model(f"hf://{REPO}/{FILE}")
    assert not any("snapshots" in p.parts or p.parent.name == "blobs" for p in cache_files(hub_home))
    hub.short_body_at = None
    assert same_weights(gensr.load_model(f"hf://{REPO}/{FILE}"), model)


def test_interrupted_download_resumes_to_the_exact_file(published, no_retry_sleep):
    hub, model, data, commit = published
    hub.truncate_at, hub.truncate_times = len(data) // 3, 1
    path = resolve_hub_file(f"hf://{REPO}/{FILE}")
    assert path.read_bytes() == data
    assert len(hub.file_requests("GET")) == 2


def test_damaged_cached_copy_is_refused_and_kept(published):
    hub, model, data, commit = published
    path = resolve_hub_file(f"hf://{REPO}/{FILE}")
    blob = Path(os.path.realpath(path))
    blob.write_bytes(data[: len(data) // 2])  # e.g. a copy of the cache that was cut short
    with pytest.raises(HubIntegrityError, match="does not match the sha256 the Hub gave"):
        gensr.load_model(f"hf://{REPO}/{FILE}")
    assert blob.exists()
    assert same_weights(gensr.load_model(f"hf://{REPO}/{FILE}", force_download=True), model)


# ---------------------------------------------------------------- sha256


def test_sha256_mismatch_refuses_the_file_and_deletes_nothing(published):
    hub, model, data, commit = published
    good = hashlib.sha256(data).hexdigest()
    path = resolve_hub_file(f"hf://{REPO}/{FILE}")
    with pytest.raises(HubIntegrityError, match="the sha256 you gave says 0000") as err:
        gensr.load_model(f"hf://{REPO}/{FILE}", sha256="0" * 64)
    assert "nothing was deleted" in str(err.value)
    assert path.exists() and path.read_bytes() == data
    assert same_weights(gensr.load_model(f"hf://{REPO}/{FILE}", sha256=good.upper()), model)
    with pytest.raises(HubSourceError, match="64 hexadecimal"):
        resolve_hub_file(f"hf://{REPO}/{FILE}", sha256="abc")


def test_catalogue_entry_pins_revision_and_sha256(published, tmp_path, monkeypatch):
    hub, model, data, commit = published
    hub.commit(REPO, {FILE: safetensors_bytes(tiny_model(5), tmp_path, "newer.safetensors")})  # main moves on
    entry = dict(
        name="tiny", description="", file=None, repo=REPO, filename=FILE, revision=commit,
        sha256=hashlib.sha256(data).hexdigest(), size=len(data), arch="compact", scale=2, licence="MIT",
    )
    path = tmp_path / "catalogue.json"
    monkeypatch.setattr(catalogue, "CATALOGUE_PATH", path)

    def write_catalogue():
        path.write_text(json.dumps({"models": [entry]}))
        catalogue._load.cache_clear()

    write_catalogue()
    assert same_weights(gensr.load_model(f"hf://{REPO}/{FILE}"), model)  # no revision given: the catalogue's
    assert same_weights(gensr.load_model(**catalogue.get_entry("tiny").hub_options()), model)
    assert not same_weights(gensr.load_model(f"hf://{REPO}/{FILE}@main"), model)  # asked for main: no pin, no catalogue hash

    entry["sha256"] = "1" * 64
    write_catalogue()
    with pytest.raises(HubIntegrityError, match="GenSR catalogue entry 'tiny' says 1111"):
        gensr.load_model(f"hf://{REPO}/{FILE}")
    catalogue._load.cache_clear()


# ---------------------------------------------------------------- pickles


def test_pth_loads_by_default_and_allow_pickle_false_refuses_without_downloading(fake_hub):
    model = tiny_model(3)
    fake_hub.commit("bob/pth-sr", {"m.pth": pickle_bytes(model)})
    with pytest.raises(HubUnsafeFileError, match="allow_pickle=False asks for .safetensors only"):
        gensr.load_model("hf://bob/pth-sr/m.pth", allow_pickle=False)
    assert fake_hub.file_requests("GET") == [] and fake_hub.file_requests("HEAD") == []
    with pytest.raises(HubFileNotFoundError, match="pass allow_pickle=True"):
        gensr.load_model("hf://bob/pth-sr", allow_pickle=False)  # the only weight file is a pickle
    with pytest.raises(HubUnsafeFileError, match="trust_pickle is only for local files"):
        gensr.load_model("hf://bob/pth-sr/m.pth", trust_pickle=True)

    assert same_weights(gensr.load_model("hf://bob/pth-sr/m.pth"), model)
    assert same_weights(gensr.load_model("hf://bob/pth-sr"), model)
    assert same_weights(gensr.load_model("hf://bob/pth-sr/m.pth", allow_pickle=True), model)


def test_pickle_disguised_as_safetensors_is_refused(fake_hub):
    fake_hub.commit("bob/disguised", {"m.safetensors": pickle_bytes(tiny_model())})
    with pytest.raises(HubUnsafeFileError, match="content is not safetensors"):
        gensr.load_model("hf://bob/disguised/m.safetensors")


def test_non_weight_files_and_ambiguous_repos(published, tmp_path):
    hub, model, data, commit = published
    with pytest.raises(HubSourceError, match="not a weight file"):
        gensr.load_model(f"hf://{REPO}/README.md")
    hub.commit(REPO, {"other.safetensors": data})
    with pytest.raises(HubSourceError, match="holds 2 weight files .*other.safetensors, weights/tiny.safetensors"):
        gensr.load_model(f"hf://{REPO}")
    hub.commit("carol/empty", {"notes.txt": b"hi"})
    with pytest.raises(HubFileNotFoundError, match="no .safetensors weight file. Its files: .gitattributes, notes.txt"):
        gensr.load_model("hf://carol/empty")


def test_every_hub_error_is_a_gensr_error():
    for cls in (HubAccessError, HubDownloadError, HubFileNotFoundError, HubIntegrityError, HubOfflineError,
                HubRepoNotFoundError, HubRevisionNotFoundError, HubSourceError, HubUnsafeFileError):
        assert issubclass(cls, GenSRError)
