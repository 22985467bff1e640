"""Conformance kits: what every storage and state store must pass, run against its own emulator."""
