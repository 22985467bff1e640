"""Conformance kits: the guarantees every storage (and state store) must keep, written once
as abstract pytest test classes that each backend runs against its own emulator by
subclassing (the rclone ``fstests`` and fsspec abstract-test habit). See CONTRIBUTING."""
