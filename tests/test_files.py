"""sr_core/files.py: atomic writes give the file the permissions any new file
gets (the umask applies) without touching process-wide state, so they are safe
on ComfyUI's server threads."""
from __future__ import annotations

import os
import stat
import sys
import threading
from pathlib import Path

import pytest

from gensr.sr_core.files import atomic_write

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions and umask")


@pytest.fixture
def umask():
    """Set the process umask for one test; restored afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda value: os.umask(value)
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@posix_only
@pytest.mark.parametrize("value", [0o022, 0o027, 0o077, 0o002])
def test_atomic_write_gives_the_permissions_of_any_new_file(tmp_path, umask, value):
    umask(value)
    reference = tmp_path / "plain.bin"
    with open(reference, "wb") as f:  # how any program's new file comes out under this umask
        f.write(b"x")
    written = atomic_write(tmp_path / "atomic.bin", lambda tmp: Path(tmp).write_bytes(b"y"))
    assert mode(written) == mode(reference) == 0o666 & ~value
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@posix_only
def test_atomic_write_never_changes_the_process_umask(tmp_path, monkeypatch):
    """ComfyUI runs nodes on several threads: a umask flipped to 0 for a moment
    would give another thread's new files world-writable permissions."""
    calls = []
    real = os.umask

    def watched(value):
        calls.append((threading.current_thread().name, oct(value)))
        return real(value)

    monkeypatch.setattr(os, "umask", watched)
    atomic_write(tmp_path / "a.bin", lambda tmp: Path(tmp).write_bytes(b"z"))
    assert calls == [], f"atomic_write set the process umask: {calls}"


def test_atomic_write_from_many_threads_at_once(tmp_path):
    def write(i: int) -> None:
        atomic_write(tmp_path / f"{i % 4}.bin", lambda tmp: Path(tmp).write_bytes(bytes([i % 4]) * 1000))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.bin", "1.bin", "2.bin", "3.bin"]
    for k in range(4):
        assert (tmp_path / f"{k}.bin").read_bytes() == bytes([k]) * 1000
