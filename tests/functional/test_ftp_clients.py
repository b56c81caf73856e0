"""Real FTP clients against ossftp with a local store: curl, lftp, ftplib listings."""

from __future__ import annotations

import ftplib
import io
import subprocess
from pathlib import Path

import pytest

from fileutil import MiB, make_random_file, sha256_file, user_entries
from netutil import HOST


def run(cmd, env, cwd, timeout=180):
    res = subprocess.run(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                         capture_output=True, timeout=timeout)
    return res


def describe(res) -> str:
    return (f"command: {res.args}\nexit code: {res.returncode}\n"
            f"stdout:\n{res.stdout.decode('utf-8', 'replace')[-3000:]}\n"
            f"stderr:\n{res.stderr.decode('utf-8', 'replace')[-3000:]}")


@pytest.fixture
def big_files(tmp_path, ossftp):
    """Paths of the 100 MiB test files; removed afterwards so pytest's kept tmp dirs stay small."""
    paths: list[Path] = []
    yield paths
    for p in paths + [ossftp.bucket_dir() / "big.bin"]:
        Path(p).unlink(missing_ok=True)


def test_curl_roundtrip_100mib(ossftp, alice, tmp_path, subprocess_env, big_files):
    work = tmp_path / "work"
    work.mkdir()
    src = work / "big.bin"
    dst = work / "back.bin"
    big_files += [src, dst]
    digest = make_random_file(src, 100 * MiB)
    url = f"ftp://{HOST}:{ossftp.port}/"
    common = ["curl", "-sS", "--noproxy", "*", "--max-time", "150",
              "--user", f"{alice.username}:{alice.password}"]

    up = run(common + ["-T", str(src), url], subprocess_env, work)
    assert up.returncode == 0, describe(up)

    stored = ossftp.bucket_dir() / "big.bin"
    assert stored.is_file(), f"upload not stored as {stored}"
    assert stored.stat().st_size == 100 * MiB
    assert sha256_file(stored) == digest

    down = run(common + ["-o", str(dst), url + "big.bin"], subprocess_env, work)
    assert down.returncode == 0, describe(down)
    assert dst.stat().st_size == 100 * MiB
    assert sha256_file(dst) == digest


def test_curl_wrong_password_is_access_denied(ossftp, alice, tmp_path, subprocess_env):
    res = run(["curl", "-sS", "--noproxy", "*", "--max-time", "30",
               "--user", f"{alice.username}:wrong-{alice.password}",
               "-o", str(tmp_path / "x"), f"ftp://{HOST}:{ossftp.port}/nothing"],
              subprocess_env, tmp_path)
    # curl: 67 = "The user name, password, or similar was not accepted".
    assert res.returncode == 67, describe(res)


def test_curl_with_ftp_pret(ossftp, alice, tmp_path, subprocess_env):
    """curl --ftp-pret sends PRET before PASV (drftpd's extension): 500 failed the transfer
    with curl's exit 84."""
    (tmp_path / "up.txt").write_bytes(b"pret\n")
    url = f"ftp://{HOST}:{ossftp.port}/pret.txt"
    user = ["--user", f"{alice.username}:{alice.password}"]
    up = run(["curl", "-sS", "--noproxy", "*", "--ftp-pret", *user, "-T", str(tmp_path / "up.txt"), url],
             subprocess_env, tmp_path)
    assert up.returncode == 0, describe(up)
    down = run(["curl", "-sS", "--noproxy", "*", "--ftp-pret", *user, "-o", str(tmp_path / "down.txt"), url],
               subprocess_env, tmp_path)
    assert down.returncode == 0 and (tmp_path / "down.txt").read_bytes() == b"pret\n", describe(down)


def test_lftp_session(ossftp, alice, tmp_path, subprocess_env):
    work = tmp_path / "work"
    work.mkdir()
    digest = make_random_file(work / "f", 3 * MiB + 123)
    script = ("set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 10; "
              "mkdir d; cd d; put f; ls; get f -o g; rm f; cd ..; rmdir d; bye")
    res = run(["lftp", "-u", f"{alice.username},{alice.password}", "-p", str(ossftp.port), HOST,
               "-e", script], subprocess_env, work, timeout=120)
    assert res.returncode == 0, describe(res)
    # `ls` inside d listed the uploaded file.
    assert b" f\n" in res.stdout or res.stdout.rstrip().endswith(b" f"), describe(res)
    assert sha256_file(work / "g") == digest
    bucket = ossftp.bucket_dir()
    assert not (bucket / "d").exists(), "rmdir d did not remove the directory on disk"
    assert user_entries(bucket) == []


