"""The built-in SQLite state store passes the state-store conformance kit, on local folders
and on S3 (moto) routes."""

from __future__ import annotations

from pathlib import Path

import pytest
from lakeroutine.testing.conformance.state_store import StateStoreConformance


class TestSqliteStateStore(StateStoreConformance):
    store_name = "sqlite"
    routes = ("local", "s3")

    @pytest.fixture
    def state_url(self, tmp_path: Path) -> str:
        return str(tmp_path / "state")

    def corrupt(self, state_url: str, routine: str, what: str) -> bool:
        """The lock file holds garbage (the flock still works); the journal and the saved
        values live in one database file: overwritten with garbage."""
        folder = Path(state_url)
        suffix = ".lock" if what == "lock" else ".sqlite"
        [target] = folder.glob(f"kit_kill*{suffix}")
        for extra in folder.glob("kit_kill*.sqlite-*"):
            extra.unlink()
        target.write_bytes(b"\x00garbage, not a state file" * 100)
        return True
