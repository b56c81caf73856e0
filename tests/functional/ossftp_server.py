"""Start and stop the ossftp binary with a local-directory store for tests.

The binary is $OSSFTP_BIN, or `.build/debug/ossftp` under the repo root. A
relative OSSFTP_BIN is taken relative to the repo root. A missing binary is an
error, never a skip.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from netutil import HOST, free_port, free_port_range, stop_process, tail, wait_for_banner, wait_for_tcp

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSIVE_RANGE_SIZE = 50


def ossftp_binary() -> Path:
    raw = os.environ.get("OSSFTP_BIN", ".build/debug/ossftp")
    path = Path(raw)
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.is_file() or not os.access(path, os.X_OK):
        raise FileNotFoundError(
            f"ossftp binary not found or not executable: {path} "
            f"(build it with `swift build` or set OSSFTP_BIN)")
    return path


def hash_password(password: str, iterations: int = 10000, salt: bytes | None = None) -> str:
    """The config's hashed form: pbkdf2-sha256$<iterations>$<salt hex>$<dk hex>."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations, 32)
    return f"pbkdf2-sha256${iterations}${salt.hex()}${dk.hex()}"


@dataclass
class Account:
    username: str
    password: str
    bucket: str
    hashed: bool = True
    home_dir: str = ""
    permissions: str = ""
    access_id: str = ""
    access_secret: str = ""
    # The account's own store (provider, endpoint, region, addressing), over the server's.
    store: dict = field(default_factory=dict)
    allow_rename: bool | None = None

    def config_entry(self) -> dict:
        extra = {"permissions": self.permissions} if self.permissions else {}
        if self.allow_rename is not None:
            extra["allow_rename"] = self.allow_rename
        return {
            **extra,
            **self.store,
            "login_username": self.username,
            "login_password": hash_password(self.password) if self.hashed else self.password,
            "bucket_name": self.bucket,
            "home_dir": self.home_dir,
            "access_id": self.access_id,
            "access_secret": self.access_secret,
        }


@dataclass
class OssftpServer:
    """One ossftp process serving `accounts` from `base/root/<bucket>`.

    Layout under `base`: root/ (local_root, one folder per bucket), spool/,
    config.json, ossftp.log.
    """

    base: Path
    accounts: list[Account]
    start_timeout: float = 30.0
    extra_args: list[str] = field(default_factory=list)
    # `--loglevel`'s value; None leaves the flag out (the level is config.json's then).
    loglevel: str | None = "INFO"
    # Run before the binary, which it must exec (`prlimit --nofile=...`).
    command_prefix: list[str] = field(default_factory=list)
    # Set in the server's environment, over this process's (``wallclock.WallClock``).
    environment: dict = field(default_factory=dict)
    port: int = 0
    passive_start: int = 0
    passive_end: int = 0
    # How many passive ports the server gets (a test of a range used up asks for one).
    passive_range_size: int = PASSIVE_RANGE_SIZE
    proc: subprocess.Popen | None = None
    banner: str = ""
    # Set by a test that stops the server itself; otherwise an exit during a test is a crash.
    expect_exit: bool = False
    # Extra keys for config.json's modules.ossftp (TLS files, policies).
    extra_config: dict = field(default_factory=dict)
    # Serve the web console on a free loopback port (web_port), with these modules.launcher keys.
    console: bool = False
    launcher_config: dict = field(default_factory=dict)
    web_port: int = 0

    @property
    def local_root(self) -> Path:
        return self.base / "root"

    @property
    def spool_dir(self) -> Path:
        return self.base / "spool"

    @property
    def config_path(self) -> Path:
        return self.base / "config.json"

    @property
    def log_path(self) -> Path:
        return self.base / "ossftp.log"

    def bucket_dir(self, account: Account | None = None) -> Path:
        return self.local_root / (account or self.accounts[0]).bucket

    def write_config(self) -> None:
        self.local_root.mkdir(parents=True, exist_ok=True)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        for acc in self.accounts:
            (self.local_root / acc.bucket).mkdir(parents=True, exist_ok=True)
        cfg = {"modules": {
            "accounts": [a.config_entry() for a in self.accounts],
            "launcher": {"control_port": 8192, **self.launcher_config},
            "ossftp": {
                "address": HOST,
                "port": self.port,
                "passive_ports_start": self.passive_start,
                "passive_ports_end": self.passive_end,
                "log_level": "INFO",
                "bucket_endpoints": "",
                "provider": "local",
                "local_root": str(self.local_root.resolve()),
                "spool_dir": str(self.spool_dir.resolve()),
                **self.extra_config,
            },
        }}
        self.config_path.write_text(json.dumps(cfg, indent=2))
        self.config_path.chmod(0o600)

    def command(self) -> list[str]:
        return [
            str(ossftp_binary()), "serve",
            "--config", str(self.config_path),
            "--listen_address", HOST,
            "--port", str(self.port),
            "--passive_ports_start", str(self.passive_start),
            "--passive_ports_end", str(self.passive_end),
            "--web_port", str(self.web_port),
            *(["--loglevel", self.loglevel] if self.loglevel else []),
            *self.extra_args,
        ]

    def start(self) -> "OssftpServer":
        self.base.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.passive_start, self.passive_end = free_port_range(self.passive_range_size, exclude=(self.port,))
        if self.console:
            self.web_port = free_port()
        self.write_config()
        cmd = [*self.command_prefix, *self.command()]
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(cmd, cwd=self.base, stdin=subprocess.DEVNULL,
                                         env={**os.environ, **self.environment} if self.environment else None,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        try:
            self.banner = self._wait_banner()
            if self.console:
                wait_for_tcp(self.web_port, time.monotonic() + self.start_timeout, self.proc)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_banner(self) -> str:
        assert self.proc is not None
        try:
            return wait_for_banner(self.port, time.monotonic() + self.start_timeout, self.proc)
        except (RuntimeError, TimeoutError) as e:
            raise RuntimeError(f"ossftp not ready: {e}\ncommand: {' '.join(self.command())}\n"
                               f"log:\n{self.log_tail()}") from None

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        rc = stop_process(self.proc, timeout=timeout)
        return rc

    def log_tail(self, limit: int = 6000) -> str:
        return tail(self.log_path, limit)
