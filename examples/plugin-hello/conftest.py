"""lakeroutine's pytest plugin gives these tests the ``run`` and ``lake`` fixtures."""

pytest_plugins = ["lakeroutine.testing"]
