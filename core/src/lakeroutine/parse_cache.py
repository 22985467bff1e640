"""A parse-time validation cache for schedulers: "this exact input is valid", kept on disk.

A scheduler parses its DAG or definitions file over and over (Airflow's DAG processor every
few seconds, each Dagster code-server start). Validating the routine with pydantic costs more
than building the DAG, so the way astronomer-cosmos caches dbt's manifest, a parse
(:func:`lakeroutine.parse_steps.parse_steps`) validates fully once and records that the input
was valid; later parses of the same input read the steps from the file as written.

An entry is named by an HMAC of the routine file's path and content, the variables passed,
the Python running and the distributions installed; it holds the names of the environment
variables validation looked up and the local files it opened or named, with an HMAC of their
values and state then, and an HMAC of the steps it found. It stands only while all of them
are unchanged. The HMAC key is random, kept ``0600`` in the cache folder: values (secrets
read through ``${env:...}``, variables) are never stored in clear, nor recoverable from it.

The folder is ``$LAKEROUTINE_PARSE_CACHE`` if set (``off`` disables the cache), else
``lakeroutine/parse`` under the user's cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``;
``%LOCALAPPDATA%`` on Windows). A folder that cannot be written only costs speed; entries
older than 30 days are removed whenever one is written. Running a routine (``run_routine``,
``lakeroutine validate``) never reads it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ENV_VAR = "LAKEROUTINE_PARSE_CACHE"
FORMAT = 1
MAX_AGE_S = 30 * 24 * 3600.0  # entries older than this are removed when one is written
_OFF = ("", "0", "off", "false", "no")
_KEY = "key"


def cache_dir(env: Mapping[str, str] | None = None) -> Path | None:
    """Where entries are kept, or None when ``$LAKEROUTINE_PARSE_CACHE`` turns it off."""
    env = os.environ if env is None else env
    chosen = env.get(ENV_VAR)
    if chosen is not None:
        return None if chosen.strip().lower() in _OFF else Path(chosen).expanduser()
    base = env.get("XDG_CACHE_HOME") or (env.get("LOCALAPPDATA") if os.name == "nt" else None)
    return Path(base or Path.home() / ".cache") / "lakeroutine" / "parse"


class ParseCache:
    """The entries of one cache folder, signed with its key."""

    def __init__(self, folder: Path, key: bytes) -> None:
        self.folder = folder
        self._key = key

    @classmethod
    def open(cls, env: Mapping[str, str] | None = None) -> ParseCache | None:
        """The cache, with its key read or made (None: turned off, or no usable key)."""
        folder = cache_dir(env)
        if folder is None:
            return None
        key = _read_key(folder / _KEY)
        if key is None:
            key = _make_key(folder)
        return cls(folder, key) if key is not None else None

    def sign(self, value: Any) -> str:
        """The HMAC of ``value`` as canonical JSON (bytes as hex), in hex."""
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=_plain)
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def read(self, name: str) -> dict[str, Any] | None:
        """The entry ``name`` (an HMAC), or None."""
        try:
            entry = json.loads((self.folder / f"{name}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) and entry.get("format") == FORMAT else None

    def write(self, name: str, entry: dict[str, Any]) -> None:
        """Keep ``entry`` as ``name``, atomically; a failure only loses the entry."""
        target = self.folder / f"{name}.json"
        temporary = self.folder / f".{name}.{os.urandom(4).hex()}.tmp"
        try:
            temporary.write_text(json.dumps({"format": FORMAT, **entry}), encoding="utf-8")
            os.replace(temporary, target)
            self.prune()
        except OSError:
            temporary.unlink(missing_ok=True)

    def prune(self, max_age_s: float = MAX_AGE_S) -> None:
        """Remove entries written more than ``max_age_s`` ago (an input seen again is then
        validated once more): each edit of a routine leaves its old entry behind."""
        limit = time.time() - max_age_s
        with os.scandir(self.folder) as found:
            for item in found:
                if item.name.endswith(".json") and item.stat().st_mtime < limit:
                    Path(item.path).unlink(missing_ok=True)


def _plain(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else str(value)


def _read_key(path: Path) -> bytes | None:
    """The folder's key, if it is ours and no one else may read it."""
    try:
        stat = path.stat()
        if stat.st_mode & 0o077 or (hasattr(os, "getuid") and stat.st_uid != os.getuid()):
            return None
        key = bytes.fromhex(path.read_text(encoding="ascii"))
    except (OSError, ValueError):
        return None
    return key if len(key) == 32 else None


def _make_key(folder: Path) -> bytes | None:
    """A new random key, published atomically (a process racing us may win: we read its)."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = folder / f".key.{os.urandom(4).hex()}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(os.urandom(32).hex())
        try:
            os.link(temporary, folder / _KEY)
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)
    except OSError:
        return None
    return _read_key(folder / _KEY)
