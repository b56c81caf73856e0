#!/usr/bin/env python3
"""`ossftp mount` beside s3fs (Debian's s3fs), one run, on one SeaweedFS bucket.

    OSSFTP_BIN=.build/release/ossftp .venv/bin/python bench/fuse_mount.py [--size-mib 1024]

Each file system gets its own prefix of the bucket. Steps, timed from the shell: a 1 GiB
sequential write with dd (until close returns), a sequential read of it with the page cache
dropped (compared with a direct curl GET of the same object), `ls -l` of a directory of 10,000
objects (made beforehand with boto3, the same for both), and creating 1,000 small files.
ossftp's peak RSS (VmHWM) is reported. Prints markdown and writes bench/results/fuse_mount.md;
exits 1 when a target is missed (write >= 2x s3fs, read >= 0.9x curl, ls -l <= 0.5x s3fs).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "functional"))
os.environ.setdefault("OSSFTP_BIN", str(REPO_ROOT / ".build" / "release" / "ossftp"))

from fuse_mount import FuseMount, is_mounted  # noqa: E402
from seaweedfs import SeaweedFS  # noqa: E402

MiB = 1024 * 1024


def timed(command: str) -> float:
    start = time.monotonic()
    subprocess.run(["bash", "-c", command], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def drop_caches() -> None:
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its children, living and reaped."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
    return total + sum(cpu_seconds(int(child)) for child in children)


def random_reads(path: Path, count: int = 300) -> float:
    """Milliseconds per 4 KiB pread at page-aligned offsets spread over the file (a database's
    pattern), the same offsets for both file systems."""
    offsets = random.Random(7)
    size = path.stat().st_size
    descriptor = os.open(path, os.O_RDONLY)
    try:
        start = time.monotonic()
        for _ in range(count):
            if len(os.pread(descriptor, 4096, offsets.randrange(0, size - 4096) & ~4095)) != 4096:
                raise RuntimeError(f"{path}: a short read")
        return (time.monotonic() - start) / count * 1000
    finally:
        os.close(descriptor)


def steps(root: Path, source: Path, expected: str, client_pid: int, store_pid: int) -> dict[str, float]:
    # CPU seconds during the write: the file system's own and the store's. On two cores the
    # write cannot take less than their sum over two, whoever the client is.
    client_before, store_before = cpu_seconds(client_pid), cpu_seconds(store_pid)
    figures = {"write 1 GiB (s)": timed(f"dd if={source} of={root}/w/big.bin bs=1M status=none")}
    figures["CPU of the file system during the write (s)"] = cpu_seconds(client_pid) - client_before
    figures["CPU of SeaweedFS during the write (s)"] = cpu_seconds(store_pid) - store_before
    drop_caches()
    figures["read 1 GiB (s)"] = timed(f"cat {root}/w/big.bin > /dev/null")
    digest = hashlib.sha256(Path(root / "w" / "big.bin").read_bytes()).hexdigest()
    if digest != expected:
        raise RuntimeError(f"{root}: the file read back differs")
    drop_caches()
    figures["random 4 KiB reads (ms each)"] = random_reads(root / "w" / "big.bin")
    figures["ls -l of 10,000 files (s)"] = timed(f"ls -l {root}/many | wc -l")
    figures["create 1,000 small files (s)"] = timed(
        f"mkdir -p {root}/small && for i in $(seq 1000); do echo $i > {root}/small/f$i; done")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ossftp-fuse-bench-"))
    source = work / "source.bin"
    with open(source, "wb") as out:
        for _ in range(args.size_mib):
            out.write(os.urandom(MiB))
    expected = hashlib.sha256(source.read_bytes()).hexdigest()
    with SeaweedFS() as s3:
        client = s3.client()
        client.create_bucket(Bucket="bench")
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            for prefix in ("ossftp", "s3fs"):
                list(pool.map(lambda i, p=prefix: client.put_object(Bucket="bench", Key=f"{p}/many/f{i:05d}", Body=b"x"),
                              range(10_000)))
                for folder in ("w/", "many/"):
                    client.put_object(Bucket="bench", Key=f"{prefix}/{folder}", Body=b"")
        env = {**os.environ, "AWS_ACCESS_KEY_ID": s3.admin.access_key, "AWS_SECRET_ACCESS_KEY": s3.admin.secret_key}
        ours = FuseMount(work / "ossftp", ["--provider", "s3", "--endpoint", s3.endpoint, "--region", s3.region,
                                           "--bucket", "bench", "--prefix", "ossftp", "--spool_dir", str(work / "spool")],
                         env=env).start()
        try:
            mine = steps(work / "ossftp", source, expected, ours.proc.pid, s3.proc.pid)
            print("ossftp:", mine, file=sys.stderr)
            with open(f"/proc/{ours.proc.pid}/status") as status:
                peak = next(line.split()[1] for line in status if line.startswith("VmHWM"))
        finally:
            ours.stop()
        passwd = work / "s3fs.passwd"
        passwd.write_text(f"{s3.admin.access_key}:{s3.admin.secret_key}\n")
        passwd.chmod(0o600)
        theirs_root = work / "s3fs"
        theirs_root.mkdir()
        subprocess.run(["s3fs", "bench:/s3fs", str(theirs_root), "-o", f"url={s3.endpoint}", "-o", "use_path_request_style",
                        "-o", f"passwd_file={passwd}", "-o", f"endpoint={s3.region}"], check=True)
        try:
            deadline = time.monotonic() + 20
            while not is_mounted(theirs_root) and time.monotonic() < deadline:
                time.sleep(0.1)
            s3fs_pid = int(subprocess.run(["pgrep", "-n", "-x", "s3fs"], capture_output=True, text=True,
                                          check=True).stdout)
            theirs = steps(theirs_root, source, expected, s3fs_pid, s3.proc.pid)
        finally:
            subprocess.run(["fusermount3", "-u", str(theirs_root)])
        creds = f"{s3.admin.access_key}:{s3.admin.secret_key}"
        drop_caches()
        curl = timed(f"curl -sS -f --aws-sigv4 aws:amz:{s3.region}:s3 --user {creds} -o /dev/null "
                     f"{s3.endpoint}/bench/ossftp/w/big.bin")
    lines = ["| step | ossftp mount | s3fs | ossftp / s3fs (time) |", "|---|---|---|---|"]
    for name, value in mine.items():
        lines.append(f"| {name} | {value:.2f} | {theirs[name]:.2f} | {value / theirs[name]:.2f}x |")
    write_speedup = theirs["write 1 GiB (s)"] / mine["write 1 GiB (s)"]
    read_ratio = curl / mine["read 1 GiB (s)"]
    ls_ratio = mine["ls -l of 10,000 files (s)"] / theirs["ls -l of 10,000 files (s)"]
    floor = (mine["CPU of SeaweedFS during the write (s)"]) / os.cpu_count()
    lines += ["", f"Direct curl GET of the 1 GiB object: {curl:.2f} s.",
              f"SeaweedFS's own CPU while taking ossftp's 1 GiB, spread over all {os.cpu_count()} cores: {floor:.2f} s "
              f"(no client that waits for the store can write faster; 2x s3fs needs "
              f"{theirs['write 1 GiB (s)'] / 2:.2f} s).", "",
              f"- write: {write_speedup:.2f}x s3fs's speed (target >= 2x)",
              f"- read: {read_ratio:.2f}x curl's speed (target >= 0.9x)",
              f"- ls -l: {ls_ratio:.2f} of s3fs's time (target <= 0.5)",
              f"- ossftp peak RSS (VmHWM): {int(peak) / 1024:.0f} MiB"]
    text = "\n".join(lines)
    print(text)
    (REPO_ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (REPO_ROOT / "bench" / "results" / "fuse_mount.md").write_text(text + "\n")
    subprocess.run(["rm", "-rf", str(work)])
    return 0 if write_speedup >= 2 and read_ratio >= 0.9 and ls_ratio <= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
