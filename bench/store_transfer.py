#!/usr/bin/env python3
"""1 GiB upload and download through ossftp's store client, beside curl and `aws s3 cp`,
in one run against one SeaweedFS bucket.

    OSSFTP_BIN=.build/release/ossftp .venv/bin/python bench/store_transfer.py [--size-mib 1024] [--runs 3]

Each client moves the same random file; every download is compared with the source. The
median of the runs is reported with the ratios the issue sets (download >= 0.9x curl's
single GET, upload >= 1.0x aws s3 cp), as markdown on stdout and in
bench/results/store_transfer.md. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "functional"))

from seaweedfs import SeaweedFS  # noqa: E402

MiB = 1024 * 1024


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.monotonic()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    binary = os.environ.get("OSSFTP_BIN", str(REPO_ROOT / ".build/release/ossftp"))
    aws = str(REPO_ROOT / ".venv/bin/aws")
    work = Path(tempfile.mkdtemp(prefix="ossftp-bench-"))
    source = work / "source.bin"
    with open(source, "wb") as out:
        for _ in range(args.size_mib):
            out.write(os.urandom(MiB))
    results: dict[str, list[float]] = {k: [] for k in
                                       ["ossftp up", "ossftp down", "curl up", "curl down", "aws up", "aws down"]}
    with SeaweedFS() as s3:
        s3.client().create_bucket(Bucket="bench")
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        env.update(s3.env())
        creds = f"{s3.admin.access_key}:{s3.admin.secret_key}"
        url = f"{s3.endpoint}/bench"
        for run in range(args.runs):
            down = work / "down.bin"
            steps = [
                ("ossftp up", [binary, "cp", str(source), "s3://bench/ossftp.bin", "--endpoint", s3.endpoint]),
                ("ossftp down", [binary, "cp", "s3://bench/ossftp.bin", str(down), "--endpoint", s3.endpoint]),
                ("curl up", ["curl", "-sS", "-f", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", creds,
                             "-T", str(source), f"{url}/curl.bin"]),
                ("curl down", ["curl", "-sS", "-f", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", creds,
                               "-o", str(down), f"{url}/curl.bin"]),
                ("aws up", [aws, "--endpoint-url", s3.endpoint, "s3", "cp", str(source), "s3://bench/aws.bin",
                            "--only-show-errors"]),
                ("aws down", [aws, "--endpoint-url", s3.endpoint, "s3", "cp", "s3://bench/aws.bin", str(down),
                              "--only-show-errors"]),
            ]
            for name, cmd in steps:
                if down.exists():
                    down.unlink()
                results[name].append(timed(cmd, env))
                if name.endswith("down") and not filecmp.cmp(source, down, shallow=False):
                    print(f"{name}: downloaded file differs from the source", file=sys.stderr)
                    return 2
    median = {k: statistics.median(v) for k, v in results.items()}
    size = args.size_mib
    lines = [f"| client | upload s | upload MiB/s | download s | download MiB/s |", "|---|---|---|---|---|"]
    for client in ["ossftp", "curl", "aws"]:
        up, dn = median[f"{client} up"], median[f"{client} down"]
        lines.append(f"| {client} | {up:.2f} | {size / up:.0f} | {dn:.2f} | {size / dn:.0f} |")
    download_ratio = median["curl down"] / median["ossftp down"]
    upload_ratio = median["aws up"] / median["ossftp up"]
    lines += ["", f"Download speed, ossftp / curl single GET: **{download_ratio:.2f}x** (target >= 0.9x)",
              f"Upload speed, ossftp / aws s3 cp: **{upload_ratio:.2f}x** (target >= 1.0x)",
              f"{size} MiB, median of {args.runs} runs, SeaweedFS on 127.0.0.1."]
    report = "\n".join(lines)
    print(report)
    (REPO_ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (REPO_ROOT / "bench" / "results" / "store_transfer.md").write_text(report + "\n")
    for path in work.iterdir():
        path.unlink()
    work.rmdir()
    return 0 if download_ratio >= 0.9 and upload_ratio >= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
