"""Small helpers shared by the functional tests: free ports and process shutdown.

Everything binds to 127.0.0.1 only.
"""

from __future__ import annotations

import random
import socket
import subprocess
import time

HOST = "127.0.0.1"


def free_ports(count: int) -> list[int]:
    """Return `count` distinct TCP ports on 127.0.0.1 that were free a moment ago.

    All probe sockets stay open until every port is chosen, so the ports are
    distinct from each other. Ports are taken from the kernel's ephemeral range.
    """
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port() -> int:
    return free_ports(1)[0]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port_range(size: int = 50, low: int = 20000, high: int = 60000,
                    exclude: tuple[int, ...] = (), attempts: int = 200) -> tuple[int, int]:
    """Pick a random base in [low, high) such that ports base..base+size-1 are all free.

    Returns (start, end) with end = start + size - 1 (inclusive upper bound as far
    as this helper is concerned; a server using range(start, end) still has size-1 ports).
    """
    rng = random.SystemRandom()
    for _ in range(attempts):
        base = rng.randrange(low, high - size)
        ports = range(base, base + size)
        if any(p in exclude for p in ports):
            continue
        if all(port_is_free(p) for p in ports):
            return base, base + size - 1
    raise RuntimeError(f"no free range of {size} ports found in {low}-{high}")


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> int | None:
    """SIGTERM, wait up to `timeout` seconds, then SIGKILL and wait. Returns the exit code."""
    if proc.poll() is None:
        try:
            proc.terminate()
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                proc.kill()
            except ProcessLookupError:
                pass
            proc.wait(timeout=timeout)
    return proc.returncode


def wait_for_tcp(port: int, deadline: float, proc: subprocess.Popen | None = None) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:port."""
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((HOST, port), timeout=1.0):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {HOST}:{port}")
        time.sleep(0.1)


def tail(path, limit: int = 4000) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return f"<cannot read {path}: {e}>"
    return data[-limit:].decode("utf-8", "replace")


def wait_for_banner(port: int, deadline: float, proc: subprocess.Popen | None = None) -> str:
    """Wait until a TCP connect to 127.0.0.1:port receives a line starting with "220"."""
    last: Exception | None = None
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before greeting on {port}")
        try:
            with socket.create_connection((HOST, port), timeout=2.0) as s:
                s.settimeout(5.0)
                line = s.makefile("rb").readline()
                if line.startswith(b"220"):
                    try:
                        s.sendall(b"QUIT\r\n")
                    except OSError:
                        pass
                    return line.decode("utf-8", "replace").rstrip("\r\n")
                last = RuntimeError(f"unexpected greeting {line!r}")
        except OSError as e:
            last = e
        if time.monotonic() > deadline:
            raise TimeoutError(f"no 220 greeting on {HOST}:{port} (last: {last!r})")
        time.sleep(0.1)
