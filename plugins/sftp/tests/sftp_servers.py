"""SFTP servers on loopback for the tests: asyncssh's in-process server (any user, no root)
and a real OpenSSH ``sshd`` run on a private port and config (needs root and openssh-server).

Both serve a temporary folder; keys, known_hosts and the client's options are generated.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PASSWORD = "pa55-w0rd-never-shown"
SSHD = "/usr/sbin/sshd"


@dataclass
class SftpServer:
    """A running server: where its files are, how to reach it, what the client needs."""

    kind: str
    root: Path  # the folder the URLs' paths start at
    host: str
    port: int
    user: str
    key_file: Path
    known_hosts: Path
    url_root: str  # the path of ``root`` in URLs
    stop: Any = field(repr=False, default=None)
    unprivileged: str | None = None  # a login without root's rights (same key), if any

    def url(self, path: str = "", user: str | None = None) -> str:
        login = user or self.user
        return f"sftp://{login}@{self.host}:{self.port}{self.url_root}/{path.lstrip('/')}"

    def options(self, **extra: Any) -> dict[str, Any]:
        """``storage_options`` for this server (key login, its own known_hosts)."""
        section = {"key_file": str(self.key_file), "known_hosts": str(self.known_hosts)}
        return {"sftp": {**section, **extra}}

    def files(self, folder: str) -> dict[str, bytes]:
        base = self.root / folder
        if not base.exists():
            return {}
        return {
            p.relative_to(base).as_posix(): p.read_bytes()
            for p in sorted(base.rglob("*"))
            if p.is_file()
        }

    def write(self, relpath: str, data: bytes | str) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def keys(folder: Path) -> tuple[Path, Path, Path]:
    """A host key, a client key (OpenSSH format) and the client's public key."""
    import asyncssh

    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    host = folder / "host_key"
    client = folder / "client_key"
    host_key.write_private_key(str(host))
    client_key.write_private_key(str(client))
    host_key.write_public_key(str(folder / "host_key.pub"))
    client_key.write_public_key(str(folder / "client_key.pub"))
    os.chmod(host, 0o600)
    os.chmod(client, 0o600)
    return host, client, folder / "client_key.pub"


def known_hosts_for(folder: Path, port: int) -> Path:
    line = (folder / "host_key.pub").read_text().split()[:2]
    path = folder / "known_hosts"
    path.write_text(f"[127.0.0.1]:{port} {' '.join(line)}\n")
    return path


def start_asyncssh(folder: Path) -> SftpServer:
    """asyncssh's SFTP server in a thread of this process, chrooted to ``folder/root``;
    users log in with the client key or :data:`PASSWORD`."""
    import asyncssh

    root = folder / "root"
    root.mkdir()
    host_key, client_key, client_pub = keys(folder)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    class Server(asyncssh.SSHServer):
        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, password: str) -> bool:
            return password == PASSWORD

    unreadable: set[str] = set()  # names this server refuses to open, as for a login
    # without read permission (the test process is root: file modes cannot do it)
    opening: set[int] = set()  # the SFTP sessions (by id) that have opened a file

    class Guarded(asyncssh.SFTPServer):
        def open(self, path: bytes, pflags: int, attrs: Any) -> Any:
            opening.add(id(self))
            if os.fsdecode(os.path.basename(path)) in unreadable:
                raise asyncssh.SFTPPermissionDenied("Permission denied")
            return super().open(path, pflags, attrs)

    async def listen() -> Any:
        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_factory=Server,
            server_host_keys=[str(host_key)],
            authorized_client_keys=str(client_pub),
            sftp_factory=lambda channel: Guarded(channel, chroot=str(root)),
        )

    acceptor = asyncio.run_coroutine_threadsafe(listen(), loop).result(30)
    port = acceptor.sockets[0].getsockname()[1]

    def stop() -> None:
        async def close() -> None:
            acceptor.close()
            await acceptor.wait_closed()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)

    server = SftpServer(
        "asyncssh",
        root,
        "127.0.0.1",
        port,
        "tester",
        client_key,
        known_hosts_for(folder, port),
        "",
        stop,
    )
    server.unreadable = unreadable  # type: ignore[attr-defined]
    server.opening = opening  # type: ignore[attr-defined]
    server.acceptor = acceptor  # type: ignore[attr-defined]
    server.loop = loop  # type: ignore[attr-defined]
    return server


def sshd_available() -> str | None:
    """Why a real sshd cannot run here, or None."""
    if not os.path.exists(SSHD):
        return "openssh-server is not installed (apt-get install -y openssh-server)"
    if os.geteuid() != 0:
        return "sshd must run as root"
    return None


def start_openssh(folder: Path, max_sessions: int = 64) -> SftpServer:
    """OpenSSH's sshd on a private port and config, logging in root with the client key;
    its SFTP is OpenSSH's sftp-server (copy-data, posix-rename, hardlink, fsync), at most
    ``max_sessions`` sessions per connection. ``nobody`` may log in with the same key
    (SFTP only): a login that real file modes refuse, where root reads everything."""
    root = folder / "root"
    root.mkdir()
    folder.chmod(0o755)  # nobody reaches the served folder and reads the public key
    host_key, client_key, client_pub = keys(folder)
    client_pub.chmod(0o644)
    port = free_port()
    config = folder / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {client_pub}",
                f"PidFile {folder / 'sshd.pid'}",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                f"MaxSessions {max_sessions}",
                "MaxStartups 64",
                "Subsystem sftp /usr/lib/openssh/sftp-server",
                "Match User nobody",  # its shell is nologin: SFTP inside sshd instead
                "    ForceCommand internal-sftp",
                "",
            ]
        )
    )
    os.makedirs("/run/sshd", exist_ok=True)
    process = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("sshd did not start") from None
            time.sleep(0.05)

    def stop() -> None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)

    return SftpServer(
        "openssh",
        root,
        "127.0.0.1",
        port,
        "root",
        client_key,
        known_hosts_for(folder, port),
        str(root),
        stop,
        unprivileged="nobody",
    )


def remove(server: SftpServer, folder: Path) -> None:
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)
