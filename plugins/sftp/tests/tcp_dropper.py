"""A loopback TCP forwarder that drops every open connection each time another ``every``
bytes have gone through: an SSH connection lost mid-run, again and again."""

from __future__ import annotations

import contextlib
import socket
import threading


class TcpDropper:
    """``with TcpDropper(port, every=...) as dropper: connect to dropper.port``."""

    def __init__(self, upstream_port: int, every: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.every = every
        self.forwarded = 0
        self.next_drop = every
        self.drops = 0
        self.connections = 0
        self.lock = threading.Lock()
        self.open: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = False

    def __enter__(self) -> TcpDropper:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped = True
        self.listener.close()
        self._drop_all()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            for sock in (client, server):  # no Nagle delays on small SSH packets
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.open += [client, server]
                self.connections += 1
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
                with self.lock:
                    self.forwarded += len(data)
                    due = self.forwarded >= self.next_drop
                    if due:
                        self.next_drop = self.forwarded + self.every
                        self.drops += 1
                if due:
                    self._drop_all()
                    return
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.close()

    def _drop_all(self) -> None:
        with self.lock:
            sockets, self.open = self.open, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
