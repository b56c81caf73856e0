"""FTP protocol replies of ossftp: basic verbs, errors, bad input, path confinement.

Raw sockets (rawftp.RawFTP) send exact bytes; ftplib is used where a data
connection is needed.
"""

from __future__ import annotations

import ftplib
import io
import os
import signal
import socket
import time

import pytest

from fileutil import tree, user_entries
from netutil import HOST
from rawftp import RawFTP


@pytest.fixture
def raw(ossftp):
    conn = RawFTP(ossftp.port)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def authed(raw, alice):
    r = raw.login(alice.username, alice.password)
    assert r.code == 230, r.text
    return raw


# ---------------------------------------------------------------- basics


def test_greeting(raw, ossftp):
    assert raw.greeting.code == 220
    assert ossftp.banner.startswith("220")


def test_login_hashed_password(raw, alice):
    r = raw.cmd(f"USER {alice.username}")
    assert r.code == 331, r.text
    r = raw.cmd(f"PASS {alice.password}")
    assert r.code == 230, r.text


def test_syst(authed):
    r = authed.cmd("SYST")
    assert r.code == 215, r.text


def test_feat_is_multiline_211(authed):
    r = authed.cmd("FEAT")
    assert r.code == 211, r.text
    assert r.multiline, r.text
    assert r.lines[0].startswith("211-"), r.lines
    assert r.lines[-1].startswith("211 "), r.lines
    # Feature lines start with a space (RFC 2389).
    assert all(line.startswith(" ") for line in r.lines[1:-1]), r.lines
    features = {line.strip().split(" ")[0].upper() for line in r.lines[1:-1]}
    # RFC 3659: a server that implements SIZE lists it in FEAT.
    assert "SIZE" in features, features


def test_noop_type_pwd_quit(authed):
    assert authed.cmd("NOOP").code == 200
    assert authed.cmd("TYPE I").code == 200
    r = authed.cmd("PWD")
    assert r.code == 257 and '"/"' in r.text, r.text
    r = authed.cmd("QUIT")
    assert r.code == 221, r.text
    # The server closes the control connection after QUIT.
    authed.sock.settimeout(5)
    assert authed.sock.recv(1) == b""


def test_size_of_uploaded_file(ftp, ossftp):
    ftp.storbinary("STOR sized.bin", io.BytesIO(os.urandom(4321)))
    ftp.voidcmd("TYPE I")
    assert ftp.sendcmd("SIZE sized.bin") == "213 4321"


def test_epsv_returns_229_and_data_flows(ftp, ossftp):
    payload = os.urandom(20000)
    ftp.storbinary("STOR e.bin", io.BytesIO(payload))
    ftp.voidcmd("TYPE I")
    resp = ftp.sendcmd("EPSV")
    assert resp.startswith("229"), resp
    host, port = ftplib.parse229(resp, ftp.sock.getpeername())
    assert ossftp.passive_start <= port <= ossftp.passive_end, (port, ossftp.passive_start, ossftp.passive_end)
    with socket.create_connection((host, port), timeout=10) as data:
        prelim = ftp.sendcmd("RETR e.bin")
        assert prelim[:3] in ("125", "150"), prelim
        chunks = []
        while True:
            b = data.recv(65536)
            if not b:
                break
            chunks.append(b)
    assert ftp.voidresp().startswith("226")
    assert b"".join(chunks) == payload


def test_sigterm_stops_server(ossftp):
    proc = ossftp.proc
    ossftp.expect_exit = True
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except Exception:
        pytest.fail("ossftp did not exit within 10 s of SIGTERM")
    with pytest.raises(OSError):
        socket.create_connection((HOST, ossftp.port), timeout=2).close()


def test_many_small_uploads(ossftp, alice):
    """ftplib opens the data connection before STOR; small files must complete every time."""
    with ftplib.FTP() as f:
        f.connect(HOST, ossftp.port, timeout=5)
        f.login(alice.username, alice.password)
        for i in range(40):
            body = f"file {i}\n".encode()
            try:
                f.storbinary(f"STOR small{i}.txt", io.BytesIO(body))
            except (TimeoutError, socket.timeout):
                pytest.fail(f"STOR small{i}.txt ({len(body)} bytes) got no final reply within 5 s")
            assert (ossftp.bucket_dir() / f"small{i}.txt").read_bytes() == body