def test_lftp_mkdir_put_leaves_files_on_disk(ossftp, alice, tmp_path, subprocess_env):
    """The on-disk layout of the local provider: key d/f is file bucket/d/f; MKD makes a folder."""
    work = tmp_path / "work"
    work.mkdir()
    digest = make_random_file(work / "f", 64 * 1024)
    script = ("set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 10; "
              "mkdir d; mkdir empty; cd d; put f; bye")
    res = run(["lftp", "-u", f"{alice.username},{alice.password}", "-p", str(ossftp.port), HOST,
               "-e", script], subprocess_env, work, timeout=60)
    assert res.returncode == 0, describe(res)
    bucket = ossftp.bucket_dir()
    assert (bucket / "empty").is_dir()
    assert (bucket / "d" / "f").is_file()
    assert sha256_file(bucket / "d" / "f") == digest


def _listing_fixture(ftp: ftplib.FTP) -> None:
    ftp.storbinary("STOR a.txt", io.BytesIO(b"hello\n"))
    ftp.storbinary("STOR with space.txt", io.BytesIO(b"x" * 1234))
    ftp.mkd("sub")
    ftp.storbinary("STOR sub/inner.bin", io.BytesIO(b"\0" * 10))


def test_ftplib_nlst(ftp, ossftp):
    _listing_fixture(ftp)
    names = sorted(n.rsplit("/", 1)[-1] for n in ftp.nlst())
    assert names == ["a.txt", "sub", "with space.txt"]
    inner = [n.rsplit("/", 1)[-1] for n in ftp.nlst("sub")]
    assert inner == ["inner.bin"]
    # The same through CWD.
    ftp.cwd("sub")
    assert [n.rsplit("/", 1)[-1] for n in ftp.nlst()] == ["inner.bin"]


def test_ftplib_dir(ftp, ossftp):
    _listing_fixture(ftp)
    lines: list[str] = []
    ftp.dir(lines.append)
    by_name = {}
    for line in lines:
        for name in ("a.txt", "with space.txt", "sub"):
            if line.endswith(" " + name):
                by_name[name] = line
    assert set(by_name) == {"a.txt", "with space.txt", "sub"}, lines
    assert len(lines) == 3, lines
    assert by_name["sub"].startswith("d"), by_name["sub"]
    assert by_name["a.txt"].startswith("-"), by_name["a.txt"]
    # ls -l style: the size column precedes the date; check it is there.
    assert " 1234 " in by_name["with space.txt"], by_name["with space.txt"]
    assert " 6 " in by_name["a.txt"], by_name["a.txt"]

    sub_lines: list[str] = []
    ftp.dir("sub", sub_lines.append)
    assert len(sub_lines) == 1 and sub_lines[0].endswith(" inner.bin"), sub_lines
    assert sub_lines[0].startswith("-")


def test_ftplib_store_retrieve_delete(ftp, ossftp):
    data = b"".join(bytes([i % 251]) for i in range(70000))
    ftp.storbinary("STOR data.bin", io.BytesIO(data))
    assert (ossftp.bucket_dir() / "data.bin").read_bytes() == data
    out = io.BytesIO()
    ftp.retrbinary("RETR data.bin", out.write)
    assert out.getvalue() == data
    assert ftp.size("data.bin") == len(data)
    ftp.delete("data.bin")
    assert not (ossftp.bucket_dir() / "data.bin").exists()
    assert ftp.nlst() == []


def test_passive_port_in_configured_range(ftp, ossftp):
    host, port = ftp.makepasv()
    assert host == HOST
    assert ossftp.passive_start <= port <= ossftp.passive_end, (port, ossftp.passive_start, ossftp.passive_end)


def test_plaintext_password_account_and_isolation(ossftp, alice, bob):
    (ossftp.bucket_dir(bob) / "bobs.txt").write_bytes(b"bob")
    with ftplib.FTP() as f:
        f.connect(HOST, ossftp.port, timeout=15)
        f.login(bob.username, bob.password)
        assert [n.rsplit("/", 1)[-1] for n in f.nlst()] == ["bobs.txt"]
        f.storbinary("STOR new.txt", io.BytesIO(b"new"))
    assert (ossftp.bucket_dir(bob) / "new.txt").read_bytes() == b"new"
    with ftplib.FTP() as f:
        f.connect(HOST, ossftp.port, timeout=15)
        f.login(alice.username, alice.password)
        assert f.nlst() == []
    assert user_entries(ossftp.bucket_dir(alice)) == []
