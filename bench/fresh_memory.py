#!/usr/bin/env python3
"""How much writing into the page cache costs on this machine, gigabyte after gigabyte.

    .venv/bin/python bench/fresh_memory.py [--gib 8]

No ossftp here: `dd` copies the same 1 GiB of random bytes (held in /dev/shm) into new files,
one after another, without syncing, and the script reports each copy's wall time and the CPU
time dd spent in the kernel. On a virtual machine whose host takes back the memory a guest
frees (free page reporting), the copies that need memory the guest has not touched lately
cost several times the others. That is why uploads that must each keep their own bytes (as
ossftp's do until they commit) lose to a server that overwrites one file in place (pyftpdlib
under ftpbench) on this machine; see docs/BENCHMARKS.md. Writes bench/results/fresh_memory.md.
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=int, default=8)
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
    finally:
        source.unlink(missing_ok=True)
    lines = ["| GiB written | seconds | dd CPU seconds |", "|---|---|---|"]
    lines += [f"| {index} | {wall:.2f} | {cpu:.2f} |" for index, wall, cpu in rows]
    text = "\n".join(lines)
    (REPO_ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (REPO_ROOT / "bench" / "results" / "fresh_memory.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
