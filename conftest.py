"""Root conftest: lakeroutine's own pytest fixtures for every test in the repository."""

pytest_plugins = ["lakeroutine.testing"]
