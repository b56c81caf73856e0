"""An ossftp whose wall clock is off, or is set while it runs, as NTP or an administrator's
`date -s` would set it: libfaketime (Debian's `faketime`, which `make test` installs) moves the
process's wall clock only, never its monotonic one.

    clock = WallClock(tmp_path)
    server = OssftpServer(..., environment=clock.environment(), command_prefix=WallClock.command_prefix)
    clock.set(3600)   # from now on the server's wall clock is an hour ahead
"""

from __future__ import annotations

import glob
from pathlib import Path


def library() -> str:
    """libfaketime's path; a clear failure where it is not installed (never a skipped test)."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found:
        raise FileNotFoundError("libfaketime is not installed (Debian package faketime; `make deps` installs it)")
    return found[0]


class WallClock:
    """The offset of one process's wall clock from the real one, which it reads at every call."""

    def __init__(self, folder: Path):
        self.file = Path(folder) / "wallclock-offset"
        self.file.parent.mkdir(parents=True, exist_ok=True)
        self.set(0)

    def set(self, seconds: int) -> None:
        """The wall clock `seconds` ahead of the real one (behind when negative), from now on."""
        self.file.write_text(f"{seconds:+d}\n")

    # Spawned by Python itself with libfaketime preloaded, the server saw no arguments at all
    # (it served config.json's defaults); started through a small program that execs it, as
    # from a shell, it sees them. Why was not pinned down.
    command_prefix = ["nice", "-n", "0"]

    def environment(self) -> dict[str, str]:
        """What runs the server with this clock (``OssftpServer.environment``)."""
        return {"LD_PRELOAD": library(), "FAKETIME_TIMESTAMP_FILE": str(self.file), "FAKETIME_NO_CACHE": "1",
                "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
