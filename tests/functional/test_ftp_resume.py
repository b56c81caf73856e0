"""Resumed and appended transfers: REST+RETR, REST+STOR and APPE, with curl's `-C -` both
ways and ftplib's `rest=`, over the local store and SeaweedFS. Results must be byte-identical."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
import subprocess
import threading
import time
from urllib.parse import quote

import pytest

from netutil import HOST

MiB = 1024 * 1024


def login(srv, user, password) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect(HOST, srv.port, timeout=60)
    client.login(user, password)
    return client


def url(srv, user, password, name="") -> str:
    return f"ftp://{quote(user, safe='')}:{quote(password, safe='')}@{HOST}:{srv.port}/{name}"


def fetch(client, name, rest=None) -> bytes:
    out = io.BytesIO()
    client.retrbinary(f"RETR {name}", out.write, rest=rest)
    return out.getvalue()


@pytest.mark.parametrize("size,cut", [(9 * MiB + 123, 7 * MiB), (2 * MiB + 5, 1 * MiB + 1)],
                         ids=["part-copy", "read-back"])
def test_curl_resumes_an_upload_with_size_and_appe(server, tmp_path, subprocess_env, size, cut):
    srv, user, password = server
    data = os.urandom(size)
    full = tmp_path / "full.bin"
    full.write_bytes(data)
    client = login(srv, user, password)
    client.storbinary("STOR up.bin", io.BytesIO(data[:cut]))
    result = subprocess.run(["curl", "-sS", "-C", "-", "-T", str(full), url(srv, user, password, "up.bin")],
                            env=subprocess_env, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert client.size("up.bin") == size
    assert hashlib.sha256(fetch(client, "up.bin")).digest() == hashlib.sha256(data).digest()
    client.quit()


def test_curl_resumes_a_download(server, tmp_path, subprocess_env):
    srv, user, password = server
    data = os.urandom(6 * MiB + 77)
    client = login(srv, user, password)
    client.storbinary("STOR down.bin", io.BytesIO(data))
    partial = tmp_path / "partial.bin"
    partial.write_bytes(data[:3 * MiB + 1])
    result = subprocess.run(["curl", "-sS", "-C", "-", "-o", str(partial), url(srv, user, password, "down.bin")],
                            env=subprocess_env, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert partial.read_bytes() == data
    client.quit()


def test_curl_ranges_with_and_without_epsv(server, tmp_path, subprocess_env):
    srv, user, password = server
    data = os.urandom(3 * MiB + 11)
    client = login(srv, user, password)
    client.storbinary("STOR ranged.bin", io.BytesIO(data))
    client.quit()
    # curl -r asks REST n, then closes the data connection once it has the range.
    for flags, (first, last) in ((["-r", "1000-2999"], (1000, 2999)), (["-r", "2000000-"], (2000000, len(data) - 1)),
                                 (["--disable-epsv", "-r", "0-99"], (0, 99))):
        result = subprocess.run(["curl", "-sS", *flags, url(srv, user, password, "ranged.bin")],
                                env=subprocess_env, capture_output=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout == data[first:last + 1], flags
    # PASV instead of EPSV for a whole download too.
    whole = subprocess.run(["curl", "-sS", "--disable-epsv", url(srv, user, password, "ranged.bin")],
                           env=subprocess_env, capture_output=True, timeout=120)
    assert whole.returncode == 0 and whole.stdout == data


def test_ftplib_rest_both_ways_and_appe(server):
    srv, user, password = server
    client = login(srv, user, password)
    data = os.urandom(8 * MiB + 9)
    client.storbinary("STOR r.bin", io.BytesIO(data[:5 * MiB + 3]))
    # REST n + STOR: keep the first n bytes, then what is sent.
    client.storbinary("STOR r.bin", io.BytesIO(data[5 * MiB + 3:]), rest=5 * MiB + 3)
    assert fetch(client, "r.bin") == data
    assert fetch(client, "r.bin", rest=8 * MiB) == data[8 * MiB:]
    assert fetch(client, "r.bin", rest=len(data)) == b""
    # REST past the end, and a negative one, are refused; the file is untouched.
    with pytest.raises(ftplib.error_perm, match="^550"):
        client.retrbinary("RETR r.bin", lambda _: None, rest=len(data) + 1)
    with pytest.raises(ftplib.error_perm, match="^501"):
        client.sendcmd("REST -5")
    client.storbinary("APPE r.bin", io.BytesIO(b"tail"))
    client.storbinary("APPE new.bin", io.BytesIO(b"fresh"))
    assert fetch(client, "r.bin") == data + b"tail"
    assert fetch(client, "new.bin") == b"fresh"
    # A REST+STOR past the end of the file is refused before any data moves.
    with pytest.raises(ftplib.error_perm, match="^550"):
        client.storbinary("STOR new.bin", io.BytesIO(b"x"), rest=100)
    assert fetch(client, "new.bin") == b"fresh"
    assert "REST STREAM" in client.sendcmd("FEAT")
    client.quit()


def _append_in_thread(client, name: str, data: bytes) -> tuple[threading.Thread, dict]:
    outcome = {}

    def run():
        try:
            outcome["reply"] = client.storbinary(f"APPE {name}", io.BytesIO(data))
        except ftplib.all_errors as error:
            outcome["reply"] = str(error)
    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _first_append_in_flight(server):
    """Two sessions; the first has stored `base` and is sending an APPE of it, not yet ended."""
    srv, user, password = server
    first, second = login(srv, user, password), login(srv, user, password)
    first.storbinary("STOR log.txt", io.BytesIO(b"base\n"))
    first.voidcmd("TYPE I")
    data = first.transfercmd("APPE log.txt")
    data.sendall(b"from A\n")
    return first, second, data


def test_an_append_waits_for_another_append_of_the_same_file(server):
    """Two APPEs of one file at once each started from the same stored version, and the one
    committed last dropped the other's bytes after both clients heard 226. The second now waits
    for the first and continues what it stored."""
    first, second, data = _first_append_in_flight(server)
    thread, outcome = _append_in_thread(second, "log.txt", b"from B\n")
    time.sleep(0.3)
    data.close()
    assert first.voidresp().startswith("226")
    thread.join(60)
    assert outcome["reply"].startswith("226"), outcome
    assert fetch(first, "log.txt") == b"base\nfrom A\nfrom B\n"
    first.quit()
    second.quit()


def test_an_append_held_up_too_long_by_another_gets_450_and_stores_nothing(server):
    first, second, data = _first_append_in_flight(server)
    started = time.monotonic()
    with pytest.raises(ftplib.error_temp, match="^450"):
        second.storbinary("APPE log.txt", io.BytesIO(b"from B\n"))
    assert 2 < time.monotonic() - started < 30
    data.close()
    assert first.voidresp().startswith("226")
    assert fetch(first, "log.txt") == b"base\nfrom A\n"
    # Once the first is stored, the file is free again.
    second.storbinary("APPE log.txt", io.BytesIO(b"from B\n"))
    assert fetch(second, "log.txt") == b"base\nfrom A\nfrom B\n"
    first.quit()
    second.quit()


def test_an_append_whose_client_went_silent_is_taken_over(server):
    """A client whose connection died silently mid-APPE held the file until the stall
    watchdog ended its upload (minutes): its resume on a new connection got 450 meanwhile.
    After 20 s without a byte, a new continuation takes over; the silent one stores nothing."""
    first, second, data = _first_append_in_flight(server)
    with pytest.raises(ftplib.error_temp, match="^450"):
        second.storbinary("APPE log.txt", io.BytesIO(b"from B\n"))
    time.sleep(18)
    assert second.storbinary("APPE log.txt", io.BytesIO(b"from B\n")).startswith("226")
    assert fetch(second, "log.txt") == b"base\nfrom B\n"
    data.close()
    with pytest.raises(ftplib.all_errors):
        first.voidresp()
    assert fetch(second, "log.txt") == b"base\nfrom B\n"
    second.quit()


@pytest.mark.parametrize("base", [b"", b"base\n"], ids=["empty", "small"])
def test_an_append_fails_when_a_stor_replaced_its_file_meanwhile(server, base):
    """A STOR from another session that stored while an APPE's bytes still came was replaced
    by the APPE's commit, with 226 for both clients, since the continued version was checked
    only at the APPE's start. Now the APPE gets 450 and the STOR's file stays."""
    srv, user, password = server
    first, second = login(srv, user, password), login(srv, user, password)
    first.storbinary("STOR log.txt", io.BytesIO(base))
    first.voidcmd("TYPE I")
    data = first.transfercmd("APPE log.txt")
    data.sendall(os.urandom(2 * MiB))
    time.sleep(0.5)
    assert second.storbinary("STOR log.txt", io.BytesIO(b"from B\n")).startswith("226")
    data.sendall(b"from A\n")
    data.close()
    with pytest.raises(ftplib.error_temp, match="^450"):
        first.voidresp()
    assert fetch(second, "log.txt") == b"from B\n"
    first.quit()
    second.quit()
