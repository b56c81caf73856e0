#!/usr/bin/env python3
"""Listing a huge directory through ossftp, beside the raw paged ListObjects of the same
listing and `rclone lsf`, in one run against one SeaweedFS bucket.

    OSSFTP_BIN=.build/release/ossftp .venv/bin/python bench/listing.py [--sizes 10000,100000] [--runs 3]

For each size, a directory of that many objects is made once; then, per run: the time to
the first LIST line and to the end of LIST and of MLSD through FTP (raw sockets), the raw
ListObjectsV2 paging time (boto3, 1000 keys a page, delimiter /), and `rclone lsf`. ossftp's
peak RSS is sampled. Medians go to stdout and bench/results/listing.md. Exits 1 when a target
is missed (first line within 300 ms; LIST and MLSD at most 1.2x the raw listing).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "functional"))
# The test harness defaults to the debug build; a benchmark measures the release one.
os.environ.setdefault("OSSFTP_BIN", str(REPO_ROOT / ".build" / "release" / "ossftp"))

from netutil import HOST  # noqa: E402
from ossftp_server import OssftpServer  # noqa: E402
from seaweedfs import SeaweedFS  # noqa: E402

BUCKET = "listing"


def populate(s3, prefix: str, count: int) -> None:
    client = s3.client()

    def put(index: int) -> None:
        client.put_object(Bucket=BUCKET, Key=f"{prefix}file-{index:07d}.dat", Body=b"x" * (index % 97))

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(put, range(count)))


def raw_listing(s3, prefix: str) -> tuple[float, int]:
    client = s3.client()
    start = time.monotonic()
    count = 0
    for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=prefix, Delimiter="/", PaginationConfig={"PageSize": 1000}):
        count += len(page.get("Contents", [])) + len(page.get("CommonPrefixes", []))
    return time.monotonic() - start, count


class Control:
    def __init__(self, port: int, user: str, password: str):
        self.sock = socket.create_connection((HOST, port), timeout=120)
        self.file = self.sock.makefile("rb")
        self.reply()
        self.command(f"USER {user}")
        assert self.command(f"PASS {password}").startswith("230")

    def reply(self) -> str:
        line = self.file.readline().decode()
        if line[3:4] == "-":
            while not (line[:3].isdigit() and line[3:4] == " " and line[:3] == line[:3]):
                nxt = self.file.readline().decode()
                if nxt[:3] == line[:3] and nxt[3:4] == " ":
                    return nxt
        return line

    def command(self, text: str) -> str:
        self.sock.sendall(text.encode() + b"\r\n")
        return self.reply()

    def listing(self, verb: str, path: str) -> tuple[float, float, int]:
        reply = self.command("PASV")
        numbers = [int(n) for n in re.search(r"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)", reply).groups()]
        data = socket.create_connection((HOST, numbers[4] * 256 + numbers[5]), timeout=120)
        start = time.monotonic()
        self.sock.sendall(f"{verb} {path}\r\n".encode())
        first = None
        lines = 0
        tail = b""
        while True:
            chunk = data.recv(1 << 16)
            if not chunk:
                break
            if first is None:
                first = time.monotonic() - start
            tail += chunk
            lines += tail.count(b"\n")
            tail = tail[tail.rfind(b"\n") + 1:]
        data.close()
        preliminary = self.reply()
        assert preliminary.startswith("150"), preliminary
        final = self.reply()
        assert final.startswith("226"), final
        return first or 0.0, time.monotonic() - start, lines


def rss_sampler(pid: int, peak: list[int], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak[0] = max(peak[0], int(line.split()[1]))
        except OSError:
            return
        time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rclone = str(REPO_ROOT / ".venv" / "bin" / "rclone")
    report = ["| objects | first LIST line (ms) | LIST (s) | MLSD (s) | raw ListObjects (s) | rclone lsf (s) "
              "| LIST / raw | MLSD / raw |", "|---|---|---|---|---|---|---|---|"]
    ok = True
    with SeaweedFS() as s3, tempfile.TemporaryDirectory() as work:
        s3.client().create_bucket(Bucket=BUCKET)
        for size in sizes:
            started = time.monotonic()
            populate(s3, f"d{size}/", size)
            print(f"made {size} objects in {time.monotonic() - started:.1f} s", file=sys.stderr)
        server = OssftpServer(Path(work) / "srv", [], extra_args=[
            "--provider", "s3", "--endpoint", s3.endpoint, "--loglevel", "WARNING"])
        server.start()
        peak = [0]
        stop = threading.Event()
        sampler = threading.Thread(target=rss_sampler, args=(server.proc.pid, peak, stop), daemon=True)
        sampler.start()
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        env.update({"RCLONE_CONFIG": str(Path(work) / "rclone.conf"), "RCLONE_CONFIG_SW_TYPE": "s3",
                    "RCLONE_CONFIG_SW_PROVIDER": "SeaweedFS", "RCLONE_CONFIG_SW_ENDPOINT": s3.endpoint,
                    "RCLONE_CONFIG_SW_ACCESS_KEY_ID": s3.admin.access_key,
                    "RCLONE_CONFIG_SW_SECRET_ACCESS_KEY": s3.admin.secret_key, "RCLONE_CONFIG_SW_REGION": s3.region})
        (Path(work) / "rclone.conf").write_text("")
        try:
            control = Control(server.port, f"{s3.admin.access_key}/{BUCKET}", s3.admin.secret_key)
            for size in sizes:
                firsts, lists, mlsds, raws, rclones = [], [], [], [], []
                for _ in range(args.runs):
                    first, total, lines = control.listing("LIST", f"d{size}")
                    assert lines == size, (lines, size)
                    firsts.append(first)
                    lists.append(total)
                    _, total, lines = control.listing("MLSD", f"d{size}")
                    assert lines == size, (lines, size)
                    mlsds.append(total)
                    raw, count = raw_listing(s3, f"d{size}/")
                    assert count == size
                    raws.append(raw)
                    start = time.monotonic()
                    out = subprocess.run([rclone, "lsf", f"sw:{BUCKET}/d{size}"], env=env, check=True,
                                         capture_output=True).stdout
                    rclones.append(time.monotonic() - start)
                    assert out.count(b"\n") == size
                med = {k: statistics.median(v) for k, v in
                       {"first": firsts, "list": lists, "mlsd": mlsds, "raw": raws, "rclone": rclones}.items()}
                list_ratio, mlsd_ratio = med["list"] / med["raw"], med["mlsd"] / med["raw"]
                ok &= med["first"] <= 0.3 and list_ratio <= 1.2 and mlsd_ratio <= 1.2
                report.append(f"| {size:,} | {med['first'] * 1000:.0f} | {med['list']:.2f} | {med['mlsd']:.2f} "
                              f"| {med['raw']:.2f} | {med['rclone']:.2f} | {list_ratio:.2f}x | {mlsd_ratio:.2f}x |")
            control.command("QUIT")
        finally:
            stop.set()
            server.stop()
    report += ["", f"ossftp peak RSS (VmHWM) over the whole run: {peak[0] / 1024:.1f} MiB.",
               f"Median of {args.runs} runs; SeaweedFS on 127.0.0.1; raw ListObjects = boto3 paging, 1000 keys a page."]
    text = "\n".join(report)
    print(text)
    (REPO_ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (REPO_ROOT / "bench" / "results" / "listing.md").write_text(text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
