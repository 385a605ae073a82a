"""Files: written safely (a temporary file beside the target, renamed into place) and hashed."""
from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Callable, Union


def _create_beside(path: Path) -> str:
    """Create a new, empty temporary file beside ``path`` and return its name.

    Created with mode 0o666, which the kernel reduces by the process umask (and
    a default ACL), so it gets the permissions any new file there gets, without
    reading or changing the umask: that is process-wide state, and ComfyUI's
    server runs nodes on several threads."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            os.close(os.open(tmp, flags, 0o666))
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file beside {path}")


def atomic_write(path: Union[str, Path], write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, flush it to
    disk, then rename it over ``path``: readers see the old file or the new one,
    never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_beside(path)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return path


def sha256_of(path: Union[str, Path], chunk: int = 1 << 20) -> str:
    """The file's sha256 as 64 lowercase hex digits, read in ``chunk``-byte blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
