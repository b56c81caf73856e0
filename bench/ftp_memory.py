#!/usr/bin/env python3
"""Memory and throughput of ossftp for one 1 GiB upload and download over FTP.

    OSSFTP_BIN=.build/release/ossftp python bench/ftp_memory.py [--size-mib 1024] [--limit-mib 64]

Starts the binary with a temporary local store on 127.0.0.1, writes a random
file, uploads it with `curl -T`, downloads it with `curl -o`, checks the
sha256 of both, and samples the server's VmHWM/VmRSS from /proc every 0.1 s.
Prints a markdown table and writes it to bench/results/ftp_memory.md.
Exits 1 if the server's VmHWM exceeds the limit (64 MiB), 2 on any other failure.
Standard library only; temporary files are removed at the end.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
MiB = 1024 * 1024


# ---------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port_range(size: int, exclude: int) -> tuple[int, int]:
    rng = random.SystemRandom()
    for _ in range(200):
        base = rng.randrange(20000, 60000 - size)
        if base <= exclude < base + size:
            continue
        if all(port_is_free(p) for p in range(base, base + size)):
            return base, base + size - 1
    raise RuntimeError("no free passive port range")


def hash_password(password: str, iterations: int = 10000) -> str:
    salt = secrets.token_bytes(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, 32)
    return f"pbkdf2-sha256${iterations}${salt.hex()}${dk.hex()}"


def make_random_file(path: Path, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            block = os.urandom(min(4 * MiB, left))
            h.update(block)
            f.write(block)
            left -= len(block)
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(4 * MiB):
            h.update(block)
    return h.hexdigest()


def read_status_kib(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(rest.split()[0])  # kB
    return out


class Sampler(threading.Thread):
    """Reads VmHWM and VmRSS of `pid` every `interval` seconds; tracks the max per phase."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.lock = threading.Lock()
        self.phase = "idle"
        self.max_rss: dict[str, int] = {}
        self.max_hwm: dict[str, int] = {}
        self.samples = 0
        self._halt = threading.Event()

    def set_phase(self, name: str) -> None:
        self.sample()
        with self.lock:
            self.phase = name

    def sample(self) -> None:
        try:
            st = read_status_kib(self.pid)
        except (OSError, ValueError):
            return
        with self.lock:
            ph = self.phase
            self.samples += 1
            self.max_rss[ph] = max(self.max_rss.get(ph, 0), st.get("VmRSS", 0))
            self.max_hwm[ph] = max(self.max_hwm.get(ph, 0), st.get("VmHWM", 0))

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)
        self.sample()


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def wait_banner(proc: subprocess.Popen, port: int, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ossftp exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection((HOST, port), timeout=2) as s:
                s.settimeout(5)
                if s.makefile("rb").readline().startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"no 220 greeting on {HOST}:{port}")


def curl(args: list[str], timeout: float) -> float:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    t0 = time.monotonic()
    res = subprocess.run(["curl", "-sS", "--noproxy", "*", *args], env=env, stdin=subprocess.DEVNULL,
                         capture_output=True, timeout=timeout)
    elapsed = time.monotonic() - t0
    if res.returncode != 0:
        raise RuntimeError(f"curl {' '.join(args[-3:])} failed with exit code {res.returncode}: "
                           f"{res.stderr.decode(errors='replace').strip()}")
    return elapsed


