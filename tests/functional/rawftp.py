"""A raw FTP control connection: send exact bytes, read whole (multi-line) replies."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from netutil import HOST

_REPLY_START = re.compile(rb"^(\d{3})([ -])")


@dataclass
class Reply:
    code: int
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def multiline(self) -> bool:
        return len(self.lines) > 1

    def __str__(self) -> str:
        return self.text


class RawFTP:
    def __init__(self, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.file = self.sock.makefile("rb")
        self.greeting = self.read_reply()

    def close(self) -> None:
        try:
            self.file.close()
        finally:
            self.sock.close()

    def __enter__(self) -> "RawFTP":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _readline(self) -> bytes:
        line = self.file.readline(65536)
        if not line:
            raise ConnectionError("control connection closed by server")
        return line

    def read_reply(self) -> Reply:
        """Read one reply; a multi-line reply ends at the line 'NNN ' with the same code."""
        first = self._readline()
        m = _REPLY_START.match(first)
        if not m:
            raise ValueError(f"malformed reply line {first!r}")
        code = m.group(1)
        lines = [first.decode("utf-8", "replace").rstrip("\r\n")]
        if m.group(2) == b"-":
            while True:
                line = self._readline()
                lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))
                if line.startswith(code + b" "):
                    break
        return Reply(int(code), lines)

    def send_raw(self, data: bytes) -> Reply:
        self.sock.sendall(data)
        return self.read_reply()

    def cmd(self, line: str) -> Reply:
        return self.send_raw(line.encode("utf-8") + b"\r\n")

    def login(self, user: str, password: str) -> Reply:
        r = self.cmd(f"USER {user}")
        if r.code == 331:
            r = self.cmd(f"PASS {password}")
        return r
