"""A TCP proxy on 127.0.0.1 that can cut the line: a real network fault, no mocks.

Everything is forwarded to ``upstream`` until ``cut_after`` bytes have gone upstream;
then every connection is closed and the listening socket too, so the client sees a
connection reset mid-request and every retry is refused.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class CuttingProxy:
    def __init__(
        self, upstream_port: int, cut_after: int | None = None, *, port: int = 0
    ):
        self.upstream = ("127.0.0.1", upstream_port)
        self.cut_after = cut_after
        self.sent = 0
        self.cut = threading.Event()
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._listener = socket.socket()
        # port=: listen where a cut proxy listened (the server "restarted")
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(16)
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.cut.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks += [client, server]
            threading.Thread(
                target=self._pump, args=(client, server, True), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(server, client, False), daemon=True
            ).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        with contextlib.suppress(OSError):
            while not self.cut.is_set():
                data = src.recv(16384)
                if not data:
                    break
                if upstream and self.cut_after is not None:
                    with self._lock:
                        room = self.cut_after - self.sent
                        self.sent += len(data)
                    if room <= len(data):
                        dst.sendall(data[: max(room, 0)])
                        self.close()
                        return
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Cut: close every connection and stop listening."""
        self.cut.set()
        with self._lock:
            socks, self._socks = self._socks, []
        for sock in [self._listener, *socks]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
