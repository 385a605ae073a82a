"""Upload a .safetensors model to the Hugging Face Hub with a generated model card
(README.md with licence, tags, architecture, scale and the training facts in the
file's metadata). Needs a token with write access: `hf auth login`, HF_TOKEN or --token."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="the .safetensors file to upload")
    p.add_argument("repo", help="OWNER/REPO on the Hub (created if missing)")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--token", default=None, help="Hub token with write access (default: HF_TOKEN or the stored login)")
    p.add_argument("--revision", default=None, help="branch to commit to (created from main if missing; default main)")
    p.add_argument("--commit-message", default=None, help="commit message (default: 'Upload FILE with gensr push')")
    p.add_argument("--path-in-repo", default=None, help="file name in the repository (default: the file's own name)")
    p.add_argument("--license", "--licence", dest="licence", default=None,
                   help="licence id for the card, e.g. apache-2.0 (default: the file's metadata, else 'other')")
    p.add_argument("--overwrite-card", action="store_true",
                   help="replace an existing README.md in the repository (by default it is kept)")
    p.add_argument("--dry-run", action="store_true", help="print the model card and what would be uploaded; upload nothing")


def run(args: argparse.Namespace) -> int:
    from ..weights import load_model
    from ..sr_core.files import sha256_of
    from ..weights.errors import WeightFileError
    from ..weights.hub import hub_endpoint
    from ..weights.model_card import build_model_card

    path = Path(args.model).expanduser()
    if path.suffix.lower() != ".safetensors":
        raise WeightFileError(
            f"{path}: gensr push uploads .safetensors files only; convert it first with "
            f"`gensr convert {path} {path.with_suffix('.safetensors')}`"
        )
    if args.repo.count("/") != 1 or not all(args.repo.split("/")):
        raise WeightFileError(f"repository must be OWNER/REPO, got {args.repo!r}")
    model = load_model(path)  # refuses anything GenSR could not load back
    filename = (args.path_in_repo or path.name).strip("/")
    sha256, size = sha256_of(path), path.stat().st_size
    card = build_model_card(model, repo_id=args.repo, filename=filename, licence=args.licence, sha256=sha256, size=size)
    endpoint = hub_endpoint()
    if args.dry_run:
        print(card)
        print(f"--- would upload {path} as {endpoint}/{args.repo}/{filename} (+ README.md), sha256 {sha256}")
        return 0
    oid, kept_card = _upload(args, path, filename, card, endpoint)
    print(f"uploaded {filename} ({size:,} bytes, sha256 {sha256}) to {endpoint}/{args.repo} at commit {oid}")
    if kept_card:
        print("kept the repository's existing README.md (pass --overwrite-card to replace it with the generated card)")
    print(f'load it with: gensr.load_model("hf://{args.repo}/{filename}@{oid}")')
    return 0


def _upload(args: argparse.Namespace, path: Path, filename: str, card: str, endpoint: str) -> tuple[str, bool]:
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(endpoint=endpoint, token=args.token, library_name="gensr")
    revision = args.revision or "main"
    try:
        api.create_repo(args.repo, private=args.private, exist_ok=True)
        if revision != "main":
            api.create_branch(args.repo, branch=revision, exist_ok=True)
        keep_card = not args.overwrite_card and api.file_exists(args.repo, "README.md", revision=revision)
        ops = [CommitOperationAdd(path_in_repo=filename, path_or_fileobj=str(path))]
        if not keep_card:
            ops.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=card.encode("utf-8")))
        info = api.create_commit(
            args.repo,
            operations=ops,
            commit_message=args.commit_message or f"Upload {filename} with gensr push",
            revision=revision,
        )
    except Exception as e:
        raise _push_error(e, args.repo, endpoint) from None
    return info.oid, keep_card


def _push_error(e: Exception, repo: str, endpoint: str) -> Exception:
    from huggingface_hub.utils import HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError

    from ..weights.errors import HubAccessError, HubError, HubOfflineError

    login = "log in with `hf auth login`, set HF_TOKEN, or pass --token with a token that has write access"
    status = getattr(getattr(e, "response", None), "status_code", None)
    if isinstance(e, OfflineModeIsEnabled):
        return HubOfflineError(f"cannot push to {repo}: offline mode is on (HF_HUB_OFFLINE); unset it and run again")
    if isinstance(e, RepositoryNotFoundError) or status in (401, 403):
        return HubAccessError(f"{endpoint} refused the upload to {repo} ({status or 'no access'}): {login}.")
    if isinstance(e, HfHubHTTPError):
        first = str(e).strip().splitlines()[0] if str(e).strip() else f"HTTP {status}"
        return HubError(f"uploading to {endpoint}/{repo} failed ({first}); try again later.")
    if isinstance(e, ValueError):
        return HubError(f"the Hub rejected the upload to {repo}: {e}")
    detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return HubOfflineError(
        f"cannot reach {endpoint} to push {repo} ({type(e).__name__}: {detail}); check your connection, proxy and HF_ENDPOINT."
    )
