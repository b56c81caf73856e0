"""Stopping the server: SIGTERM closes the listeners and idle sessions at once, lets transfers
in progress finish within the grace period, and aborts what is left after it, so that no upload
is ever half-committed."""

from __future__ import annotations

import ftplib
import signal
import socket
import time

import pytest

from netutil import HOST
from ossftp_server import Account, OssftpServer

MiB = 1024 * 1024


def start(tmp_path, grace: int) -> OssftpServer:
    server = OssftpServer(tmp_path / "srv", [Account("alice", "pw", "bkt")],
                          extra_args=["--shutdown_grace", str(grace)], expect_exit=True)
    return server.start()


def login(server: OssftpServer) -> ftplib.FTP:
    ftp = ftplib.FTP(timeout=30)
    ftp.connect(HOST, server.port)
    ftp.login("alice", "pw")
    return ftp


def test_sigterm_lets_a_running_upload_finish_then_closes(tmp_path):
    server = start(tmp_path, grace=30)
    idle, uploader = login(server), login(server)
    uploader.voidcmd("TYPE I")
    data = uploader.transfercmd("STOR kept.bin")
    data.sendall(b"a" * MiB)
    server.proc.send_signal(signal.SIGTERM)
    # The idle session is told at once.
    with pytest.raises(ftplib.error_temp, match="421"):
        idle.getresp()
    # No new sessions.
    time.sleep(0.3)
    with pytest.raises(OSError):
        socket.create_connection((HOST, server.port), timeout=2).recv(1)
    # The upload goes on and is committed, then its session ends.
    data.sendall(b"b" * MiB)
    data.close()
    assert uploader.voidresp().startswith("226")
    with pytest.raises(ftplib.error_temp, match="421"):
        uploader.getresp()
    assert server.proc.wait(timeout=20) == 0
    assert (server.bucket_dir() / "kept.bin").read_bytes() == b"a" * MiB + b"b" * MiB


def test_a_transfer_outlasting_the_grace_is_aborted_and_leaves_nothing(tmp_path):
    server = start(tmp_path, grace=1)
    uploader = login(server)
    uploader.voidcmd("TYPE I")
    data = uploader.transfercmd("STOR dropped.bin")
    data.sendall(b"a" * MiB)
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=20) == 0
    assert time.monotonic() - started >= 0.9  # the grace was given
    with pytest.raises((ftplib.error_temp, EOFError, ConnectionError)):
        uploader.voidresp()
    data.close()
    assert list(server.bucket_dir().rglob("*")) == [] or all(p.is_dir() for p in server.bucket_dir().rglob("*"))
    assert not (server.bucket_dir() / "dropped.bin").exists()