def _recv_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        b = sock.recv(65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


@pytest.mark.parametrize("size", [8, 100_000])
def test_stor_data_connection_after_150(ossftp, alice, size):
    """RFC 959 lets the client connect the passive data port after the 1xx reply."""
    body = os.urandom(size)
    with RawFTP(ossftp.port) as c:
        assert c.login(alice.username, alice.password).code == 230
        assert c.cmd("TYPE I").code == 200
        for i in range(3):
            r = c.cmd("PASV")
            assert r.code == 227, r.text
            host, port = ftplib.parse227(r.text)
            r = c.cmd(f"STOR late{i}.bin")
            assert r.code in (125, 150), r.text
            with socket.create_connection((host, port), timeout=5) as data:
                time.sleep(0.05)
                data.sendall(body)
            r = c.read_reply()
            assert r.code == 226, r.text
            stored = (ossftp.bucket_dir() / f"late{i}.bin").read_bytes()
            assert stored == body, f"226 but {len(stored)} of {size} bytes stored (attempt {i})"


def _lines_during_an_upload(ossftp, alice, name: str, lines: list[bytes]) -> list[int]:
    """Sends `lines` in one packet while STOR `name` receives `part one` and then `part two`;
    the codes of the replies after the 150, in order."""
    with RawFTP(ossftp.port) as c:
        assert c.login(alice.username, alice.password).code == 230
        assert c.cmd("TYPE I").code == 200
        host, port = ftplib.parse227(c.cmd("PASV").text)
        with socket.create_connection((host, port), timeout=5) as data:
            assert c.cmd(f"STOR {name}").code in (125, 150)
            data.sendall(b"part one")
            c.sock.sendall(b"".join(line + b"\r\n" for line in lines))
            time.sleep(0.3)
            data.sendall(b" part two")
        codes = [c.read_reply().code for _ in range(len(lines) + 1)]
    assert (ossftp.bucket_dir() / name).read_bytes() == b"part one part two"
    return codes


def test_commands_pipelined_during_an_upload_are_answered_in_order(ossftp, alice):
    """PWD, NOOP and STAT sent together during a STOR: PWD waits for the transfer's reply, and
    NOOP and STAT, which may answer during a transfer, wait behind it (they were answered first,
    so a pipelining client took NOOP's 200 for PWD's reply)."""
    assert _lines_during_an_upload(ossftp, alice, "piped.bin", [b"PWD", b"NOOP", b"STAT"]) == [226, 257, 200, 211]


def test_lines_refused_during_an_upload_keep_their_place(ossftp, alice):
    """An unknown verb, a missing argument, bytes that are not UTF-8 and an over-long line,
    sent during a STOR with good commands around them: their 500 and 501 were answered at once,
    ahead of the 226 and of the PWD sent before them (a randomized audit's finding)."""
    lines = [b"PWD", b"FOO", b"MKD", b"NOOP", b"SIZE \xff", b"X" * 5000, b"SYST"]
    assert _lines_during_an_upload(ossftp, alice, "refused.bin", lines) == [226, 257, 500, 501, 200, 501, 500, 215]


@pytest.mark.parametrize("verb", ["RETR", "STOR", "LIST", "NLST", "MLSD"])
def test_noop_and_stat_pipelined_behind_a_transfer_command_come_after_its_150(ossftp, alice, verb):
    """`RETR f` and `NOOP` in one packet: the NOOP's 200 came before the RETR's 150, and a
    pipelining client took it for the RETR's reply."""
    (ossftp.bucket_dir() / "f.bin").write_bytes(b"x" * 100_000)
    with RawFTP(ossftp.port) as c:
        assert c.login(alice.username, alice.password).code == 230
        assert c.cmd("TYPE I").code == 200
        for follower, code in (("NOOP", 200), ("STAT", 211)):
            host, port = ftplib.parse227(c.cmd("PASV").text)
            with socket.create_connection((host, port), timeout=5) as data:
                argument = " f.bin" if verb in ("RETR", "STOR") else ""
                c.sock.sendall(f"{verb}{argument}\r\n{follower}\r\n".encode())
                assert c.read_reply().code == 150
                if verb == "STOR":
                    data.sendall(b"stored")
                    data.shutdown(socket.SHUT_WR)
                _recv_all(data)
            assert [c.read_reply().code for _ in range(2)] == [226, code], (verb, follower)


def _upload_started(c: RawFTP, account, name: str) -> socket.socket:
    """Logs `c` in and starts a binary STOR of `name`; returns its data connection."""
    assert c.login(account.username, account.password).code == 230
    assert c.cmd("TYPE I").code == 200
    host, port = ftplib.parse227(c.cmd("PASV").text)
    data = socket.create_connection((host, port), timeout=5)
    assert c.cmd(f"STOR {name}").code == 150
    return data


def test_a_client_that_half_closes_still_gets_every_reply(ossftp, alice):
    """`printf 'MKD x\\r\\nQUIT\\r\\n' | nc -N`: the client's FIN ends its commands, not the
    session. Each command read is answered, a transfer running is finished and answered, and
    the server closes once all is answered (it dropped them all at the FIN, after doing the
    MKD)."""
    login = f"USER {alice.username}\r\nPASS {alice.password}\r\n".encode()
    with RawFTP(ossftp.port) as c:
        c.sock.sendall(login + b"MKD halfclosed\r\nPWD\r\nQUIT\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        assert [c.read_reply().code for _ in range(5)] == [331, 230, 257, 257, 221]
        assert c.sock.recv(1) == b""
    assert (ossftp.bucket_dir() / "halfclosed").is_dir()
    # Without QUIT: answered, then closed by the server.
    with RawFTP(ossftp.port) as c:
        c.sock.sendall(b"SYST\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        assert c.read_reply().code == 215
        assert c.sock.recv(1) == b""
    # During an upload: it is committed and answered before the QUIT's reply.
    with RawFTP(ossftp.port) as c:
        with _upload_started(c, alice, "halfclosed.bin") as data:
            data.sendall(b"first ")
            c.sock.sendall(b"QUIT\r\n")
            c.sock.shutdown(socket.SHUT_WR)
            time.sleep(0.3)
            data.sendall(b"second")
        assert [c.read_reply().code for _ in range(2)] == [226, 221]
    assert (ossftp.bucket_dir() / "halfclosed.bin").read_bytes() == b"first second"
    # Without QUIT, a FIN during an upload is a disconnect: a client that dies closes its data
    # connection too, which reads as the file's end. Nothing is stored.
    with RawFTP(ossftp.port) as c:
        with _upload_started(c, alice, "cut.bin") as data:
            data.sendall(b"only the start")
            time.sleep(0.2)
            c.sock.shutdown(socket.SHUT_WR)
            time.sleep(0.3)
        assert c.read_reply().code == 426
        assert c.sock.recv(1) == b""
    assert not (ossftp.bucket_dir() / "cut.bin").exists()


def test_retr_data_connection_after_150(ossftp, alice):
    body = os.urandom(100_000)
    (ossftp.bucket_dir() / "late.bin").write_bytes(body)
    with RawFTP(ossftp.port) as c:
        assert c.login(alice.username, alice.password).code == 230
        assert c.cmd("TYPE I").code == 200
        for i in range(3):
            r = c.cmd("PASV")
            assert r.code == 227, r.text
            host, port = ftplib.parse227(r.text)
            r = c.cmd("RETR late.bin")
            assert r.code in (125, 150), r.text
            with socket.create_connection((host, port), timeout=5) as data:
                got = _recv_all(data)
            r = c.read_reply()
            assert r.code == 226, f"attempt {i}: {r.text}"
            assert got == body, f"attempt {i}: received {len(got)} of {len(body)} bytes"


def _data_connection_left_unused(ossftp, alice, then: bytes) -> None:
    with RawFTP(ossftp.port) as c:
        assert c.login(alice.username, alice.password).code == 230
        r = c.cmd("PASV")
        assert r.code == 227, r.text
        host, port = ftplib.parse227(r.text)
        with socket.create_connection((host, port), timeout=5):
            time.sleep(0.2)
            c.sock.sendall(then)
            try:
                c.read_reply()
            except ConnectionError:
                pass
    time.sleep(1.5)


@pytest.mark.parametrize("then", [b"QUIT\r\n", b"PASV\r\n", b"RETR missing.txt\r\n",
                                  b"LIST missing-dir\r\n"],
                         ids=["quit", "pasv-again", "retr-missing", "list-missing"])
def test_unused_data_connection_does_not_crash_server(ossftp, alice, then):
    """A data connection that is opened but never used for a transfer must not kill the server."""
    _data_connection_left_unused(ossftp, alice, then)
    assert ossftp.proc.poll() is None, f"ossftp died with exit code {ossftp.proc.returncode}"
    with RawFTP(ossftp.port) as c:
        assert c.login(alice.username, alice.password).code == 230


# ---------------------------------------------------------------- errors


def test_unknown_verb_500(authed):
    r = authed.cmd("FROBNICATE now")
    assert r.code == 500, r.text
    assert authed.cmd("NOOP").code == 200


def test_unknown_verb_before_login(raw):
    # RFC 959 leaves a choice: 500 (unknown) or 530 (not logged in). Either, never success.
    r = raw.cmd("FROBNICATE")
    assert r.code in (500, 530), r.text


@pytest.mark.parametrize("line", ["PWD", "LIST", "NLST", "RETR x", "STOR x", "CWD /", "MKD d",
                                  "DELE x", "SIZE x", "PASV", "EPSV"])
def test_commands_before_login_530(raw, ossftp, line):
    r = raw.cmd(line)
    assert r.code == 530, f"{line!r} -> {r.text}"
    assert user_entries(ossftp.bucket_dir()) == []


@pytest.mark.parametrize("verb", ["MKD", "RMD", "DELE", "SIZE", "RETR", "STOR"])
def test_missing_argument_501(authed, verb):
    r = authed.cmd(verb)
    assert r.code == 501, f"{verb!r} -> {r.text}"
    assert authed.cmd("NOOP").code == 200


def test_user_without_argument_501(raw):
    r = raw.cmd("USER")
    assert r.code == 501, r.text


def test_wrong_password_530_after_delay(raw, alice):
    assert raw.cmd(f"USER {alice.username}").code == 331
    t0 = time.monotonic()
    r = raw.cmd(f"PASS not-{alice.password}")
    elapsed = time.monotonic() - t0
    assert r.code == 530, r.text
    assert elapsed >= 0.5, f"530 came after only {elapsed:.3f} s"
    # Still not logged in.
    assert raw.cmd("PWD").code == 530


def test_unknown_user_530_after_delay(raw):
    r = raw.cmd("USER mallory")
    assert r.code in (331, 530), r.text
    if r.code == 331:
        t0 = time.monotonic()
        r = raw.cmd("PASS whatever")
        elapsed = time.monotonic() - t0
        assert r.code == 530, r.text
        assert elapsed >= 0.5, f"530 came after only {elapsed:.3f} s"


def test_hash_string_is_not_a_password(ossftp, alice):
    """Logging in with the stored hash itself must fail."""
    stored = alice.config_entry()["login_password"]
    with RawFTP(ossftp.port) as c:
        assert c.cmd(f"USER {alice.username}").code == 331
        assert c.cmd(f"PASS {stored}").code == 530


def test_dele_missing_550(authed):
    r = authed.cmd("DELE no-such-file.txt")
    assert r.code == 550, r.text


def test_retr_missing_550(ftp):
    with pytest.raises(ftplib.error_perm) as e:
        ftp.retrbinary("RETR no-such-file.txt", lambda b: None)
    assert str(e.value).startswith("550"), str(e.value)


def test_cwd_missing_550(authed):
    r = authed.cmd("CWD no-such-dir")
    assert r.code == 550, r.text
    assert '"/"' in authed.cmd("PWD").text


def test_rmd_missing_550(authed):
    r = authed.cmd("RMD no-such-dir")
    assert r.code == 550, r.text


def test_rmd_non_empty_550_keeps_content(ftp, ossftp):
    ftp.mkd("full")
    ftp.storbinary("STOR full/keep.txt", io.BytesIO(b"keep me"))
    with pytest.raises(ftplib.error_perm) as e:
        ftp.rmd("full")
    assert str(e.value).startswith("550"), str(e.value)
    assert (ossftp.bucket_dir() / "full" / "keep.txt").read_bytes() == b"keep me"
    assert [n.rsplit("/", 1)[-1] for n in ftp.nlst("full")] == ["keep.txt"]


def test_mkd_rmd_on_disk(authed, ossftp):
    r = authed.cmd("MKD newdir")
    assert r.code == 257, r.text
    assert (ossftp.bucket_dir() / "newdir").is_dir()
    r = authed.cmd("RMD newdir")
    assert r.code == 250, r.text
    assert not (ossftp.bucket_dir() / "newdir").exists()


# ---------------------------------------------------------------- bad bytes


@pytest.mark.parametrize("data", [b"MKD a\x00b\r\n", b"MKD \xff\xfe\r\n", b"MKD \xc0\xae\r\n",
                                  b"MKD ok\xc0\xafname\r\n", b"CWD \xed\xa0\x80\r\n"],
                         ids=["nul", "ff-fe", "overlong-dot", "overlong-slash", "surrogate"])
def test_bad_bytes_in_path_rejected(authed, ossftp, data):
    r = authed.send_raw(data)
    assert r.code in (501, 553), f"{data!r} -> {r.text}"
    # The session survives and nothing was created.
    assert authed.cmd("NOOP").code == 200
    assert user_entries(ossftp.bucket_dir()) == []
    assert '"/"' in authed.cmd("PWD").text


def test_nul_in_user_rejected(raw):
    r = raw.send_raw(b"USER ali\x00ce\r\n")
    assert r.code in (501, 530, 553), r.text


# ---------------------------------------------------------------- confinement


def _outside_snapshot(ossftp) -> set[str]:
    """Everything under the server's base folder except bucket1, the spool and the log."""
    return tree(ossftp.base, exclude=(ossftp.bucket_dir(), ossftp.spool_dir))


def _pwd(conn) -> str:
    r = conn.cmd("PWD")
    assert r.code == 257, r.text
    return r.text.split('"')[1]


def test_cwd_dotdot_at_root_stays_root(authed, ossftp):
    r = authed.cmd("CWD ..")
    assert r.code in (250, 550), r.text
    assert _pwd(authed) == "/"
    r = authed.cmd("CDUP")
    assert r.code in (200, 250, 550), r.text
    assert _pwd(authed) == "/"
    r = authed.cmd("CWD ../../..")
    assert r.code in (250, 550), r.text
    assert _pwd(authed) == "/"


def test_cwd_escapes_are_confined(authed, ossftp):
    outside_before = _outside_snapshot(ossftp)
    assert authed.cmd("MKD x").code == 257
    # /../x is /x inside the account: either allowed as /x or refused.
    r = authed.cmd("CWD /../x")
    assert r.code in (250, 550), r.text
    assert _pwd(authed) in ("/", "/x")
    assert authed.cmd("CWD /").code == 250
    # Backslashes: a literal name (no such dir) or separators (confined to /x).
    r = authed.cmd("CWD ..\\..\\x")
    assert r.code in (250, 550), r.text
    assert _pwd(authed) in ("/", "/x")
    assert authed.cmd("CWD /").code == 250
    # The account's parent folder holds bucket2 (bob's); it must not be reachable.
    for target in ("../bucket2", "/../bucket2", "../../root/bucket2", "..\\bucket2"):
        r = authed.cmd(f"CWD {target}")
        assert r.code == 550, f"CWD {target} -> {r.text}"
    assert _outside_snapshot(ossftp) == outside_before


def test_mkd_escape_is_confined(authed, ossftp):
    outside_before = _outside_snapshot(ossftp)
    for target in ("../../escape", "/../../escape2", "..\\..\\escape3"):
        r = authed.cmd(f"MKD {target}")
        assert r.code in (257, 550, 553), f"MKD {target} -> {r.text}"
    assert _outside_snapshot(ossftp) == outside_before
    assert not (ossftp.base / "escape").exists()
    assert not (ossftp.local_root / "escape").exists()
    assert not (ossftp.base.parent / "escape").exists()


def test_stor_escape_is_confined(ftp, ossftp):
    outside_before = _outside_snapshot(ossftp)
    for target in ("../../escape.txt", "/../escape.txt", "../bucket2/planted.txt"):
        try:
            ftp.storbinary(f"STOR {target}", io.BytesIO(b"escape attempt"))
        except ftplib.error_perm as e:
            assert str(e)[:3] in ("550", "553"), f"STOR {target} -> {e}"
    assert _outside_snapshot(ossftp) == outside_before
    for p in (ossftp.base / "escape.txt", ossftp.local_root / "escape.txt",
              ossftp.base.parent / "escape.txt", ossftp.local_root / "bucket2" / "planted.txt"):
        assert not p.exists(), f"{p} was written outside the account root"
    # Whatever was written landed inside bucket1.
    for p in ossftp.bucket_dir().rglob("*"):
        assert p.resolve().is_relative_to(ossftp.bucket_dir().resolve())


def test_retr_cannot_read_outside(ftp, ossftp, bob):
    (ossftp.bucket_dir(bob) / "secret.txt").write_bytes(b"bob's secret")
    for target in ("../bucket2/secret.txt", "/../bucket2/secret.txt", "..\\bucket2\\secret.txt",
                   "../../config.json"):
        got = io.BytesIO()
        with pytest.raises(ftplib.error_perm) as e:
            ftp.retrbinary(f"RETR {target}", got.write)
        assert str(e.value)[:3] in ("550", "553"), f"RETR {target} -> {e.value}"
        assert got.getvalue() == b""
