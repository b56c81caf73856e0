"""scripts/first_run.py: creates a private config once, and the server accepts its password."""

from __future__ import annotations

import ftplib
import hashlib
import io
import json
import re
import stat
import subprocess
import sys
import time

from netutil import HOST, free_port, free_port_range, stop_process, wait_for_banner
from ossftp_server import REPO_ROOT, ossftp_binary

SCRIPT = REPO_ROOT / "scripts" / "first_run.py"


def run_first_run(run_dir):
    return subprocess.run([sys.executable, str(SCRIPT), "--dir", str(run_dir)],
                          capture_output=True, text=True, timeout=60)


def test_first_run_creates_config_once(tmp_path):
    run_dir = tmp_path / ".run"
    res = run_first_run(run_dir)
    assert res.returncode == 0, res.stderr
    cfg_path = run_dir / "config.json"
    assert stat.S_IMODE(cfg_path.stat().st_mode) == 0o600
    cfg = json.loads(cfg_path.read_text())["modules"]
    o = cfg["ossftp"]
    assert o["provider"] == "local"
    assert o["local_root"] == str((run_dir / "storage").resolve())
    assert o["spool_dir"] == str((run_dir / "spool").resolve())
    assert (o["address"], o["port"], o["passive_ports_start"], o["passive_ports_end"]) == \
        ("127.0.0.1", 2048, 51000, 53000)
    assert cfg["launcher"]["control_port"] == 8192
    assert (run_dir / "storage" / "default").is_dir()
    assert (run_dir / "spool").is_dir()
    [acc] = cfg["accounts"]
    assert acc["login_username"] == "ossftp" and acc["bucket_name"] == "default"

    m = re.search(r"password:\s+(\S+)", res.stdout)
    assert m, res.stdout
    password = m.group(1)
    assert password not in cfg_path.read_text()
    scheme, iterations, salt, dk = acc["login_password"].split("$")
    assert scheme == "pbkdf2-sha256" and iterations == "200000"
    assert hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), 200000, 32).hex() == dk
    for hint in ("curl", "lftp", "FileZilla", "127.0.0.1:2048"):
        assert hint in res.stdout

    before = cfg_path.read_bytes()
    again = run_first_run(run_dir)
    assert again.returncode == 0, again.stderr
    assert len(again.stdout.strip().splitlines()) == 1, again.stdout
    assert password not in again.stdout
    assert cfg_path.read_bytes() == before


def test_server_accepts_first_run_config(tmp_path):
    """ossftp serves the generated config (ports overridden on the command line)."""
    run_dir = tmp_path / ".run"
    res = run_first_run(run_dir)
    assert res.returncode == 0, res.stderr
    password = re.search(r"password:\s+(\S+)", res.stdout).group(1)

    port = free_port()
    pstart, pend = free_port_range(50, exclude=(port,))
    log = open(tmp_path / "ossftp.log", "wb")
    proc = subprocess.Popen(
        [str(ossftp_binary()), "serve", "--config", str(run_dir / "config.json"),
         "--listen_address", HOST, "--port", str(port), "--passive_ports_start", str(pstart),
         "--passive_ports_end", str(pend), "--web_port", "0", "--loglevel", "INFO"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    log.close()
    try:
        wait_for_banner(port, time.monotonic() + 30, proc)
        with ftplib.FTP() as f:
            f.connect(HOST, port, timeout=15)
            f.login("ossftp", password)
            f.storbinary("STOR hello.txt", io.BytesIO(b"hello"))
        assert (run_dir / "storage" / "default" / "hello.txt").read_bytes() == b"hello"
    except BaseException:
        print((tmp_path / "ossftp.log").read_text(errors="replace")[-4000:])
        raise
    finally:
        stop_process(proc)
