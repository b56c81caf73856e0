#!/usr/bin/env python3
"""FTP STOR and RETR of 1 GiB through ossftp, beside `rclone serve ftp` on the same bucket,
a direct `curl` GET and `aws s3 cp`, in one run on one SeaweedFS; then 50 clients at once.

    .venv/bin/python bench/ftp_transfers.py [--size-mib 1024] [--clients 50] [--client-mib 20]

ossftp's RSS and its spool's disk use are sampled every 0.1 s. Markdown goes to stdout and
bench/results/ftp_transfers.md. Exits 1 when a target is missed: RETR >= 0.9x curl GET,
STOR >= 1.0x aws s3 cp, RETR >= 1.5x and STOR >= 1.2x rclone serve ftp, RSS < 64 MiB,
spool within its budget, and every concurrent transfer verified.
"""

from __future__ import annotations

import argparse
import filecmp
import hashlib
import io
import ftplib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "functional"))
os.environ.setdefault("OSSFTP_BIN", str(REPO_ROOT / ".build" / "release" / "ossftp"))

from netutil import HOST, free_port, free_port_range, stop_process, wait_for_banner  # noqa: E402
import ossftp_server  # noqa: E402
from ossftp_server import OssftpServer  # noqa: E402

# Fifty clients, each with a data connection or two in flight.
ossftp_server.PASSIVE_RANGE_SIZE = 400
from seaweedfs import SeaweedFS  # noqa: E402

MiB = 1024 * 1024
BUCKET = "xfer"
BUDGET_MIB = 256


