"""A small Hugging Face Hub-compatible HTTP server for tests, on 127.0.0.1 only.

It implements what ``huggingface_hub`` (``hf_hub_download``, the tree API,
``create_repo``, ``create_commit``) needs, with the Hub's headers
(``X-Repo-Commit``, ``ETag``/``X-Linked-Etag`` = sha256 for LFS-tracked weight
files, ``Content-Length``, ``Range``) and its error codes (``X-Error-Code``:
RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo). Switches let a test
cut responses short or make every request fail. Uploads are accepted in the
"regular" (inline, base64) mode; the Hub's LFS/Xet upload protocols are not emulated.

    with FakeHub() as hub:
        hub.commit("alice/sr", {"model.safetensors": data})
        os.environ["HF_ENDPOINT"] = hub.url
"""
from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import parse_qs, unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".ckpt")
TOKEN = "hf_gensr_test_token"


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def etag_of(path: str, data: bytes) -> str:
    """The Hub's ETag: sha256 for LFS files (weights), git blob sha1 otherwise."""
    return hashlib.sha256(data).hexdigest() if path.endswith(LFS_SUFFIXES) else git_blob_sha1(data)


@dataclass
class Repo:
    repo_id: str
    private: bool = False
    gated: bool = False
    commits: dict = field(default_factory=dict)  # sha -> {path: bytes}
    refs: dict = field(default_factory=dict)  # branch or tag -> sha

    def resolve(self, revision: str) -> Optional[str]:
        if revision in self.refs:
            return self.refs[revision]
        return revision if revision in self.commits else None


