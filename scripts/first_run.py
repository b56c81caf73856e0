#!/usr/bin/env python3
"""Create the default ossftp configuration for `make run` (standard library only).

    python scripts/first_run.py --dir .run

If DIR/config.json does not exist: write it (local directory store under
DIR/storage, spool under DIR/spool, FTP on 127.0.0.1:2048, passive ports
51000-53000) with one account `ossftp` whose random password is stored only
as a PBKDF2-SHA256 hash, and print the password once with example client
commands. If it exists, leave it alone and say so.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import sys
from pathlib import Path

USERNAME = "ossftp"
BUCKET = "default"
HOST = "127.0.0.1"
PORT = 2048
PASSIVE_START = 51000
PASSIVE_END = 53000
CONTROL_PORT = 8192
PBKDF2_ITERATIONS = 200_000


def hash_password(password: str, iterations: int = PBKDF2_ITERATIONS) -> str:
    salt = secrets.token_bytes(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations, 32)
    return f"pbkdf2-sha256${iterations}${salt.hex()}${dk.hex()}"


def build_config(run_dir: Path, password_hash: str) -> dict:
    return {"modules": {
        "accounts": [{
            "login_username": USERNAME,
            "login_password": password_hash,
            "bucket_name": BUCKET,
            "home_dir": "",
            "access_id": "",
            "access_secret": "",
        }],
        "launcher": {"control_port": CONTROL_PORT},
        "ossftp": {
            "address": HOST,
            "port": PORT,
            "passive_ports_start": PASSIVE_START,
            "passive_ports_end": PASSIVE_END,
            "log_level": "INFO",
            "bucket_endpoints": "",
            "provider": "local",
            "local_root": str(run_dir / "storage"),
            "spool_dir": str(run_dir / "spool"),
        },
    }}


def write_private(path: Path, text: str) -> None:
    """Write `text` to a new file that is mode 600 from its creation on."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Create the default ossftp config on first run.")
    ap.add_argument("--dir", default=".run", help="run folder (default: .run)")
    args = ap.parse_args(argv)

    run_dir = Path(args.dir).expanduser().resolve()
    config_path = run_dir / "config.json"
    if config_path.exists():
        print(f"Using the existing config {config_path} (the password of user "
              f"'{USERNAME}' was printed at first run).")
        return 0

    password = secrets.token_urlsafe(12)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "storage" / BUCKET).mkdir(parents=True, exist_ok=True)
        (run_dir / "spool").mkdir(parents=True, exist_ok=True)
        config = build_config(run_dir, hash_password(password))
        write_private(config_path, json.dumps(config, indent=2) + "\n")
    except OSError as error:
        print(f"cannot set up {run_dir}: {error.strerror or error} ({error.filename or run_dir}); "
              f"run from a folder you can write in, or give --dir", file=sys.stderr)
        return 1

    print(f"""Created {config_path}
Files are stored under {run_dir / 'storage' / BUCKET}

  FTP server: {HOST}:{PORT}
  user:       {USERNAME}
  password:   {password}

This password is shown only now; the config keeps only its hash.
Examples:
  curl -T myfile ftp://{USERNAME}:{password}@{HOST}:{PORT}/
  curl -o myfile ftp://{USERNAME}:{password}@{HOST}:{PORT}/myfile
  lftp -u {USERNAME},{password} -p {PORT} {HOST}
  FileZilla: host {HOST}, port {PORT}, protocol FTP, encryption "Only use plain FTP",
             logon type Normal, user {USERNAME}, password as above""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
