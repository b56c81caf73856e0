#!/usr/bin/env python3
"""Where SeaweedFS's CPU goes while it takes a 1 GiB upload, for two clients in one run.

    OSSFTP_BIN=.build/release/ossftp .venv/bin/python bench/seaweedfs_profile.py [--size-mib 1024]

The mount's write target (twice s3fs's speed) is bounded by the CPU SeaweedFS spends taking
the bytes in, on the same two cores as the client. This script shows what that CPU does: each
client (`ossftp cp`, then `aws s3 cp`) uploads the same random file to a SeaweedFS of its own,
started with Go's `-cpuprofile`; the profile (gzipped protobuf, decoded here) gives the CPU
seconds sampled and the share of them in MD5, per call site. Markdown on stdout and in
bench/results/seaweedfs_profile.md.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "functional"))

from seaweedfs import SeaweedFS  # noqa: E402

MiB = 1024 * 1024


class Profile:
    """The samples of a Go CPU profile (profile.proto), each as its stack of function names."""

    def __init__(self, path: Path):
        data = gzip.decompress(path.read_bytes())
        strings: list[str] = []
        functions: dict[int, int] = {}
        locations: dict[int, list[int]] = {}
        raw: list[tuple[list[int], list[int]]] = []
        for field, wire, value in self._fields(data):
            if field == 2:  # Sample: location ids (1), values (2)
                ids: list[int] = []
                values: list[int] = []
                for f, w, v in self._fields(value):
                    (ids if f == 1 else values if f == 2 else []).extend(self._varints(w, v))
                raw.append((ids, values))
            elif field == 4:  # Location: id (1), lines (4) whose function id is field 1
                location, functions_at = 0, []
                for f, w, v in self._fields(value):
                    if f == 1:
                        location = v
                    elif f == 4:
                        functions_at += [fv for ff, _, fv in self._fields(v) if ff == 1]
                locations[location] = functions_at
            elif field == 5:  # Function: id (1), name as a string index (2)
                parts = {f: v for f, _, v in self._fields(value)}
                functions[parts.get(1, 0)] = parts.get(2, 0)
            elif field == 6:
                strings.append(value.decode())
        # The last value of a sample is its CPU time in nanoseconds.
        self.samples = [([strings[functions[f]] for loc in ids for f in locations.get(loc, [])], values[-1] / 1e9)
                        for ids, values in raw]
        self.seconds = sum(seconds for _, seconds in self.samples)

    @staticmethod
    def _varint(data: bytes, i: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            byte = data[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value, i

    @classmethod
    def _fields(cls, data: bytes):
        i = 0
        while i < len(data):
            key, i = cls._varint(data, i)
            wire = key & 7
            if wire == 0:
                value, i = cls._varint(data, i)
            elif wire == 2:
                length, i = cls._varint(data, i)
                value, i = data[i:i + length], i + length
            elif wire == 1:
                value, i = data[i:i + 8], i + 8
            elif wire == 5:
                value, i = data[i:i + 4], i + 4
            else:
                raise ValueError(f"wire type {wire}")
            yield key >> 3, wire, value

    @classmethod
    def _varints(cls, wire: int, value) -> list[int]:
        if wire == 0:
            return [value]
        out, i = [], 0
        while i < len(value):
            number, i = cls._varint(value, i)
            out.append(number)
        return out

    def leaf_seconds(self, function: str) -> float:
        return sum(seconds for stack, seconds in self.samples if stack and stack[0] == function)

    def md5_sites(self) -> collections.Counter:
        """MD5 time by the first SeaweedFS function up its stack (who asked for the hash). A
        hash fed by a reader that tees the body is told apart by how many such readers lie
        between it and the read: two hashes in one read loop are two passes over the bytes."""
        sites: collections.Counter = collections.Counter()
        for stack, seconds in self.samples:
            if stack and stack[0] == "crypto/md5.block":
                caller = next((name for name in stack if "seaweedfs" in name), "?").rsplit("/", 1)[-1]
                tees = sum(1 for name in stack if name == "io.(*teeReader).Read")
                sites[f"{caller} (tee {tees} deep)" if tees else caller] += seconds
        return sites


def upload(client: str, source: Path, binary: str, work: Path, size_mib: int) -> tuple[float, float, Profile]:
    profile_path = work / f"{client}.pprof"
    with SeaweedFS(mini_args=[f"-cpuprofile={profile_path}"]) as s3:
        s3.client().create_bucket(Bucket="bench")
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        env.update(s3.env())
        command = {
            "ossftp cp": [binary, "cp", str(source), "s3://bench/file.bin", "--endpoint", s3.endpoint],
            "aws s3 cp": [str(REPO_ROOT / ".venv/bin/aws"), "--endpoint-url", s3.endpoint, "s3", "cp", str(source),
                          "s3://bench/file.bin", "--only-show-errors"],
        }[client]
        start = time.monotonic()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        elapsed = time.monotonic() - start
        size = s3.client().head_object(Bucket="bench", Key="file.bin")["ContentLength"]
        if size != size_mib * MiB:
            raise RuntimeError(f"{client}: stored {size} bytes")
        s3.interrupt()
    return elapsed, size_mib / 1024, Profile(profile_path)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    binary = os.environ.get("OSSFTP_BIN", str(REPO_ROOT / ".build/release/ossftp"))
    work = Path(tempfile.mkdtemp(prefix="ossftp-weed-profile-"))
    source = work / "source.bin"
    with open(source, "wb") as out:
        for _ in range(args.size_mib):
            out.write(os.urandom(MiB))
    lines = ["| client | upload (s) | SeaweedFS CPU sampled (s per GiB) | of it in MD5 | MD5 by call site (s per GiB) |",
             "|---|---|---|---|---|"]
    for client in ("ossftp cp", "aws s3 cp"):
        elapsed, gib, profile = upload(client, source, binary, work, args.size_mib)
        md5 = profile.leaf_seconds("crypto/md5.block")
        sites = ", ".join(f"{name} {seconds / gib:.2f}" for name, seconds in profile.md5_sites().most_common())
        lines.append(f"| {client} | {elapsed:.2f} | {profile.seconds / gib:.2f} | {md5 / profile.seconds:.0%} | {sites} |")
    for path in work.iterdir():
        path.unlink()
    work.rmdir()
    report = "\n".join(lines + ["", f"{args.size_mib} MiB of random bytes, one SeaweedFS (`weed mini`) per client, "
                                    f"{os.cpu_count()} cores."])
    print(report)
    (REPO_ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (REPO_ROOT / "bench" / "results" / "seaweedfs_profile.md").write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
