#!/usr/bin/env python3
"""pyftpdlib's `ftpbench -b all -n 200` against ossftp on the local store and against
pyftpdlib's own server, in one run, on the same machine.

    .venv/bin/python bench/ftpbench.py [--clients 200] [--rounds 3]

Rounds of the three servers (pyftpdlib, ossftp without fsync, ossftp with), one after another;
each figure is the median over rounds. Both servers serve a fresh folder, with a plaintext password (pyftpdlib has no hashed ones).
Prints each server's figures side by side, with ossftp's ratio (higher is better for MB/s,
lower for seconds); writes bench/results/ftpbench.md. Exits 1 when ftpbench fails on either
server or ossftp falls behind pyftpdlib on logins or transfer rates.
"""

from __future__ import annotations

import argparse
import ftplib
import os
import re
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "functional"))
os.environ.setdefault("OSSFTP_BIN", str(REPO_ROOT / ".build" / "release" / "ossftp"))

import ossftp_server  # noqa: E402
from netutil import HOST, free_port, stop_process, wait_for_banner  # noqa: E402
from ossftp_server import Account, OssftpServer  # noqa: E402

ossftp_server.PASSIVE_RANGE_SIZE = 1000
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def ftpbench(port: int, clients: int) -> tuple[dict[str, tuple[float, str]], str]:
    # Each run writes gigabytes: let the disk take the last run's dirty pages first, so that
    # neither server pays for the other's writes.
    os.sync()
    time.sleep(1)
    result = subprocess.run(
        [str(REPO_ROOT / ".venv/bin/ftpbench"), "-u", "bench", "-p", "bench-pass", "-H", HOST, "-P", str(port),
         "-b", "all", "-n", str(clients)], capture_output=True, text=True, timeout=1800)
    text = ANSI.sub("", result.stdout)
    if result.returncode != 0:
        raise RuntimeError(f"ftpbench failed ({result.returncode}):\n{text}\n{result.stderr}")
    figures = {}
    for line in text.splitlines():
        match = re.match(r"^(.*?)\s+([\d.]+)\s+(MB/sec|secs)\s*$", line.strip())
        if match:
            figures[match.group(1).strip()] = (float(match.group(2)), match.group(3))
    return figures, text


def login_time(port: int, count: int = 2000) -> float:
    """Mean seconds for connect, banner, USER and PASS, one session after another (ftpbench
    prints its 200-login figure to 10 ms, too coarse to compare)."""
    start = time.perf_counter()
    for _ in range(count):
        ftp = ftplib.FTP(timeout=30)
        ftp.connect(HOST, port)
        ftp.login("bench", "bench-pass")
        ftp.close()
    return (time.perf_counter() - start) / count


def distinct_stor_time(port: int, clients: int, size: int = 10 << 20) -> float:
    """ftpbench's concurrent STOR, each client to its own file name, timed to the last 226.
    (ftpbench sends every client to one name: a server that writes in place then keeps one
    10 MB file in memory where a server that commits each upload separately keeps 200.)"""
    sessions = []
    for _ in range(clients):
        ftp = ftplib.FTP(timeout=60)
        ftp.connect(HOST, port)
        ftp.login("bench", "bench-pass")
        sessions.append(ftp)
    os.sync()
    start = time.perf_counter()
    selector = selectors.DefaultSelector()
    left = {}
    for index, ftp in enumerate(sessions):
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd(f"STOR distinct-{index}")
        conn.setblocking(False)
        selector.register(conn, selectors.EVENT_WRITE)
        left[conn] = size
    chunk = b"x" * 8192
    while left:
        for key, _ in selector.select():
            conn = key.fileobj
            try:
                left[conn] -= conn.send(chunk)
            except BlockingIOError:
                continue
            if left[conn] <= 0:
                selector.unregister(conn)
                del left[conn]
                conn.close()
    for ftp in sessions:
        ftp.voidresp()
    elapsed = time.perf_counter() - start
    for ftp in sessions:
        ftp.close()
    return elapsed


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def upload_cpu(port: int, pid: int, size: int = 2 << 30) -> float:
    """The server's CPU seconds for one upload of `size` bytes sent in 64 KiB writes, to the
    226: what a byte costs the server, which ftpbench's rows (a Python client sending 8 KiB at a
    time on the same cores) do not tell apart from the client and the page cache."""
    os.sync()
    ftp = ftplib.FTP(timeout=60)
    ftp.connect(HOST, port)
    ftp.login("bench", "bench-pass")
    ftp.voidcmd("TYPE I")
    before = cpu_seconds(pid)
    with ftp.transfercmd("STOR cpu.bin") as data:
        chunk, sent = b"x" * 65536, 0
        while sent < size:
            sent += data.send(chunk)
    ftp.voidresp()
    spent = cpu_seconds(pid) - before
    ftp.delete("cpu.bin")
    ftp.quit()
    return spent


