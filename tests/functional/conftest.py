"""Fixtures of the functional suite.

- `seaweedfs` (session): a throw-away `weed mini` S3 server (see seaweedfs.py).
- `ossftp` (function): an ossftp server over a fresh local store in tmp_path,
  with a hashed-password account `alice` (bucket1) and a plaintext-password
  account `bob` (bucket2).
- `ftp`: an ftplib.FTP logged in as alice.

Every process a fixture starts is stopped at teardown (SIGTERM, wait, SIGKILL).
"""

from __future__ import annotations

import ftplib
import os
import secrets
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from netutil import HOST  # noqa: E402
from ossftp_server import Account, OssftpServer  # noqa: E402
from seaweedfs import SeaweedFS  # noqa: E402


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request) -> bool:
    rep = getattr(request.node, "rep_call", None)
    return rep is None or rep.failed


@pytest.fixture(scope="session")
def seaweedfs():
    with SeaweedFS() as s3:
        yield s3


@pytest.fixture
def alice() -> Account:
    return Account("alice", "a-" + secrets.token_urlsafe(12), "bucket1", hashed=True)


@pytest.fixture
def bob() -> Account:
    return Account("bob", "b-" + secrets.token_urlsafe(12), "bucket2", hashed=False)


@pytest.fixture
def ossftp(tmp_path, request, alice, bob):
    server = OssftpServer(tmp_path / "srv", [alice, bob])
    server.start()
    try:
        yield server
    finally:
        died = server.proc.poll() is not None and not server.expect_exit
        rc = server.stop()
        if _failed(request) or died:
            print(f"--- ossftp exit code {rc}; log tail ({server.log_path}) ---")
            print(server.log_tail())
    if died:
        pytest.fail(f"ossftp exited during the test (exit code {rc}); see the log tail above")


@pytest.fixture
def ftp(ossftp, alice):
    client = ftplib.FTP()
    client.connect(HOST, ossftp.port, timeout=15)
    client.login(alice.username, alice.password)
    try:
        yield client
    finally:
        try:
            client.quit()
        except (ftplib.all_errors):
            client.close()


@pytest.fixture
def subprocess_env(tmp_path) -> dict[str, str]:
    """Environment for curl/lftp: isolated HOME, no proxies."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("ftp_proxy", "http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env["HOME"] = str(home)
    env["LC_ALL"] = "C.UTF-8"
    return env


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A self-signed certificate and key for FTPS."""
    import subprocess

    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                   check=True, capture_output=True)
    return {"tls_certificate": str(folder / "cert.pem"), "tls_key": str(folder / "key.pem")}


@pytest.fixture(params=["local", "s3"])
def server(request, tmp_path, seaweedfs, tls_files):
    """A server with rename by copy, over the local store or SeaweedFS (each test runs on both);
    yields (server, user, password)."""
    if request.param == "local":
        account = Account("carol", "c-" + secrets.token_urlsafe(10), "bucket3")
        srv = OssftpServer(tmp_path / "srv", [account], extra_args=["--rename", "copy"], extra_config=tls_files)
        user, password = account.username, account.password
    else:
        bucket = "vfs-" + secrets.token_hex(4)
        seaweedfs.client().create_bucket(Bucket=bucket)
        srv = OssftpServer(tmp_path / "srv", [], extra_args=[
            "--provider", "s3", "--endpoint", seaweedfs.endpoint, "--rename", "copy"], extra_config=tls_files)
        user, password = f"{seaweedfs.admin.access_key}/{bucket}", seaweedfs.admin.secret_key
    srv.start()
    try:
        yield srv, user, password
    finally:
        srv.stop()