class Sampler:
    """Peak RSS of a process and peak size of a folder, per phase."""

    def __init__(self, pid: int, spool: Path):
        self.pid, self.spool = pid, spool
        self.rss = 0
        self.spool_bytes = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.rss = max(self.rss, int(line.split()[1]) * 1024)
                total = sum(p.stat().st_size for p in self.spool.glob("upload-*"))
                self.spool_bytes = max(self.spool_bytes, total)
            except OSError:
                pass
            time.sleep(0.1)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def timed(cmd: list[str], env=None) -> float:
    start = time.monotonic()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def rclone_server(s3, work: Path, port: int) -> subprocess.Popen:
    start, end = free_port_range(60, exclude=(port,))
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    env.update({"RCLONE_CONFIG": str(work / "rclone.conf"), "RCLONE_CONFIG_SW_TYPE": "s3",
                "RCLONE_CONFIG_SW_PROVIDER": "SeaweedFS", "RCLONE_CONFIG_SW_ENDPOINT": s3.endpoint,
                "RCLONE_CONFIG_SW_ACCESS_KEY_ID": s3.admin.access_key,
                "RCLONE_CONFIG_SW_SECRET_ACCESS_KEY": s3.admin.secret_key, "RCLONE_CONFIG_SW_REGION": s3.region})
    (work / "rclone.conf").write_text("")
    proc = subprocess.Popen([str(REPO_ROOT / ".venv/bin/rclone"), "serve", "ftp", f"sw:{BUCKET}",
                             "--addr", f"{HOST}:{port}", "--user", "bench", "--pass", "bench",
                             "--passive-port", f"{start}-{end}"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for_banner(port, time.monotonic() + 30, proc)
    return proc


def concurrent_clients(port: int, user: str, password: str, clients: int, size: int) -> tuple[float, int]:
    errors: list[str] = []
    bodies = [os.urandom(size) for _ in range(clients)]

    def one(index: int) -> None:
        try:
            client = ftplib.FTP()
            client.connect(HOST, port, timeout=300)
            client.login(user, password)
            client.storbinary(f"STOR many/c{index}.bin", io.BytesIO(bodies[index]))
            out = io.BytesIO()
            client.retrbinary(f"RETR many/c{index}.bin", out.write)
            if out.getvalue() != bodies[index]:
                errors.append(f"client {index}: content differs")
            client.quit()
        except Exception as error:  # noqa: BLE001 - reported
            errors.append(f"client {index}: {error}")

    start = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        print("\n".join(errors[:10]), file=sys.stderr)
    return time.monotonic() - start, len(errors)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--client-mib", type=int, default=20)
    args = parser.parse_args()
    size = args.size_mib
    with SeaweedFS() as s3, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        s3.client().create_bucket(Bucket=BUCKET)
        source, down = work / "source.bin", work / "down.bin"
        with open(source, "wb") as out:
            for _ in range(size):
                out.write(os.urandom(MiB))
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        env.update(s3.env())
        server = OssftpServer(work / "srv", [], extra_args=[
            "--provider", "s3", "--endpoint", s3.endpoint, "--loglevel", "WARNING",
            "--spool_budget_mb", str(BUDGET_MIB),
            # The 50 clients below all come from 127.0.0.1 (the default allows 32 per address).
            "--max_connections_per_ip", "200"])
        server.start()
        user = f"{s3.admin.access_key}/{BUCKET}"
        ftp_url = f"ftp://{quote(user, safe='')}:{quote(s3.admin.secret_key, safe='')}@{HOST}:{server.port}"
        rclone_port = free_port()
        rclone = rclone_server(s3, work, rclone_port)
        rclone_url = f"ftp://bench:bench@{HOST}:{rclone_port}"
        creds = f"{s3.admin.access_key}:{s3.admin.secret_key}"
        try:
            with Sampler(server.proc.pid, server.spool_dir) as stor_sample:
                ossftp_stor = timed(["curl", "-sS", "-T", str(source), f"{ftp_url}/ossftp.bin"])
            with Sampler(server.proc.pid, server.spool_dir) as retr_sample:
                ossftp_retr = timed(["curl", "-sS", "-o", str(down), f"{ftp_url}/ossftp.bin"])
            assert filecmp.cmp(source, down, shallow=False), "ossftp RETR differs"
            rclone_stor = timed(["curl", "-sS", "-T", str(source), f"{rclone_url}/rclone.bin"])
            rclone_retr = timed(["curl", "-sS", "-o", str(down), f"{rclone_url}/rclone.bin"])
            assert filecmp.cmp(source, down, shallow=False), "rclone RETR differs"
            curl_get = timed(["curl", "-sS", "-f", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", creds,
                              "-o", str(down), f"{s3.endpoint}/{BUCKET}/ossftp.bin"])
            assert filecmp.cmp(source, down, shallow=False), "curl GET differs"
            aws_up = timed([str(REPO_ROOT / ".venv/bin/aws"), "--endpoint-url", s3.endpoint, "s3", "cp",
                            str(source), f"s3://{BUCKET}/aws.bin", "--only-show-errors"], env)
            setup = ftplib.FTP()
            setup.connect(HOST, server.port, timeout=60)
            setup.login(user, s3.admin.secret_key)
            setup.mkd("many")
            setup.quit()
            with Sampler(server.proc.pid, server.spool_dir) as many_sample:
                many_time, many_errors = concurrent_clients(server.port, user, s3.admin.secret_key, args.clients,
                                                            args.client_mib * MiB)
        finally:
            server.stop()
            stop_process(rclone)
    ratios = {
        "RETR / curl GET": (curl_get / ossftp_retr, 0.9),
        "STOR / aws s3 cp": (aws_up / ossftp_stor, 1.0),
        "RETR / rclone serve ftp RETR": (rclone_retr / ossftp_retr, 1.5),
        "STOR / rclone serve ftp STOR": (rclone_stor / ossftp_stor, 1.2),
    }
    peak_rss = max(stor_sample.rss, retr_sample.rss) / MiB
    lines = ["| transfer | seconds | MiB/s |", "|---|---|---|"]
    for label, seconds in [("ossftp STOR (curl -T)", ossftp_stor), ("ossftp RETR (curl -o)", ossftp_retr),
                           ("rclone serve ftp STOR", rclone_stor), ("rclone serve ftp RETR", rclone_retr),
                           ("curl GET direct", curl_get), ("aws s3 cp upload direct", aws_up)]:
        lines.append(f"| {label} | {seconds:.2f} | {size / seconds:.0f} |")
    lines += ["", "| ratio (speed) | measured | target |", "|---|---|---|"]
    ok = True
    for label, (value, target) in ratios.items():
        ok &= value >= target
        lines.append(f"| {label} | {value:.2f}x | >= {target}x |")
    lines += ["",
              f"ossftp peak RSS: STOR {stor_sample.rss / MiB:.1f} MiB, RETR {retr_sample.rss / MiB:.1f} MiB, "
              f"50 clients {many_sample.rss / MiB:.1f} MiB (target < 64 MiB for the 1 GiB transfers).",
              f"Spool peak: {stor_sample.spool_bytes / MiB:.0f} MiB during the 1 GiB STOR, "
              f"{many_sample.spool_bytes / MiB:.0f} MiB with {args.clients} clients (budget {BUDGET_MIB} MiB).",
              f"{args.clients} clients at once, each STOR and RETR of {args.client_mib} MiB, all verified: "
              f"{many_time:.1f} s, {many_errors} errors."]
    ok &= peak_rss < 64 and many_errors == 0
    ok &= max(stor_sample.spool_bytes, many_sample.spool_bytes) <= BUDGET_MIB * MiB
    text = "\n".join(lines)
    print(text)
    (REPO_ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (REPO_ROOT / "bench" / "results" / "ftp_transfers.md").write_text(text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
