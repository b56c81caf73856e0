#!/usr/bin/env python3
"""How much writing into the page cache costs on this machine, gigabyte after gigabyte.

    .venv/bin/python bench/fresh_memory.py [--gib 8]

No ossftp here: `dd` copies the same 1 GiB of random bytes (held in /dev/shm) into new files,
one after another, without syncing, and the script reports each copy's wall time and the CPU
time dd spent in the kernel. On a virtual machine whose host takes back the memory a guest
frees (free page reporting), the copies that need memory the guest has not touched lately
cost several times the others. That is why uploads that must each keep their own bytes (as
ossftp's do until they commit) lose to a server that overwrites one file in place (pyftpdlib
under ftpbench) on this machine; see docs/BENCHMARKS.md. Then the disk side of ftpbench's 200
concurrent STOR to one name, without a network: 200 writers of 10 MB each into their own file,
as ossftp stages uploads, and into one shared file, as pyftpdlib writes them. Writes
bench/results/fresh_memory.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
GiB = 1 << 30


def copy(source: Path, target: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run(["dd", f"if={source}", f"of={target}", "bs=1M", "status=none"], check=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_stime - before.ru_stime) + (after.ru_utime - before.ru_utime)


def concurrent_writes(folder: Path, separate: bool, writers: int = 200, size: int = 10 << 20) -> float:
    """The disk side of ftpbench's 200 concurrent STOR to one name, with no network: `writers`
    files of `size` bytes written 256 KiB at a time, round robin. `separate`: each writer its
    own file, as ossftp stages each upload until it commits; else every writer opens the one
    file with truncation and writes over the others, as pyftpdlib does. The CPU seconds."""
    chunk = b"x" * (256 << 10)
    names = [folder / (f"staged-{index}" if separate else "shared") for index in range(writers)]
    descriptors = [os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) for name in names]
    before = resource.getrusage(resource.RUSAGE_SELF)
    for offset in range(0, size, len(chunk)):
        for descriptor in descriptors:
            os.pwrite(descriptor, chunk, offset)
    after = resource.getrusage(resource.RUSAGE_SELF)
    for descriptor in descriptors:
        os.close(descriptor)
    for name in set(names):
        name.unlink()
    return (after.ru_stime - before.ru_stime) + (after.ru_utime - before.ru_utime)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the concurrent writes")
    args = parser.parse_args()
    source = Path("/dev/shm") / f"fresh-memory-{os.getpid()}.bin"
    rows = []
    try:
        with open(source, "wb") as out:
            for _ in range(1024):
                out.write(os.urandom(1 << 20))
        with tempfile.TemporaryDirectory(dir=REPO_ROOT) as folder:
            os.sync()
            for index in range(args.gib):
                wall, cpu = copy(source, Path(folder) / f"copy-{index}")
                rows.append((index + 1, wall, cpu))
                print(f"GiB {index + 1}: {wall:.2f} s, dd CPU {cpu:.2f} s", flush=True)
            concurrent = []
            for _ in range(args.rounds):
                # A pause first, as between ftpbench's rows: memory freed just before is still
                # the guest's, and would make the first writes look cheap.
                time.sleep(3)
                separate = concurrent_writes(Path(folder), separate=True)
                time.sleep(3)
                shared = concurrent_writes(Path(folder), separate=False)
                concurrent.append((separate, shared))
                print(f"200 writers of 10 MB: own files {separate:.2f} s CPU, one file {shared:.2f} s CPU", flush=True)
    finally:
        source.unlink(missing_ok=True)
    lines = ["| GiB written | seconds | dd CPU seconds |", "|---|---|---|"]
    lines += [f"| {index} | {wall:.2f} | {cpu:.2f} |" for index, wall, cpu in rows]
    lines += ["", "| round | 200 writers of 10 MB, each its own file (CPU s) | all in one file (CPU s) |", "|---|---|---|"]
    lines += [f"| {index + 1} | {separate:.2f} | {shared:.2f} |" for index, (separate, shared) in enumerate(concurrent)]
    text = "\n".join(lines)
    (REPO_ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (REPO_ROOT / "bench" / "results" / "fresh_memory.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