def finer_figures(port: int, clients: int, pid: int) -> dict[str, float]:
    return {"login, one after another (µs each)": login_time(port) * 1e6,
            f"{clients} concurrent STOR of 10 MB to distinct names, to the last 226 (secs)":
                distinct_stor_time(port, clients),
            "server CPU for one 2 GiB STOR in 64 KiB writes (secs)": upload_cpu(port, pid)}


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def merged(runs: list[tuple[dict[str, tuple[float, str]], str]]) -> tuple[dict[str, tuple[float, str]], str]:
    """The median of each figure over rounds, with the last round's text."""
    names = [name for name in runs[0][0] if all(name in figures for figures, _ in runs)]
    return {name: (median([figures[name][0] for figures, _ in runs]), runs[0][0][name][1]) for name in names}, runs[-1][1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of all three servers, one after another; medians are reported")
    args = parser.parse_args()
    peer_runs, peer_finer = [], []
    our_runs: dict[str, list] = {"no fsync": [], "fsync": []}
    our_finer: dict[str, list] = {"no fsync": [], "fsync": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # Rounds alternate the servers, so that a slow spell of the machine (this one is a VM
        # whose host backs fresh memory on first touch) falls on all of them alike.
        for round_number in range(args.rounds):
            folder = work / f"pyftpdlib-{round_number}"
            folder.mkdir()
            port = free_port()
            peer = subprocess.Popen([sys.executable, "-m", "pyftpdlib", "-i", HOST, "-p", str(port), "-w", "-u", "bench",
                                     "-P", "bench-pass", "-d", str(folder), "--max-cons", "0"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                wait_for_banner(port, time.monotonic() + 30, peer)
                peer_runs.append(ftpbench(port, args.clients))
                peer_finer.append(finer_figures(port, args.clients, peer.pid))
            finally:
                stop_process(peer)
            subprocess.run(["rm", "-rf", str(folder)])
            for label, extra in (("no fsync", ["--local_no_fsync"]), ("fsync", [])):
                base = work / f"srv-{round_number}-{len(our_runs[label])}-{label.replace(' ', '-')}"
                server = OssftpServer(base, [Account("bench", "bench-pass", "bench", hashed=False)],
                                      extra_args=["--loglevel", "ERROR", "--max_connections", "2000",
                                                  "--max_connections_per_ip", "2000", *extra])
                server.start()
                try:
                    our_runs[label].append(ftpbench(server.port, args.clients))
                    our_finer[label].append(finer_figures(server.port, args.clients, server.proc.pid))
                finally:
                    server.stop()
                subprocess.run(["rm", "-rf", str(base)])
    theirs, their_text = merged(peer_runs)
    runs = {label: merged(values) for label, values in our_runs.items()}
    their_finer = {name: median([figures[name] for figures in peer_finer]) for name in peer_finer[0]}
    finer = {label: {name: median([figures[name] for figures in values]) for name in values[0]}
             for label, values in our_finer.items()}
    lines = ["| ftpbench figure | ossftp, no fsync | ossftp, fsync (default) | pyftpdlib "
             "| ratio, no fsync | ratio, fsync |", "|---|---|---|---|---|---|"]
    ok = True
    ours, synced = runs["no fsync"][0], runs["fsync"][0]
    for name, (value, unit) in ours.items():
        if name not in theirs or name not in synced:
            continue
        other = theirs[name][0]

        def ratio(mine: float) -> float:
            return mine / other if unit == "MB/sec" else (other / mine if mine else float("inf"))
        lines.append(f"| {name} ({unit}) | {value:.2f} | {synced[name][0]:.2f} | {other:.2f} "
                     f"| {ratio(value):.2f}x | {ratio(synced[name][0]):.2f}x |")
        # The target: logins and transfers at least pyftpdlib's, like for like (neither syncs).
        if "QUIT" not in name:
            ok &= ratio(value) >= 1.0
    for name, other in their_finer.items():
        mine, mine_synced = finer["no fsync"][name], finer["fsync"][name]
        lines.append(f"| {name} | {mine:.2f} | {mine_synced:.2f} | {other:.2f} "
                     f"| {other / mine:.2f}x | {other / mine_synced:.2f}x |")
        ok &= other / mine >= 1.0
    lines += ["", f"`ftpbench -b all -n {args.clients}`, median of {args.rounds} rounds, ossftp on the local store, "
              f"pyftpdlib {HOST}; "
              "for seconds the ratio is pyftpdlib's time over ossftp's (above 1 is faster). pyftpdlib never "
              "syncs; `--local_no_fsync` makes ossftp do the same, its default syncs every upload before 226. "
              "The last three rows are this script's own: finer resolution, distinct names, and the server's "
              "CPU for one upload (ratio: pyftpdlib's CPU over ossftp's)."]
    our_text = runs["no fsync"][1]
    text = "\n".join(lines)
    print(text)
    print("\n--- ossftp ---\n" + our_text + "\n--- pyftpdlib ---\n" + their_text, file=sys.stderr)
    (REPO_ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (REPO_ROOT / "bench" / "results" / "ftpbench.md").write_text(text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
