"""Random test files and hashes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

MiB = 1024 * 1024


def make_random_file(path: Path, size: int, chunk: int = MiB) -> str:
    """Write `size` random bytes to `path` in chunks; return the sha256 hex digest."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left > 0:
            block = os.urandom(min(chunk, left))
            h.update(block)
            f.write(block)
            left -= len(block)
    return h.hexdigest()


def sha256_file(path: Path, chunk: int = 4 * MiB) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def tree(root: Path, exclude: tuple[Path, ...] = ()) -> set[str]:
    """Relative paths of everything under `root`, skipping the `exclude` subtrees."""
    root = Path(root)
    excl = [Path(e).resolve() for e in exclude]
    out: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath).resolve()
        dirnames[:] = [n for n in dirnames if (d / n).resolve() not in excl]
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            if p.resolve() in excl:
                continue
            out.add(str(p.relative_to(root)))
    return out


RESERVED_PREFIX = ".ossftp-"  # the local store's own files (staging, directory markers)


def user_entries(folder: Path) -> list[str]:
    """Names in `folder` that are user data: the local store's `.ossftp-*` files are left out."""
    return sorted(p.name for p in Path(folder).iterdir() if not p.name.startswith(RESERVED_PREFIX))
