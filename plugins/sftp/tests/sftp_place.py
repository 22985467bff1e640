"""An SFTP server's folder as a place of the storage conformance kit: SftpPlace."""

from __future__ import annotations

import os
import pwd
from typing import Any

from lakeroutine.testing.conformance.login import give_to
from lakeroutine.testing.conformance.storage import LocalPlace
from sftp_servers import PASSWORD, SftpServer


class SftpPlace(LocalPlace):
    """A folder on an SFTP server, filled and read through the server's own filesystem;
    on asyncssh's server the login is a password from the environment (never shown)."""

    label = "sftp"
    scheme = "sftp"

    def __init__(self, server: SftpServer, folder: str = "lake", password: bool = False) -> None:
        super().__init__(server.root / folder)
        self.server = server
        self.folder = folder
        self.password = password
        self.secrets = (PASSWORD,) if password else ()
        if password:
            os.environ["KIT_SFTP_PASSWORD"] = PASSWORD  # undone by the fixture

    def url(self, folder: str) -> str:
        path = f"{self.folder}/{folder}"
        return self.server.url(path, getattr(self, "user", None)).rstrip("/") + "/"

    def options(self) -> dict[str, Any]:
        if self.password:
            known = str(self.server.known_hosts)
            return {"sftp": {"password": "${env:KIT_SFTP_PASSWORD}", "known_hosts": known}}
        return self.server.options()

    def share_with(self, login: tuple[int, int]) -> None:
        """The login a local landing runs under reads this server's key and known hosts
        (their folder traversable by it; root still reads them)."""
        for path in (self.server.key_file, self.server.known_hosts):
            os.chown(path, *login)
            os.chmod(path.parent, path.parent.stat().st_mode | 0o711)

    def aliases(self, folder: str) -> list[str]:
        """Host spellings (``localhost``, ``[::1]`` for 127.0.0.1), the path spelt with
        ``.``, ``//`` and without its slash, and server-side symbolic links to the folder
        and to its parent."""
        url = self.url(folder)
        link = self.root / f"link-to-{folder.replace('/', '-')}"
        parent = self.root.parent / f"{self.folder}-link"
        if not link.is_symlink():
            link.symlink_to(folder)  # relative: the same inside a chroot
        if not parent.is_symlink():
            parent.symlink_to(self.folder)
        server = self.server
        head = f"sftp://{server.user}@"
        path = f"{server.url_root}/{self.folder}/{folder}/"
        return [
            url.rstrip("/"),
            f"{head}localhost:{server.port}{path}",
            f"{head}[::1]:{server.port}{path}",
            f"{head}{server.host}:{server.port}{server.url_root}/{self.folder}/./{folder}/",
            f"{head}{server.host}:{server.port}{server.url_root}//{self.folder}/{folder}",
            self.url(link.name),
            f"{head}{server.host}:{server.port}{server.url_root}/{parent.name}/{folder}/",
        ]

    def root_url(self) -> str:
        return f"sftp://{self.server.user}@{self.server.host}:{self.server.port}/"

    def make_unreadable(self, folder: str, name: str) -> bool:
        """asyncssh's server (our emulator) refuses that file's opens with
        SSH_FX_PERMISSION_DENIED; on OpenSSH, root reads everything: the place's files go
        to its unprivileged login, which the routine then uses, and the file gets mode 000
        (OpenSSH's sftp-server then refuses it as it refuses any login)."""
        unreadable = getattr(self.server, "unreadable", None)
        if unreadable is not None:
            unreadable.add(name)
            return True
        if self.server.unprivileged is None:
            return False
        user = pwd.getpwnam(self.server.unprivileged)
        give_to(self.root, (user.pw_uid, user.pw_gid))
        (self.root / folder / name).chmod(0)
        self.user = self.server.unprivileged
        return True
