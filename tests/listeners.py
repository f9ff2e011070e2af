"""TCP listeners on loopback for the network tests, each stopped by its test.

`loopback_address()` hands each test its own 127.77.0.X address, so tests that
listen on the same port (1521, 554) never meet. `Listener` serves one address
and port from a thread: silent (accepts and never sends), a banner sent on
connect, or replies to requests that contain a trigger. A request with no
trigger closes the connection, so nmap moves on to its next probe at once
instead of waiting out the probe's timeout.
"""

from __future__ import annotations

import itertools
import selectors
import socket
import threading
from dataclasses import dataclass, field
from typing import Self

# Replies that match lines of nmap's nmap-service-probes (nmap 7.93) accept.

# Probe oracle-tns sends "(CONNECT_DATA=(COMMAND=version))"; the match line
#   match oracle-tns m|^\0.\0\0[\x02\x04]\0\0\0.*TNSLSNR for ([-.+/ \w]{2,24}):
#   Version ([-\d.]+) - Production|s p/Oracle TNS Listener/ v/$2/ i/for $1/
# accepts a TNS packet of type 4 whose text carries the listener's version.
TNS_TEXT = (
    b"(DESCRIPTION=(TMP=)(VSNNUM=318767104)(ERR=0)"
    b"(VERSION=TNSLSNR for Linux: Version 19.0.0.0.0 - Production))"
)
TNS_REPLY = (8 + len(TNS_TEXT)).to_bytes(2, "big") + b"\0\0\x04\0\0\0" + TNS_TEXT

# Probe ms-sql-s sends a TDS pre-login packet naming "MSSQLServer"; the match
#   match ms-sql-s m|^\x04\x01\x00\x25\x00\x00\x01\x00\x00\x00\x15\x00\x06\x01
#   \x00\x1b\x00\x01\x02\x00\x1c\x00\x01\x03\x00\x1d\x00\x00\xff\x0f\x00(..)|s
#   p/Microsoft SQL Server 2019/ v/15.00.$I(1,">")/
# reads the build number big-endian: 0x10cc is 4300.
MSSQL_REPLY = (
    bytes.fromhex("0401002500000100000015000601001b000102001c000103001d0000ff0f00")
    + b"\x10\xcc"
    + b"\0" * 4
)

# Probe RTSPRequest sends "OPTIONS / RTSP/1.0"; its fallback GetRequest has
#   softmatch rtsp m|^RTSP/1.0 .*\r\n|
RTSP_REPLY = (
    b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nServer: test-rtspd\r\n"
    b"Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n"
)

# The NULL probe (nmap connects and waits) has
#   match 1c-server m|^S\xf5\xc6\x1a{| p/1C:Enterprise business management server/
ONE_C_BANNER = b"S\xf5\xc6\x1a{"

SSH_BANNER = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"

# Probe HTTPOptions sends "OPTIONS / HTTP/1.0"; the match
#   match http m|^HTTP/1\.1 200 OK\r\nServer: AvigilonOnvifNvt/([\d.]+)\r\n|
#   p/Avigilon webcam ONVIF NVT/ v/$1/ d/webcam/
# names an ONVIF camera's web service, with the device type "webcam".
ONVIF_REPLY = (
    b"HTTP/1.1 200 OK\r\nServer: AvigilonOnvifNvt/3.2\r\nContent-Length: 0\r\n\r\n"
)

# Host part of the next address of 127.77.0.0/24 (2-254) handed out.
_HOSTS = itertools.count(2)
_HOSTS_LOCK = threading.Lock()


def loopback_address() -> str:
    """Return a loopback address no other test of this run has been given."""
    with _HOSTS_LOCK:
        host = next(_HOSTS)
    if host > 254:
        raise RuntimeError("the 127.77.0.0/24 test addresses are used up")
    return f"127.77.0.{host}"


def loopback_pair() -> tuple[str, str]:
    """Return two new consecutive addresses forming a /31 (the first is even)."""
    with _HOSTS_LOCK:
        host = next(_HOSTS)
        if host % 2:
            host = next(_HOSTS)
        second = next(_HOSTS)
    if second > 254:
        raise RuntimeError("the 127.77.0.0/24 test addresses are used up")
    return f"127.77.0.{host}", f"127.77.0.{second}"


@dataclass
class Listener:
    """A TCP server on (address, port), run in a thread until `stop`.

    `banner` is sent on every connection; `replies` maps a byte string that a
    request contains to the bytes sent back. With neither, the listener is
    silent and keeps connections open.
    """

    address: str
    port: int
    banner: bytes = b""
    replies: dict[bytes, bytes] = field(default_factory=dict)
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # A rerun of the suite reuses the same address and port while the last
        # run's connections are still in TIME_WAIT.
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind((self.address, self.port))
        self._server.listen(64)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._server, selectors.EVENT_READ, None)
        self._buffers: dict[socket.socket, bytearray] = {}
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for connection in list(self._buffers):
            connection.close()
        self._server.close()
        self._selector.close()

    def _serve(self) -> None:
        # The selector wakes every 0.1 s to see whether the test has stopped it.
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.1):
                if key.fileobj is self._server:
                    self._accept()
                else:
                    self._receive(key.fileobj)

    def _accept(self) -> None:
        connection, _ = self._server.accept()
        self.connections += 1
        self._buffers[connection] = bytearray()
        self._selector.register(connection, selectors.EVENT_READ, None)
        if self.banner:
            self._send(connection, self.banner)

    def _receive(self, connection: socket.socket) -> None:
        try:
            data = connection.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._close(connection)
            return
        self.requests.append(data)
        if not self.replies:
            return
        buffer = self._buffers[connection]
        buffer += data
        for trigger, reply in self.replies.items():
            if trigger in buffer:
                buffer.clear()
                self._send(connection, reply)
                return
        self._close(connection)

    def _send(self, connection: socket.socket, data: bytes) -> None:
        try:
            connection.sendall(data)
        except OSError:
            self._close(connection)

    def _close(self, connection: socket.socket) -> None:
        if connection in self._buffers:
            self._selector.unregister(connection)
            del self._buffers[connection]
            connection.close()
