"""State stores by URL scheme, as plugins registered them, and which URL a routine uses.

A routine names its store with ``"state": URL``; ``--state URL`` or ``LAKEROUTINE_STATE``
override it. ``"state_dir"`` (or ``LAKEROUTINE_STATE_DIR``) is a local folder, as before; the
default is ``.lakeroutine/state`` beside the routine file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from lakeroutine.state.base import StateError, StateStore
from lakeroutine.storage.registry import scheme_of

DEFAULT_DIR = ".lakeroutine/state"
# Which distribution to install for a scheme no installed plugin serves.
KNOWN_PROVIDERS = {"s3": "lakeroutine-s3", "s3a": "lakeroutine-s3"}

StateFactory = Callable[..., StateStore]
"""Called as ``factory(url, routine=NAME)``; returns a store without touching anything yet."""


class StateStoreEntry:
    """A registered scheme: its factory, and the plugin and distribution that gave it (a
    plain class: a dataclass compiles its methods at import, which every parse pays)."""

    __slots__ = ("distribution", "factory", "plugin", "scheme")

    def __init__(self, scheme: str, factory: StateFactory, plugin: str, distribution: str) -> None:
        self.scheme = scheme
        self.factory = factory
        self.plugin = plugin
        self.distribution = distribution


def unknown_scheme(scheme: str, known: list[str]) -> str:
    """The message for a state URL no installed plugin serves, naming what to install."""
    hint = ""
    if scheme in KNOWN_PROVIDERS:
        from lakeroutine.install import install_hint

        hint = f"; install it with: {install_hint(KNOWN_PROVIDERS[scheme])}"
    return (
        f"no state store plugin serves {scheme}:// URLs (installed: "
        f"{', '.join(sorted(known)) or 'none'}){hint}"
    )


def state_url(
    *,
    base_dir: Path,
    routine_state: str | None,
    routine_state_dir: str | None,
    override: str | None,
    env: Mapping[str, str],
) -> str:
    """The state URL a routine uses: ``--state``, then ``LAKEROUTINE_STATE``, then the
    routine's ``state`` or ``state_dir``, then ``LAKEROUTINE_STATE_DIR``, then the default.
    Local folders come back absolute (relative ones are beside the routine file)."""
    if routine_state and routine_state_dir:
        raise ValueError("give either state (a URL) or state_dir (a local folder), not both")
    text = (
        override
        or env.get("LAKEROUTINE_STATE")
        or routine_state
        or routine_state_dir
        or env.get("LAKEROUTINE_STATE_DIR")
        or DEFAULT_DIR
    )
    if scheme_of(text) != "file":
        return text
    local = text[len("file://") :] if text.startswith("file://") else text
    return str(base_dir / Path(local).expanduser())


class StateStores:
    """Registered state stores; :meth:`open` builds one for a routine."""

    def __init__(self, entries: dict[str, StateStoreEntry]) -> None:
        self.entries = entries

    def check(self, url: str) -> None:
        """ValueError naming the plugin to install if no store serves ``url``."""
        scheme = scheme_of(url)
        if scheme not in self.entries:
            raise ValueError(unknown_scheme(scheme, list(self.entries)))

    def open(self, url: str, routine: str) -> StateStore:
        """The store at ``url`` for ``routine`` (nothing is read or written yet)."""
        scheme = scheme_of(url)
        entry = self.entries.get(scheme)
        if entry is None:
            raise StateError(unknown_scheme(scheme, list(self.entries)))
        try:
            store = entry.factory(url, routine=routine)
        except StateError:
            raise
        except ValueError as exc:
            raise StateError(f"state {url}: {exc}") from None
        if not isinstance(store, StateStore):
            raise StateError(
                f"plugin {entry.plugin!r} (distribution {entry.distribution}) built "
                f"{type(store).__name__} for {scheme}:// state, which is not a StateStore"
            )
        return store