# ---------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024, help="file size in MiB (default 1024)")
    ap.add_argument("--limit-mib", type=float, default=64.0, help="VmHWM limit in MiB (default 64)")
    ap.add_argument("--results", default=str(REPO_ROOT / "bench" / "results" / "ftp_memory.md"))
    args = ap.parse_args()

    binary = Path(os.environ.get("OSSFTP_BIN", ".build/release/ossftp"))
    if not binary.is_absolute():
        binary = REPO_ROOT / binary
    if not os.access(binary, os.X_OK):
        print(f"ossftp binary not found: {binary} (run `make release` or set OSSFTP_BIN)", file=sys.stderr)
        return 2
    if not shutil.which("curl"):
        print("curl is required", file=sys.stderr)
        return 2

    size = args.size_mib * MiB
    tmp = Path(tempfile.mkdtemp(prefix="ossftp-bench-"))
    proc = None
    sampler = None
    try:
        root, spool, bucket = tmp / "root", tmp / "spool", "bench"
        (root / bucket).mkdir(parents=True)
        spool.mkdir()
        user, password = "bench", secrets.token_urlsafe(12)
        port = free_port()
        pstart, pend = free_port_range(50, port)
        cfg = {"modules": {
            "accounts": [{"login_username": user, "login_password": hash_password(password),
                          "bucket_name": bucket, "home_dir": "", "access_id": "", "access_secret": ""}],
            "launcher": {"control_port": 8192},
            "ossftp": {"address": HOST, "port": port, "passive_ports_start": pstart,
                       "passive_ports_end": pend, "log_level": "INFO", "bucket_endpoints": "",
                       "provider": "local", "local_root": str(root), "spool_dir": str(spool)}}}
        config = tmp / "config.json"
        config.write_text(json.dumps(cfg))
        config.chmod(0o600)

        src = tmp / "src.bin"
        print(f"writing {args.size_mib} MiB of random data ...", file=sys.stderr)
        digest = make_random_file(src, size)

        log = tmp / "ossftp.log"
        with open(log, "wb") as logf:
            proc = subprocess.Popen(
                [str(binary), "serve", "--config", str(config), "--listen_address", HOST,
                 "--port", str(port), "--passive_ports_start", str(pstart),
                 "--passive_ports_end", str(pend), "--web_port", "0", "--loglevel", "INFO"],
                cwd=tmp, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                start_new_session=True)
        wait_banner(proc, port, log)
        sampler = Sampler(proc.pid)
        sampler.start()
        time.sleep(0.3)
        idle = read_status_kib(proc.pid)

        url = f"ftp://{HOST}:{port}/"
        auth = ["--user", f"{user}:{password}"]
        timeout = max(600.0, args.size_mib * 1.0)

        print("STOR ...", file=sys.stderr)
        sampler.set_phase("STOR")
        t_stor = curl(auth + ["-T", str(src), url], timeout)
        sampler.set_phase("after STOR")
        after_stor = read_status_kib(proc.pid)
        stored = root / bucket / "src.bin"
        if not stored.is_file() or sha256_file(stored) != digest:
            raise RuntimeError(f"the stored object {stored} differs from the uploaded file")

        print("RETR ...", file=sys.stderr)
        dst = tmp / "dst.bin"
        sampler.set_phase("RETR")
        t_retr = curl(auth + ["-o", str(dst), url + "src.bin"], timeout)
        sampler.set_phase("after RETR")
        after_retr = read_status_kib(proc.pid)
        sampler.stop()
        if sha256_file(dst) != digest:
            raise RuntimeError("the downloaded file differs from the uploaded file (sha256)")
        samples = sampler.samples
        rss_stor = sampler.max_rss.get("STOR", 0)
        rss_retr = sampler.max_rss.get("RETR", 0)
    except Exception as e:  # noqa: BLE001
        print(f"benchmark failed: {e}", file=sys.stderr)
        if proc is not None and (tmp / "ossftp.log").exists():
            print((tmp / "ossftp.log").read_text(errors="replace")[-3000:], file=sys.stderr)
        return 2
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.stop()
        if proc is not None:
            stop_process(proc)
        shutil.rmtree(tmp, ignore_errors=True)

    def mib(kib: int) -> str:
        return f"{kib / 1024:.1f}"

    mb = size / MiB
    peak = max(after_stor["VmHWM"], after_retr["VmHWM"])
    ok = peak / 1024 <= args.limit_mib
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    table = "\n".join([
        "# ossftp FTP memory benchmark",
        "",
        f"{stamp}; binary `{binary.relative_to(REPO_ROOT) if binary.is_relative_to(REPO_ROOT) else binary}`; "
        f"{args.size_mib} MiB random file; local store; curl over 127.0.0.1; "
        f"{platform.machine()}, {os.cpu_count()} CPUs; {samples} samples at 0.1 s.",
        "",
        "| phase | time (s) | throughput (MiB/s) | VmHWM after (MiB) | max VmRSS sampled (MiB) |",
        "|---|---:|---:|---:|---:|",
        f"| idle | | | {mib(idle['VmHWM'])} | {mib(idle['VmRSS'])} |",
        f"| STOR (`curl -T`) | {t_stor:.2f} | {mb / t_stor:.1f} | {mib(after_stor['VmHWM'])} | {mib(rss_stor)} |",
        f"| RETR (`curl -o`) | {t_retr:.2f} | {mb / t_retr:.1f} | {mib(after_retr['VmHWM'])} | {mib(rss_retr)} |",
        "",
        f"sha256 of upload, stored object and download: equal. "
        f"Peak VmHWM {mib(peak)} MiB, limit {args.limit_mib:g} MiB: **{'PASS' if ok else 'FAIL'}**.",
        "",
    ])
    print(table)
    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(table)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
