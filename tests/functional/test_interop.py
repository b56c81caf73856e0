"""Real clients moving a real tree: lftp mirror both ways, rclone's FTP backend (copy and
check), and ftputil, each over the local store and SeaweedFS."""

from __future__ import annotations

import filecmp
import os
import secrets
import subprocess
from pathlib import Path

import ftputil
import pytest

from netutil import HOST
from ossftp_server import Account, OssftpServer

REPO_ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024


def make_tree(root: Path) -> None:
    """Nested folders, non-ASCII and awkward names, empty and multi-part files."""
    files = {
        "readme.txt": b"hello\n",
        "empty.bin": b"",
        "photos/2026/猫 cat.jpg": os.urandom(300_000),
        "photos/2026/año nuevo #1.png": os.urandom(70_000),
        "docs/deep/er/still/deeper/notes (v2).md": b"# notes\n" * 1000,
        "big/part-crossing.bin": os.urandom(17 * MiB + 3),
        "Ünïcødé/日本語/ファイル.txt": "テキスト".encode(),
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "empty-folder").mkdir()


def assert_same_tree(left: Path, right: Path) -> None:
    result = subprocess.run(["diff", "-r", str(left), str(right)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "ftps"])
def test_lftp_mirror_both_ways(server, tmp_path, subprocess_env, tls):
    srv, user, password = server
    source, back = tmp_path / "source", tmp_path / "back"
    make_tree(source)
    back.mkdir()
    security = ("set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set ssl:verify-certificate no;" if tls
                else "set ftp:ssl-allow no;")
    script = (f"set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 20; {security} "
              f"mirror -R --no-perms {source} /tree; mirror /tree {back}; bye")
    result = subprocess.run(["lftp", "-u", f"{user},{password}", "-p", str(srv.port), HOST, "-e", script],
                            env=subprocess_env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_same_tree(source, back)


def rclone_env(srv, user, password, tmp_path, tls: bool = False) -> dict[str, str]:
    rclone = str(REPO_ROOT / ".venv" / "bin" / "rclone")
    obscured = subprocess.run([rclone, "obscure", password], capture_output=True, text=True, check=True).stdout.strip()
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update({"RCLONE_CONFIG": str(tmp_path / "rclone.conf"), "RCLONE_CONFIG_OSS_TYPE": "ftp",
                "RCLONE_CONFIG_OSS_HOST": HOST, "RCLONE_CONFIG_OSS_PORT": str(srv.port),
                "RCLONE_CONFIG_OSS_USER": user, "RCLONE_CONFIG_OSS_PASS": obscured})
    if tls:
        env.update({"RCLONE_CONFIG_OSS_EXPLICIT_TLS": "true", "RCLONE_CONFIG_OSS_NO_CHECK_CERTIFICATE": "true"})
    (tmp_path / "rclone.conf").write_text("")
    return env


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "ftps"])
def test_rclone_copy_and_check_through_its_ftp_backend(server, tmp_path, tls):
    srv, user, password = server
    rclone = str(REPO_ROOT / ".venv" / "bin" / "rclone")
    source = tmp_path / "source"
    make_tree(source)
    env = rclone_env(srv, user, password, tmp_path, tls)
    for args in (["copy", str(source), "oss:/rtree"], ["check", str(source), "oss:/rtree"],
                 ["copy", "oss:/rtree", str(tmp_path / "back")]):
        result = subprocess.run([rclone, *args, "--retries", "1"], env=env, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, f"rclone {args[0]}: {result.stderr[-3000:]}"
    # rclone copies files; empty folders are not its business.
    (tmp_path / "back" / "empty-folder").mkdir(exist_ok=True)
    assert_same_tree(source, tmp_path / "back")


def test_rclone_with_inplace_needs_no_rename(tmp_path):
    """The README's rclone line, on a server with its default rename policy (refused): rclone
    uploads to a `.partial` name and renames it unless told `--inplace`."""
    account = Account("dana", "d-" + secrets.token_urlsafe(10), "bucket4")
    srv = OssftpServer(tmp_path / "srv", [account])
    srv.start()
    try:
        rclone = str(REPO_ROOT / ".venv" / "bin" / "rclone")
        source = tmp_path / "source"
        make_tree(source)
        env = rclone_env(srv, account.username, account.password, tmp_path)
        refused = subprocess.run([rclone, "copy", str(source / "docs"), "oss:/plain", "--retries", "1"], env=env,
                                 capture_output=True, text=True, timeout=300)
        assert refused.returncode != 0 and "rename is off" in refused.stderr, refused.stderr[-2000:]
        for args in (["copy", "--inplace", str(source), "oss:/inplace"], ["check", str(source), "oss:/inplace"]):
            result = subprocess.run([rclone, *args, "--retries", "1"], env=env, capture_output=True, text=True,
                                    timeout=300)
            assert result.returncode == 0, f"rclone {args[0]}: {result.stderr[-3000:]}"
    finally:
        srv.stop()


def test_ftputil_walks_uploads_and_downloads(server, tmp_path):
    srv, user, password = server
    source = tmp_path / "source"
    make_tree(source)
    with ftputil.FTPHost(HOST, user, password, session_factory=ftputil.session.session_factory(
            port=srv.port, encoding="UTF-8")) as host:
        for folder, _, names in os.walk(source):
            remote = "/ft/" + os.path.relpath(folder, source).replace(os.sep, "/").lstrip("./")
            host.makedirs(remote.rstrip("/") or "/ft", exist_ok=True)
            for name in names:
                host.upload(os.path.join(folder, name), f"{remote.rstrip('/')}/{name}")
        seen = {}
        for folder, _, names in host.walk("/ft"):
            for name in names:
                seen[host.path.join(folder, name)] = host.path.getsize(host.path.join(folder, name))
        expected = {("/ft/" + os.path.relpath(os.path.join(d, n), source).replace(os.sep, "/")):
                    os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(source) for n in ns}
        assert seen == expected
        target = tmp_path / "one.bin"
        host.download("/ft/big/part-crossing.bin", str(target))
        assert filecmp.cmp(target, source / "big" / "part-crossing.bin", shallow=False)
        assert host.path.isdir("/ft/photos/2026") and not host.path.isfile("/ft/photos")
