"""Hugging Face Hub sources: ``hf://OWNER/REPO/PATH/FILE[@REVISION]`` -> a verified local file.

Downloads go through ``huggingface_hub.hf_hub_download``: its cache, its
progress bars and its environment variables (``HF_HOME``, ``HF_HUB_CACHE``,
``HF_HUB_OFFLINE``, ``HF_ENDPOINT``, ``HF_TOKEN``), read when a file is
resolved, so setting them after import works too. It writes each download to
a temporary file and moves it into the cache only once the size announced by
the Hub has arrived, so an interrupted download is never seen as complete.

On top of that GenSR

- loads ``.safetensors`` and, as from disk, weights-only pickles (``.pth``...:
  read with ``weights_only=True``, so no code in them runs; only with torch >= 2.6,
  whose reader cannot be made to run code, CVE-2025-32434, and refused before
  anything is downloaded on older torch); ``allow_pickle=False`` accepts
  ``.safetensors`` only;
- checks every file against the sha256 the Hub gave as its ETag, and against
  a known sha256 (the caller's ``sha256=`` or the catalogue's); a mismatch
  refuses the file and deletes nothing;
- turns every failure into one :class:`HubError` sentence that says what to do.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional, Union
from urllib.parse import quote, unquote

from ..sr_core.files import sha256_of
from .catalogue import find_hub_entry
from .errors import (
    HubAccessError,
    HubDownloadError,
    HubError,
    HubFileNotFoundError,
    HubIntegrityError,
    HubOfflineError,
    HubRepoNotFoundError,
    HubRevisionNotFoundError,
    HubSourceError,
    HubUnsafeFileError,
)
from .safe_read import PICKLE_SUFFIXES, WEIGHT_SUFFIXES, old_torch_refusal, pickles_are_safe, sniff_format

PathLike = Union[str, Path]
HF_PREFIX = "hf://"
_TYPE_PREFIXES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TRUE = {"1", "on", "yes", "true"}


@dataclass(frozen=True)
class HubRef:
    """A file (or, with ``filename=None``, the single weight file) of a Hub repository."""

    repo_id: str
    filename: Optional[str] = None
    revision: Optional[str] = None
    repo_type: str = "model"

    @property
    def uri(self) -> str:
        prefix = "" if self.repo_type == "model" else f"{self.repo_type}s/"
        path = f"/{self.filename}" if self.filename else ""
        rev = f"@{self.revision}" if self.revision else ""
        return f"{HF_PREFIX}{prefix}{self.repo_id}{path}{rev}"

    @property
    def where(self) -> str:
        """'OWNER/REPO' plus the revision when one was asked for."""
        return self.repo_id + (f" at revision {self.revision!r}" if self.revision else "")


# ---------------------------------------------------------------- parsing


def parse_hf_uri(uri: str) -> HubRef:
    """Parse ``hf://[models/|datasets/]OWNER/REPO[/PATH/FILE][@REVISION]``.

    The revision may also follow the repository (``hf://OWNER/REPO@REV/FILE``,
    the form ``huggingface_hub`` itself writes); ``refs/pr/N`` works in both places.
    """
    if not isinstance(uri, str) or not uri.startswith(HF_PREFIX):
        raise HubSourceError(f"{uri!r} is not a Hub address; write hf://OWNER/REPO/FILE.safetensors[@REVISION]")
    rest = uri[len(HF_PREFIX):].strip("/")
    repo_type = "model"
    head, _, tail = rest.partition("/")
    if head in _TYPE_PREFIXES:
        repo_type, rest = _TYPE_PREFIXES[head], tail
    parts = rest.split("/")
    if len(parts) < 2 or not parts[0] or not parts[1] or parts[1].startswith("@"):
        raise HubSourceError(f"{uri!r} has no OWNER/REPO; write hf://OWNER/REPO/FILE.safetensors[@REVISION]")
    owner, name, path_parts = parts[0], parts[1], parts[2:]
    revision: Optional[str] = None
    if "@" in name:  # hf://OWNER/REPO@REV/FILE
        name, revision = name.split("@", 1)
        if revision == "refs" and len(path_parts) >= 2:
            revision = "/".join(["refs", *path_parts[:2]])
            path_parts = path_parts[2:]
    filename = "/".join(path_parts) or None
    if revision is None and filename and "@" in filename:  # hf://OWNER/REPO/FILE@REV
        candidate_file, candidate_rev = filename.rsplit("@", 1)
        if not candidate_rev.lower().endswith(WEIGHT_SUFFIXES):  # '@' inside a file name is not a revision
            filename, revision = candidate_file or None, candidate_rev
    if revision is not None:
        revision = unquote(revision)
        if not revision:
            raise HubSourceError(f"{uri!r} ends with '@' but names no revision (a branch, tag or commit hash)")
    if filename and any(seg in ("", ".", "..") for seg in filename.split("/")):
        raise HubSourceError(f"{uri!r}: the file path {filename!r} is not a plain path inside the repository")
    return HubRef(f"{owner}/{name}", filename, revision, repo_type)


def _reference(source: Any, repo_id: Optional[str], filename: Optional[str], revision: Optional[str], repo_type: Optional[str]) -> HubRef:
    if source is not None and repo_id is not None:
        raise HubSourceError("give either an hf:// address or repo_id=..., not both")
    if source is not None:
        ref = parse_hf_uri(str(source))
        if filename is not None:
            if ref.filename is not None and ref.filename != filename:
                raise HubSourceError(f"{source} already names the file {ref.filename!r}; do not also pass filename={filename!r}")
            ref = replace(ref, filename=filename)
        if revision is not None:
            if ref.revision is not None and ref.revision != revision:
                raise HubSourceError(f"{source} already names revision {ref.revision!r}; do not also pass revision={revision!r}")
            ref = replace(ref, revision=revision)
        if repo_type is not None and repo_type != ref.repo_type:
            ref = replace(ref, repo_type=repo_type)
        return ref
    if not repo_id:
        raise HubSourceError("no model given: pass a path, an hf://OWNER/REPO/FILE address, or repo_id=...")
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise HubSourceError(f"repo_id must be OWNER/REPO, got {repo_id!r}")
    return HubRef(repo_id, filename or None, revision or None, repo_type or "model")


# ---------------------------------------------------------------- settings


def hub_endpoint(endpoint: Optional[str] = None) -> str:
    """``endpoint``, else ``HF_ENDPOINT`` as it is now, else huggingface_hub's default."""
    if endpoint:
        return endpoint.rstrip("/")
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def hub_cache_dir(cache_dir: Optional[PathLike] = None) -> Path:
    """``cache_dir``, else ``HF_HUB_CACHE``, else ``$HF_HOME/hub``, else huggingface_hub's default."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def hub_offline() -> bool:
    """Offline mode: ``HF_HUB_OFFLINE`` now, or as huggingface_hub read it at import."""
    from huggingface_hub import constants

    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE or constants.is_offline_mode()


# ---------------------------------------------------------------- resolving


def resolve_hub_file(
    source: Optional[PathLike] = None,
    *,
    repo_id: Optional[str] = None,
    filename: Optional[str] = None,
    revision: Optional[str] = None,
    repo_type: Optional[str] = None,
    allow_pickle: bool = True,
    sha256: Optional[str] = None,
    token: Union[str, bool, None] = None,
    cache_dir: Optional[PathLike] = None,
    endpoint: Optional[str] = None,
    local_files_only: bool = False,
    force_download: bool = False,
) -> Path:
    """Download (or find in the cache) a weight file from the Hub and verify it.

    ``source`` is ``hf://OWNER/REPO/PATH/FILE[@REVISION]``, or give ``repo_id``
    (+ ``filename``, ``revision``). Without a file name the repository must
    hold exactly one ``.safetensors`` file (or, without any, one pickle). Without a revision, a catalogue entry for the file pins its
    revision; otherwise ``main`` is used. ``sha256`` (or the catalogue's) must
    match the file. Returns the path of the verified file in the cache.
    """
    ref = _reference(source, repo_id, filename, revision, repo_type)
    endpoint = hub_endpoint(endpoint)
    cache = hub_cache_dir(cache_dir)
    offline = bool(local_files_only) or hub_offline()
    ctx = _Context(ref, endpoint, cache, offline, token)
    if ref.filename is None:
        ref = ctx.ref = replace(ref, filename=_single_weight_file(ctx, allow_pickle))
    _check_name(ref, allow_pickle)
    ref, expected, origin = _expected_sha256(ref, sha256)
    ctx.ref = ref
    path = _download(ctx, force_download)
    if ref.filename.lower().endswith(".safetensors") and sniff_format(path) != "safetensors":
        raise HubUnsafeFileError(
            f"{ref.uri} is named .safetensors but its content is not safetensors (it is {sniff_format(path)}); "
            "it was not loaded: a file that lies about its format is not trusted."
        )
    _verify(path, ref, expected, origin)
    return path


@dataclass
class _Context:
    ref: HubRef
    endpoint: str
    cache: Path
    offline: bool
    token: Union[str, bool, None]


def _check_name(ref: HubRef, allow_pickle: bool) -> None:
    name = ref.filename or ""
    lower = name.lower()
    if lower.endswith(PICKLE_SUFFIXES):
        if not allow_pickle:
            raise HubUnsafeFileError(
                f"{ref.uri} is a PyTorch pickle and allow_pickle=False asks for .safetensors only; "
                "pass allow_pickle=True (the default: it is read with weights_only, no code runs) or use a .safetensors version."
            )
        if not pickles_are_safe():
            raise HubUnsafeFileError(old_torch_refusal(ref.uri) + " It was not downloaded.")
    elif not lower.endswith(".safetensors"):
        raise HubSourceError(f"{ref.uri} is not a weight file; GenSR loads {', '.join(WEIGHT_SUFFIXES)} files")


def _normalise_sha256(value: str) -> str:
    digest = value.strip().lower()
    if digest.startswith("sha256:"):
        digest = digest[len("sha256:"):]
    if not _SHA256.match(digest):
        raise HubSourceError(f"sha256 must be 64 hexadecimal digits, got {value!r}")
    return digest


def _expected_sha256(ref: HubRef, sha256: Optional[str]) -> tuple[HubRef, Optional[str], str]:
    """(ref with the catalogue's revision filled in, expected digest, where it comes from)."""
    entry = find_hub_entry(ref.repo_id, ref.filename) if ref.repo_type == "model" and ref.filename else None
    if entry is not None and ref.revision is None:
        ref = replace(ref, revision=entry.revision)
    if sha256:
        return ref, _normalise_sha256(sha256), "the sha256 you gave"
    if entry is not None and entry.sha256 and ref.revision == entry.revision:
        return ref, entry.sha256, f"the GenSR catalogue entry {entry.name!r}"
    return ref, None, ""


def _download(ctx: _Context, force_download: bool) -> Path:
    from huggingface_hub import hf_hub_download

    from .. import __version__

    ref = ctx.ref
    try:
        path = hf_hub_download(
            ref.repo_id,
            ref.filename,
            revision=ref.revision,
            repo_type=ref.repo_type,
            cache_dir=str(ctx.cache),
            endpoint=ctx.endpoint,
            token=ctx.token,
            local_files_only=ctx.offline,
            force_download=force_download,
            library_name="gensr",
            library_version=__version__,
        )
    except Exception as e:  # every huggingface_hub / httpx failure becomes one HubError sentence
        raise _translate(e, ctx, force_download) from None
    return Path(path)


def _translate(e: Exception, ctx: _Context, force_download: bool = False) -> HubError:
    """One clear :class:`HubError` for a huggingface_hub (or HTTP client) exception."""
    from huggingface_hub.utils import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    ref, what = ctx.ref, ctx.ref.uri
    login = "log in with `hf auth login`, set HF_TOKEN, or pass token=\"hf_...\""
    if isinstance(e, HubError):
        return e
    if isinstance(e, LocalEntryNotFoundError):
        cause_status = getattr(getattr(e.__cause__, "response", None), "status_code", None)
        return _offline_error(ctx, cause_status if isinstance(e.__cause__, HfHubHTTPError) else None)
    if isinstance(e, GatedRepoError):
        return HubAccessError(
            f"{ref.repo_id} is a gated repository: accept its conditions at {ctx.endpoint}/{ref.repo_id} with your account, then {login}."
        )
    if isinstance(e, RevisionNotFoundError):
        return HubRevisionNotFoundError(
            f"{ref.repo_id} has no revision {ref.revision!r}; give an existing branch, tag or full commit hash (see {ctx.endpoint}/{ref.repo_id}/commits/main)."
        )
    if isinstance(e, EntryNotFoundError):
        listing = _weight_files_hint(ctx)
        return HubFileNotFoundError(f"{ref.where} has no file {ref.filename!r}{listing}.")
    status = getattr(getattr(e, "response", None), "status_code", None)
    message = str(e)
    if isinstance(e, RepositoryNotFoundError) or (isinstance(e, HfHubHTTPError) and status in (401, 403)):
        if "Invalid credentials" in message or "Invalid username or password" in message:
            return HubAccessError(f"{ctx.endpoint} rejected the token in use (invalid or expired); {login} with a valid one.")
        if status == 403 and not isinstance(e, RepositoryNotFoundError):
            return HubAccessError(f"{ctx.endpoint} refused access to {ref.repo_id} (403 Forbidden); use a token with read access to it: {login}.")
        token_used = _token_in_use(ctx.token)
        why = (
            "or the token in use has no access to it" if token_used else f"or it is private and needs a token ({login})"
        )
        return HubRepoNotFoundError(f"repository {ref.repo_id} was not found on {ctx.endpoint}: check the name, {why}.")
    if isinstance(e, HFValidationError):
        return HubSourceError(f"{what}: {message.splitlines()[0]}")
    if isinstance(e, HfHubHTTPError):
        first = message.strip().splitlines()[0] if message.strip() else f"HTTP {status}"
        return HubDownloadError(f"downloading {what} from {ctx.endpoint} failed ({first}); try again later.")
    # force_download: huggingface_hub raises ValueError from whatever stopped it; offline only when that is
    cause = e.__cause__ if isinstance(e, ValueError) else None
    if force_download and cause is not None and not _unreachable(cause):
        return _translate(cause, ctx)  # the Hub answered (no such repository, no access, ...): say that
    if force_download and (_unreachable(e) or isinstance(e, ValueError) and (ctx.offline or cause is not None)):
        return HubOfflineError(
            f"force_download needs the network, but {ctx.endpoint} cannot be reached for {what}"
            + (" (offline mode is on)" if ctx.offline else "")
            + "; run again without force_download to use the cached copy, or when the Hub is reachable."
        )
    if isinstance(e, OSError) and "Consistency check failed" in message:
        return HubDownloadError(
            f"the download of {what} was cut short ({message.split('(')[0].replace('Consistency check failed: ', '').strip()}); "
            "the partial file was discarded and nothing was cached. Run again to retry."
        )
    detail = message.strip().splitlines()[0] if message.strip() else ""
    return HubDownloadError(
        f"downloading {what} from {ctx.endpoint} failed ({type(e).__name__}{': ' + detail if detail else ''}); "
        "the partial file was discarded and nothing was cached. Check your connection and run again."
    )


# Network failures of the HTTP clients huggingface_hub has used (httpx and its forks, requests), by class name.
_NETWORK_ERRORS = {"TransportError", "ConnectionError", "Timeout", "TimeoutException"}


def _unreachable(e: BaseException) -> bool:
    """Offline mode or no connection to the Hub (as opposed to an answer from it).
    huggingface_hub's OfflineModeIsEnabled is a ConnectionError."""
    return isinstance(e, (ConnectionError, TimeoutError)) or any(c.__name__ in _NETWORK_ERRORS for c in type(e).__mro__)


def _offline_error(ctx: _Context, status: Optional[int] = None) -> HubOfflineError:
    ref = ctx.ref
    if status is not None and not ctx.offline:
        reason = f"the Hub at {ctx.endpoint} is unavailable (HTTP {status})"
        fix = "try again later (once downloaded it works offline), or load a local copy by path"
    elif ctx.offline:
        reason = "offline mode is on (HF_HUB_OFFLINE=1 or local_files_only=True)"
        fix = (
            "run once with network access and HF_HUB_OFFLINE unset to download it (it then works offline), "
            "or load a local copy by path"
        )
    else:
        reason = f"the Hub at {ctx.endpoint} cannot be reached"
        fix = "check your connection, proxy and HF_ENDPOINT and run again (once downloaded it works offline), or load a local copy by path"
    get = f"hf download {ref.repo_id}" + (f" {ref.filename}" if ref.filename else "") + (
        f" --revision {ref.revision}" if ref.revision else ""
    )
    return HubOfflineError(
        f"{ref.uri} is not in the local Hugging Face cache ({ctx.cache}) and {reason}: {fix}; "
        f"on a connected machine `{get}` fetches it into the cache."
    )


def _token_in_use(token: Union[str, bool, None]) -> bool:
    if isinstance(token, str):
        return bool(token)
    if token is False:
        return False
    try:
        from huggingface_hub import get_token

        return get_token() is not None
    except Exception:
        return False


def _verify(path: Path, ref: HubRef, expected: Optional[str], origin: str) -> None:
    """Refuse a file whose content is not what the Hub (ETag) or the caller/catalogue said. Deletes nothing."""
    actual = sha256_of(path)
    blob = Path(os.path.realpath(path)).name  # the cache names LFS blobs by the Hub's sha256 of the file
    if _SHA256.match(blob) and blob != actual:
        raise HubIntegrityError(
            f"the cached copy of {ref.uri} ({path}) does not match the sha256 the Hub gave for it "
            f"(has {actual}, Hub said {blob}): it is damaged or incomplete and was not loaded. "
            "Run again with force_download=True to replace it."
        )
    if expected is not None and actual != expected:
        raise HubIntegrityError(
            f"{ref.uri} has sha256 {actual}, but {origin} says {expected}: the file was not loaded and nothing was deleted "
            f"(the downloaded copy stays in {path}). If the publisher changed the file on purpose, pin a revision you trust "
            "or pass its new sha256."
        )


# ---------------------------------------------------------------- one weight file per repo


def _single_weight_file(ctx: _Context, allow_pickle: bool) -> str:
    files: Optional[list[str]] = None
    if not ctx.offline:
        try:
            files = _list_remote_files(ctx)
        except Exception as e:
            from huggingface_hub.utils import HfHubHTTPError

            if isinstance(e, (HfHubHTTPError, HubError)):
                raise _translate(e, ctx) from None
            # a network problem: fall back to what the cache holds
    if files is None:
        files = _list_cached_files(ctx)
        if files is None:
            raise _offline_error(ctx)
    safetensors = sorted(f for f in files if f.lower().endswith(".safetensors"))
    pickles = sorted(f for f in files if f.lower().endswith(PICKLE_SUFFIXES))
    candidates = safetensors or (pickles if allow_pickle else [])
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        extra = (
            f" It has {len(pickles)} pickle file(s) ({', '.join(pickles[:5])}): pass allow_pickle=True to load one (read with weights_only)."
            if pickles
            else f" Its files: {', '.join(sorted(files)[:10]) or 'none'}."
        )
        raise HubFileNotFoundError(f"{ctx.ref.where} holds no .safetensors weight file.{extra}")
    shown = ", ".join(candidates[:10]) + (", ..." if len(candidates) > 10 else "")
    raise HubSourceError(
        f"{ctx.ref.where} holds {len(candidates)} weight files ({shown}); name one: "
        f"hf://{ctx.ref.repo_id}/FILE or filename=..."
    )


def _list_remote_files(ctx: _Context) -> list[str]:
    """Paths of all files at the revision, from the Hub's tree API (one try, no retry storm)."""
    from huggingface_hub import constants
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    from .. import __version__

    ref = ctx.ref
    rev = quote(ref.revision or "main", safe="")
    url: Optional[str] = f"{ctx.endpoint}/api/{ref.repo_type}s/{ref.repo_id}/tree/{rev}"
    params: Optional[dict] = {"recursive": "true", "expand": "false"}
    headers = build_hf_headers(token=ctx.token, library_name="gensr", library_version=__version__)
    files: list[str] = []
    while url:
        response = get_session().get(url, params=params, headers=headers, timeout=constants.HF_HUB_ETAG_TIMEOUT)
        hf_raise_for_status(response)
        files += [item["path"] for item in response.json() if item.get("type") == "file"]
        url = (getattr(response, "links", None) or {}).get("next", {}).get("url")
        params = None
    return files


def _weight_files_hint(ctx: _Context) -> str:
    """' (weight files there: ...)' when the Hub can list them quickly, else ''."""
    if ctx.offline:
        return ""
    try:
        files = _list_remote_files(ctx)
    except Exception:
        return ""
    weights = sorted(f for f in files if f.lower().endswith(WEIGHT_SUFFIXES))
    return f" (weight files there: {', '.join(weights[:10])})" if weights else " (it holds no weight files)"


def _repo_cache_folder(ctx: _Context) -> Path:
    return ctx.cache / f"{ctx.ref.repo_type}s--{ctx.ref.repo_id.replace('/', '--')}"


def _list_cached_files(ctx: _Context) -> Optional[list[str]]:
    """Files of the revision's snapshot in the local cache, or None when it was never downloaded."""
    folder = _repo_cache_folder(ctx)
    revision = ctx.ref.revision or "main"
    commit = revision
    if not _COMMIT.match(revision):
        ref_file = folder / "refs" / revision
        if not ref_file.is_file():
            return None
        commit = ref_file.read_text().strip()
    snapshot = folder / "snapshots" / commit
    if not snapshot.is_dir():
        return None
    return [p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file()]


def cached_file(repo_id: str, filename: str, revision: Optional[str] = None, cache_dir: Optional[PathLike] = None) -> Optional[Path]:
    """The cached copy of a Hub file, if one is on disk (no network, no verification)."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, cache_dir=str(hub_cache_dir(cache_dir)), revision=revision)
    return Path(found) if isinstance(found, str) else None
