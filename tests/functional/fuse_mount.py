"""Mount a bucket with `ossftp mount` for tests, and unmount it at teardown.

The mount runs in the foreground as a child process; it is ready when /proc/self/mountinfo
lists it. Stopping unmounts with `fusermount3 -u` (lazily if busy) and waits for the process.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from ossftp_server import ossftp_binary


def is_mounted(path: Path) -> bool:
    target = str(path.resolve())
    with open("/proc/self/mountinfo") as table:
        return any(line.split()[4] == target and "fuse" in line for line in table)


class FuseMount:
    def __init__(self, mountpoint: Path, args: list[str], env: dict[str, str] | None = None,
                 log: Path | None = None, cwd: Path | None = None):
        self.mountpoint = mountpoint
        self.args = args
        self.env = env
        self.cwd = cwd
        self.log = log or mountpoint.parent / f"{mountpoint.name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> "FuseMount":
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([str(ossftp_binary()), "mount", str(self.mountpoint), "--foreground", *self.args],
                                     stdin=subprocess.DEVNULL, stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd)
        deadline = time.monotonic() + timeout
        while not is_mounted(self.mountpoint):
            if self.proc.poll() is not None:
                raise RuntimeError(f"ossftp mount exited with {self.proc.returncode}: {self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"not mounted within {timeout} s: {self.log_tail()}")
            time.sleep(0.05)
        return self

    def stop(self, timeout: float = 20) -> int | None:
        if self.proc is None:
            return None
        if is_mounted(self.mountpoint):
            if subprocess.run(["fusermount3", "-u", str(self.mountpoint)], capture_output=True).returncode != 0:
                subprocess.run(["fusermount3", "-u", "-z", str(self.mountpoint)], capture_output=True)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def log_tail(self, limit: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-limit:]
        except OSError:
            return ""
