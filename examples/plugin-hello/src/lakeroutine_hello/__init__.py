"""lakeroutine-hello: the example third-party plugin of CONTRIBUTING.md.

Importing it is cheap; lakeroutine loads ``lakeroutine_hello.plugin`` through the entry point.
"""

__version__ = "0.1.0"