class FakeHub:
    """State and switches of the fake Hub; ``start()`` serves it on 127.0.0.1:random port."""

    def __init__(self, token: str = TOKEN):
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request received
        self.truncate_at: Optional[int] = None  # file GETs send this many body bytes, then drop the connection
        self.truncate_times: Optional[int] = None  # ... this many times (None: every time)
        self.short_body_at: Optional[int] = None  # file GETs send a consistent but short body (HEAD still says full size)
        self.fail_status: Optional[int] = None  # every request answers with this status
        self.lock = threading.RLock()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._counter = 0

    # ------------------------------------------------------------ repositories
    def create_repo(self, repo_id: str, *, private: bool = False, gated: bool = False) -> Repo:
        with self.lock:
            if repo_id not in self.repos:
                repo = Repo(repo_id, private=private, gated=gated)
                self.repos[repo_id] = repo
                self._new_commit(repo, "main", {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"}, [])
            return self.repos[repo_id]

    def commit(self, repo_id: str, files: dict, *, branch: str = "main", delete: tuple = (), **repo_options) -> str:
        """Add/replace ``files`` (path -> bytes) on ``branch``; returns the new commit sha."""
        with self.lock:
            repo = self.create_repo(repo_id, **repo_options)
            return self._new_commit(repo, branch, files, delete)

    def tag(self, repo_id: str, tag: str, revision: str = "main") -> None:
        with self.lock:
            repo = self.repos[repo_id]
            repo.refs[tag] = repo.resolve(revision)

    def _new_commit(self, repo: Repo, branch: str, files: dict, delete) -> str:
        parent = repo.refs.get(branch) or repo.refs.get("main")
        snapshot = dict(repo.commits.get(parent, {}))
        for path in delete:
            snapshot.pop(path, None)
        snapshot.update(files)
        self._counter += 1
        sha = hashlib.sha1(f"{repo.repo_id}|{parent}|{self._counter}|{sorted(snapshot)}".encode()).hexdigest()
        repo.commits[sha] = snapshot
        repo.refs[branch] = sha
        return sha

    def file_requests(self, method: str = "GET") -> list[str]:
        return [p for m, p in self.requests if m == method and "/resolve/" in p]

    # ------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        assert self._server is not None, "start() the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "FakeHub":
        handler = type("BoundHandler", (_Handler,), {"hub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> "FakeHub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _HubHTTPError(Exception):
    def __init__(self, status: int, code: Optional[str] = None, message: str = "", headers: Optional[dict] = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"
    server_version = "FakeHub/1.0"

    def log_message(self, format, *args):  # keep test output clean
        pass

    # ------------------------------------------------------------ plumbing
    def _send(self, status: int, body: bytes = b"", headers: Optional[dict] = None, *, head: bool = False) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")  # no keep-alive: a stopped server serves nothing more
        self.end_headers()
        self.close_connection = True
        if not head and body:
            self.wfile.write(body)

    def _json(self, status: int, obj, headers: Optional[dict] = None) -> None:
        self._send(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _error(self, e: _HubHTTPError, head: bool = False) -> None:
        headers = dict(e.headers)
        if e.code:
            headers["X-Error-Code"] = e.code
        if e.message:
            headers["X-Error-Message"] = e.message
        body = b"" if head else json.dumps({"error": e.message}).encode()
        self._send(e.status, body, {"Content-Type": "application/json", **headers}, head=head)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authorised(self) -> bool:
        auth = self.headers.get("Authorization")
        if auth is None:
            return False
        if auth != f"Bearer {self.hub.token}":
            raise _HubHTTPError(401, None, "Invalid credentials in Authorization header")
        return True

    def _repo_for_read(self, repo_id: str) -> Repo:
        authorised = self._authorised()
        repo = self.hub.repos.get(repo_id)
        if repo is None or (repo.private and not authorised):
            raise _HubHTTPError(401 if not authorised else 404, "RepoNotFound", "Repository not found")
        if repo.gated and not authorised:
            raise _HubHTTPError(
                401, "GatedRepo", f"Access to model {repo_id} is restricted. You must have access to it and be authenticated to access it. Please log in."
            )
        return repo

    def _repo_for_write(self, repo_id: str) -> Repo:
        if not self._authorised():
            raise _HubHTTPError(401, None, "You must be authenticated to write to a repository")
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            raise _HubHTTPError(404, "RepoNotFound", "Repository not found")
        return repo

    def _commit_of(self, repo: Repo, revision: str) -> str:
        sha = repo.resolve(revision)
        if sha is None:
            raise _HubHTTPError(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return sha

    # ------------------------------------------------------------ dispatch
    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        with self.hub.lock:
            self.hub.requests.append((method, split.path))
        head = method == "HEAD"
        try:
            if self.hub.fail_status is not None:
                raise _HubHTTPError(self.hub.fail_status, None, f"forced failure {self.hub.fail_status}")
            segs = split.path.lstrip("/").split("/")
            if segs[0] == "api":
                self._api(method, segs[1:], parse_qs(split.query))
            elif len(segs) >= 5 and segs[2] == "resolve" and method in ("GET", "HEAD"):
                self._resolve(f"{unquote(segs[0])}/{unquote(segs[1])}", unquote(segs[3]), unquote("/".join(segs[4:])), head)
            else:
                raise _HubHTTPError(404, None, f"no route for {method} {split.path}")
        except _HubHTTPError as e:
            self._error(e, head=head)

    # ------------------------------------------------------------ files
    def _resolve(self, repo_id: str, revision: str, path: str, head: bool) -> None:
        with self.hub.lock:
            repo = self._repo_for_read(repo_id)
            sha = self._commit_of(repo, revision)
            files = repo.commits[sha]
            if path not in files:
                raise _HubHTTPError(404, "EntryNotFound", f"{path} does not exist on \"{revision}\"", {"X-Repo-Commit": sha})
            data = files[path]
            truncate = None
            if not head and self.hub.truncate_at is not None and self.hub.truncate_times != 0:
                truncate = self.hub.truncate_at
                if self.hub.truncate_times is not None:
                    self.hub.truncate_times -= 1
            short = None if head else self.hub.short_body_at
        etag = etag_of(path, data)
        headers = {"X-Repo-Commit": sha, "ETag": f'"{etag}"', "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        if path.endswith(LFS_SUFFIXES):
            headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(len(data))})
        start, status = 0, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and not head:
            start = int(rng[len("bytes="):].split("-")[0] or 0)
            if start >= len(data):
                raise _HubHTTPError(416, None, "Range Not Satisfiable", {"Content-Range": f"bytes */{len(data)}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        if short is not None:
            body = body[:short]
        headers["Content-Length"] = str(len(body))
        if truncate is None:
            self._send(status, body, headers, head=head)
            return
        # announce the full length, send part of it, then drop the connection
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body[:truncate])
        self.wfile.flush()
        self.close_connection = True

    # ------------------------------------------------------------ API
    def _api(self, method: str, segs: list[str], query: dict) -> None:
        if method == "POST" and segs == ["repos", "create"]:
            return self._create_repo()
        if method == "POST" and segs == ["validate-yaml"]:
            return self._validate_yaml()
        if len(segs) < 3 or segs[0] not in ("models", "datasets", "spaces"):
            raise _HubHTTPError(404, None, f"no API route /api/{'/'.join(segs)}")
        repo_id, rest = f"{unquote(segs[1])}/{unquote(segs[2])}", segs[3:]
        if method == "GET" and (not rest or rest[0] == "revision"):
            return self._repo_info(repo_id, unquote(rest[1]) if len(rest) > 1 else "main")
        if method == "GET" and rest and rest[0] == "tree" and len(rest) >= 2:
            return self._tree(repo_id, unquote(rest[1]), unquote("/".join(rest[2:])), query)
        if method == "POST" and rest and rest[0] == "preupload" and len(rest) == 2:
            return self._preupload(repo_id, unquote(rest[1]))
        if method == "POST" and rest and rest[0] == "commit" and len(rest) == 2:
            return self._commit(repo_id, unquote(rest[1]))
        if method == "POST" and rest and rest[0] == "branch" and len(rest) >= 2:
            return self._branch(repo_id, unquote("/".join(rest[1:])))
        raise _HubHTTPError(404, None, f"no API route {method} /api/{'/'.join(segs)}")

    def _repo_info(self, repo_id: str, revision: str) -> None:
        with self.hub.lock:
            repo = self._repo_for_read(repo_id)
            sha = self._commit_of(repo, revision)
            files = repo.commits[sha]
        self._json(200, {
            "id": repo_id, "modelId": repo_id, "sha": sha, "private": repo.private, "gated": "auto" if repo.gated else False,
            "disabled": False, "tags": [], "downloads": 0, "likes": 0,
            "siblings": [{"rfilename": p} for p in sorted(files)],
        })

    def _tree(self, repo_id: str, revision: str, prefix: str, query: dict) -> None:
        recursive = query.get("recursive", ["false"])[0].lower() == "true"
        with self.hub.lock:
            repo = self._repo_for_read(repo_id)
            files = dict(repo.commits[self._commit_of(repo, revision)])
        base = f"{prefix}/" if prefix else ""
        entries, folders = [], set()
        for path in sorted(files):
            if not path.startswith(base):
                continue
            rel = path[len(base):]
            if "/" in rel:
                parts = rel.split("/")
                depth = len(parts) - 1 if recursive else 1
                for i in range(1, depth + 1):
                    folders.add(base + "/".join(parts[:i]))
                if not recursive:
                    continue
            data = files[path]
            entry = {"type": "file", "oid": git_blob_sha1(data), "size": len(data), "path": path}
            if path.endswith(LFS_SUFFIXES):
                entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            entries.append(entry)
        entries += [{"type": "directory", "oid": hashlib.sha1(f.encode()).hexdigest(), "size": 0, "path": f} for f in sorted(folders)]
        self._json(200, entries)

    def _create_repo(self) -> None:
        if not self._authorised():
            raise _HubHTTPError(401, None, "You must be authenticated to create a repository")
        payload = json.loads(self._body() or b"{}")
        repo_id = f"{payload.get('organization')}/{payload['name']}"
        url = f"http://{self.headers.get('Host')}/{repo_id}"
        with self.hub.lock:
            if repo_id in self.hub.repos:
                return self._json(409, {"error": "You already created this model repo", "url": url})
            private = payload.get("private") is True or payload.get("visibility") == "private"
            self.hub.create_repo(repo_id, private=private)
        self._json(200, {"url": url, "name": repo_id})

    def _validate_yaml(self) -> None:
        content = json.loads(self._body() or b"{}").get("content", "")
        errors = []
        if content.startswith("---"):
            try:
                import yaml

                front = content.split("---", 2)[1]
                if not isinstance(yaml.safe_load(front), dict):
                    errors.append({"message": "metadata is not a mapping"})
            except ImportError:
                pass
            except Exception as e:  # yaml.YAMLError
                errors.append({"message": f"invalid YAML: {e}"})
        self._json(400 if errors else 200, {"errors": errors, "warnings": []})

    def _preupload(self, repo_id: str, revision: str) -> None:
        payload = json.loads(self._body() or b"{}")
        with self.hub.lock:
            repo = self._repo_for_write(repo_id)
            files = repo.commits[self._commit_of(repo, revision)]
        answer = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                   "oid": git_blob_sha1(files[f["path"]]) if f["path"] in files else None} for f in payload.get("files", [])]
        self._json(200, {"files": answer})

    def _commit(self, repo_id: str, revision: str) -> None:
        lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
        add, delete = {}, []
        for item in lines:
            if item["key"] == "file":
                add[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            elif item["key"] == "deletedFile":
                delete.append(item["value"]["path"])
            elif item["key"] != "header":
                raise _HubHTTPError(400, None, f"the fake Hub does not support {item['key']} operations")
        with self.hub.lock:
            repo = self._repo_for_write(repo_id)
            self._commit_of(repo, revision)
            if revision not in repo.refs:
                raise _HubHTTPError(400, None, f"can only commit to a branch, not {revision}")
            sha = self.hub._new_commit(repo, revision, add, delete)
        self._json(200, {"commitUrl": f"http://{self.headers.get('Host')}/{repo_id}/commit/{sha}", "commitOid": sha, "success": True})

    def _branch(self, repo_id: str, branch: str) -> None:
        payload = json.loads(self._body() or b"{}")
        with self.hub.lock:
            repo = self._repo_for_write(repo_id)
            if branch in repo.refs:
                raise _HubHTTPError(409, None, f"Reference already exists: refs/heads/{branch}")
            repo.refs[branch] = self._commit_of(repo, payload.get("startingPoint") or "main")
        self._json(200, {})
