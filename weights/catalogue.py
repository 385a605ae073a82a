"""The model catalogue (``catalogue.json``): models GenSR knows by name.

An entry is either *bundled* (``file``, a path relative to this folder, shipped
with the package) or on the Hugging Face Hub (``repo``, ``filename``,
``revision``). A known ``sha256`` is verified whenever the file is used.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from ..sr_core.files import sha256_of
from .errors import GenSRError, HubIntegrityError, WeightFileError

CATALOGUE_PATH = Path(__file__).with_name("catalogue.json")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_FIELDS = ("name", "description", "file", "repo", "filename", "revision", "sha256", "size", "arch", "scale", "licence")


class CatalogueError(GenSRError, ValueError):
    """The catalogue file is malformed, or a name is not in it."""


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    description: str
    file: Optional[str]
    repo: Optional[str]
    filename: Optional[str]
    revision: Optional[str]
    sha256: Optional[str]
    size: Optional[int]
    arch: str
    scale: int
    licence: str

    @property
    def bundled(self) -> bool:
        return self.file is not None

    @property
    def file_format(self) -> str:
        """'safetensors' or 'pickle' (from the file name)."""
        name = self.file or self.filename or ""
        return "safetensors" if name.endswith(".safetensors") else "pickle"

    @property
    def source(self) -> str:
        """Where the file comes from: the bundled path or ``hf://REPO/FILE@REVISION``."""
        if self.bundled:
            return f"bundled:{self.file}"
        return f"hf://{self.repo}/{self.filename}" + (f"@{self.revision}" if self.revision else "")

    def bundled_path(self) -> Path:
        if not self.bundled:
            raise CatalogueError(f"catalogue entry {self.name!r} is on the Hub ({self.source}), not bundled")
        return CATALOGUE_PATH.parent / self.file

    def hub_options(self) -> dict[str, Any]:
        """Keyword arguments for ``resolve_hub_file`` / ``load_model`` that fetch this entry."""
        if self.bundled:
            raise CatalogueError(f"catalogue entry {self.name!r} is bundled ({self.file}), not on the Hub")
        return {"repo_id": self.repo, "filename": self.filename, "revision": self.revision, "sha256": self.sha256}

    def bundled_file(self) -> Path:
        """The bundled file, checked: present and (when known) of the right
        sha256. A Hub entry is fetched by ``load_model(**entry.hub_options())``
        or ``weights.hub.resolve_hub_file(**entry.hub_options())``: the Hub
        code reads the catalogue, never the other way round."""
        path = self.bundled_path()
        if not path.is_file():
            raise WeightFileError(
                f"the bundled model {self.name!r} is missing from this installation ({path}). "
                "Reinstall the package (pip install --force-reinstall comfyui-gensr) or reclone the node pack."
            )
        if self.sha256:
            actual = sha256_of(path)
            if actual != self.sha256:
                raise HubIntegrityError(
                    f"the bundled model {path} has sha256 {actual}, but the catalogue says {self.sha256}: "
                    "the installation is damaged or the file was replaced. It was not loaded; reinstall the package."
                )
        return path

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "source": self.source, "format": self.file_format}


def _entry(raw: dict, where: str) -> CatalogueEntry:
    missing = [k for k in _FIELDS if k not in raw]
    unknown = [k for k in raw if k not in _FIELDS]
    if missing or unknown:
        raise CatalogueError(f"{where}: missing fields {missing} / unknown fields {unknown}")
    e = CatalogueEntry(**{k: raw[k] for k in _FIELDS})
    if (e.file is None) == (e.repo is None):
        raise CatalogueError(f"{where} ({e.name}): give either 'file' (bundled) or 'repo' (Hub), not both or neither")
    if e.repo is not None and (not e.filename or e.repo.count("/") != 1):
        raise CatalogueError(f"{where} ({e.name}): a Hub entry needs 'repo' as OWNER/NAME and a 'filename'")
    if e.repo is not None and not _COMMIT.match(e.revision or ""):
        raise CatalogueError(f"{where} ({e.name}): a Hub entry's revision must be a 40-hex commit hash (a branch can move), not {e.revision!r}")
    if e.repo is not None and e.sha256 is None:
        raise CatalogueError(f"{where} ({e.name}): a Hub entry needs the file's sha256")
    if e.sha256 is not None and not _SHA256.match(e.sha256):
        raise CatalogueError(f"{where} ({e.name}): sha256 must be 64 lowercase hex digits")
    if not isinstance(e.scale, int) or e.scale < 1:
        raise CatalogueError(f"{where} ({e.name}): scale must be a positive integer")
    return e


def parse_catalogue(data: dict, where: str = "catalogue") -> tuple[CatalogueEntry, ...]:
    models = data.get("models")
    if not isinstance(models, list) or not models:
        raise CatalogueError(f"{where}: 'models' must be a non-empty list")
    entries = tuple(_entry(m, f"{where} entry {i}") for i, m in enumerate(models))
    names = [e.name for e in entries]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise CatalogueError(f"{where}: duplicate names {dupes}")
    return entries


@lru_cache(maxsize=None)
def _load(path: str) -> tuple[CatalogueEntry, ...]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CatalogueError(f"cannot read the model catalogue {path}: {e}") from None
    return parse_catalogue(data, str(path))


def load_catalogue(path: Optional[Path] = None) -> list[CatalogueEntry]:
    """All entries, the bundled default model first."""
    return list(_load(str(path or CATALOGUE_PATH)))


def get_entry(name: str) -> CatalogueEntry:
    for e in load_catalogue():
        if e.name == name:
            return e
    known = ", ".join(e.name for e in load_catalogue())
    raise CatalogueError(f"no model named {name!r} in the catalogue; known: {known} (see `gensr models`)")


def find_hub_entry(repo_id: str, filename: str) -> Optional[CatalogueEntry]:
    """The catalogue entry for this Hub file, if any (repo ids are case-insensitive on the Hub)."""
    for e in load_catalogue():
        if e.repo and e.repo.lower() == repo_id.lower() and e.filename == filename:
            return e
    return None


def default_entry() -> CatalogueEntry:
    return load_catalogue()[0]
