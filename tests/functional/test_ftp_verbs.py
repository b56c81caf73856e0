"""The rest of the FTP verbs clients use: active mode and its bounce protection, ABOR (also
after Telnet IP), ASCII transfers, STOU, SITE, REIN, STAT, pipelining and framing."""

from __future__ import annotations

import contextlib
import ftplib
import io
import os
import socket
import subprocess
import threading
import time

import pytest

from netutil import HOST
from rawftp import RawFTP

MiB = 1024 * 1024


def test_active_mode_with_ftplib_and_curl(ftp, ossftp, alice, tmp_path, subprocess_env):
    ftp.set_pasv(False)
    body = os.urandom(3 * MiB)
    ftp.storbinary("STOR active.bin", io.BytesIO(body))
    out = io.BytesIO()
    ftp.retrbinary("RETR active.bin", out.write)
    assert out.getvalue() == body
    assert sorted(ftp.nlst()) == ["active.bin"]
    target = tmp_path / "curl-active.bin"
    url = f"ftp://{alice.username}:{alice.password}@{HOST}:{ossftp.port}/active.bin"
    for flags in (["-P", HOST], ["-P", HOST, "--disable-eprt"]):
        result = subprocess.run(["curl", "-sS", *flags, "-o", str(target), url], env=subprocess_env,
                                capture_output=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert target.read_bytes() == body


@pytest.mark.parametrize("command", [
    "PORT 127,0,0,2,200,10", "PORT 127,0,0,1,0,21", "EPRT |1|127.0.0.2|51000|", "EPRT |1|127.0.0.1|80|",
    "PORT 1,2,3,4,5", "PORT 256,0,0,1,4,1", "PORT 127,0,0,1,4,256", "EPRT ||||", "EPRT |1|127.0.0.1|65536|",
])
def test_bounce_attempts_are_refused(ossftp, alice, command):
    with RawFTP(ossftp.port) as c:
        assert c.login(alice.username, alice.password).code == 230
        assert c.cmd(command).code == 501
        # Nothing was set up: a transfer now has no data connection.
        assert c.cmd("RETR x").code == 425


def test_eprt_of_an_unknown_family_and_after_epsv_all(ossftp, alice):
    with RawFTP(ossftp.port) as c:
        c.login(alice.username, alice.password)
        assert c.cmd("EPRT |3|127.0.0.1|5000|").code == 522
        assert c.cmd("EPSV ALL").code == 200
        assert c.cmd("PORT 127,0,0,1,200,10").code == 503
        assert c.cmd("EPRT |1|127.0.0.1|51000|").code == 503
        assert c.cmd("PASV").code == 503


def test_abor_stops_a_download_and_an_upload(ftp, ossftp):
    ftp.storbinary("STOR big.bin", io.BytesIO(os.urandom(64 * MiB)))
    conn = ftp.transfercmd("RETR big.bin")
    conn.recv(65536)
    # Telnet IP, then DM as urgent data, before ABOR, as lftp sends them (RFC 959 §4.1.3).
    ftp.sock.sendall(b"\xff\xf4\xff")
    ftp.sock.sendall(b"\xf2", socket.MSG_OOB)
    ftp.sock.sendall(b"ABOR\r\n")
    replies = [ftp.getline() for _ in range(2)]
    conn.close()
    assert replies[0].startswith("426") and replies[1].startswith("226"), replies
    conn = ftp.transfercmd("STOR torn.bin")
    conn.sendall(os.urandom(4 * MiB))
    ftp.sock.sendall(b"ABOR\r\n")
    replies = [ftp.getline() for _ in range(2)]
    conn.close()
    assert replies[0][:3] in ("426", "226") and replies[1].startswith("226"), replies
    assert "torn.bin" not in ftp.nlst()
    # ftplib's own abort() sends the whole line as TCP urgent data, during a download and an
    # upload: understood (not left waiting for an LF the kernel took out), nothing stored.
    for command in ("RETR big.bin", "STOR torn2.bin"):
        conn = ftp.transfercmd(command)
        if command.startswith("RETR"):
            conn.recv(65536)
        else:
            conn.sendall(os.urandom(4 * MiB))
        first = ftp.abort()
        replies = [first] + ([ftp.getline()] if first.startswith("426") else [])
        conn.close()
        assert replies[-1].startswith("226"), replies
    assert "torn2.bin" not in ftp.nlst()
    assert (ossftp.bucket_dir() / "big.bin").stat().st_size == 64 * MiB
    assert ftp.sendcmd("ABOR").startswith("226")
    assert ftp.sendcmd("NOOP").startswith("200")


def test_a_data_connection_racing_abor_or_a_dropped_session_leaves_the_server_up(ossftp, alice):
    """A data connection that becomes active just as its transfer is cancelled (ABOR right
    behind the command, or the control connection dropped) is closed. It used to be dropped
    unfinished, and NIO's async channel stopped the whole process (2 to 8 rounds here)."""
    (ossftp.bucket_dir() / "listed.txt").write_bytes(b"x")
    for round_number in range(30):
        verb = ("LIST", "NLST", "MLSD")[round_number % 3]
        with RawFTP(ossftp.port) as c:
            assert c.login(alice.username, alice.password).code == 230
            port = int(c.cmd("EPSV").lines[0].split("|")[3])
            data = socket.create_connection((HOST, port))
            c.sock.sendall(f"{verb}\r\nABOR\r\n".encode())
            time.sleep(0.05 * (round_number % 4))
            c.cmd("NOOP")
            data.close()
    for round_number in range(20):
        c = RawFTP(ossftp.port)
        c.login(alice.username, alice.password)
        port = int(c.cmd("EPSV").lines[0].split("|")[3])
        c.sock.sendall(b"LIST\r\n")
        time.sleep(0.002 * (round_number % 5))
        data = socket.socket()
        data.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            data.connect((HOST, port))
        c.close()
        time.sleep(0.05)
        data.close()
    assert ossftp.proc.poll() is None, "the server stopped"
    # ABOR with no transfer closes a data connection set up for none (RFC 959 §4.1.3); it
    # stayed open until the data connection timeout.
    with RawFTP(ossftp.port) as c:
        assert c.login(alice.username, alice.password).code == 230
        port = int(c.cmd("EPSV").lines[0].split("|")[3])
        with socket.create_connection((HOST, port), timeout=10) as data:
            assert c.cmd("ABOR").code == 226
            with contextlib.suppress(ConnectionResetError):
                assert data.recv(1) == b"", "the data connection was left open"


def test_a_file_cut_shorter_during_its_download_fails_it_at_once(ftp, ossftp):
    """Another program truncates a local file being sent from the page cache (sendfile): the
    download ends with 451 within seconds. sendfile had nothing more to send, and NIO tried it
    again and again, a core busy until the stall watchdog's 426 five minutes later."""
    ftp.storbinary("STOR long.bin", io.BytesIO(os.urandom(64 * MiB)))
    conn = ftp.transfercmd("RETR long.bin")
    conn.settimeout(20)
    got = conn.recv(MiB)
    os.truncate(ossftp.bucket_dir() / "long.bin", 100_000)
    ftp.sock.settimeout(20)
    while chunk := conn.recv(MiB):
        got += chunk
    conn.close()
    with pytest.raises(ftplib.error_temp, match="^451 .*shrank"):
        ftp.voidresp()
    assert len(got) < 64 * MiB


def test_ascii_transfers_convert_line_ends(ftp, ossftp):
    ftp.storlines("STOR text.txt", io.BytesIO(b"one\r\ntwo\r\nthree\r\n"))
    assert (ossftp.bucket_dir() / "text.txt").read_bytes() == b"one\ntwo\nthree\n"
    lines: list[str] = []
    ftp.retrlines("RETR text.txt", lines.append)
    assert lines == ["one", "two", "three"]
    raw = io.BytesIO()
    ftp.voidcmd("TYPE A")
    with ftp.transfercmd("RETR text.txt") as conn:
        while chunk := conn.recv(65536):
            raw.write(chunk)
    ftp.voidresp()
    assert raw.getvalue() == b"one\r\ntwo\r\nthree\r\n"
    binary = io.BytesIO()
    ftp.retrbinary("RETR text.txt", binary.write)
    assert binary.getvalue() == b"one\ntwo\nthree\n"


def test_stou_site_rein_stat_and_friends(ftp, ossftp, alice):
    ftp.voidcmd("TYPE I")
    conn, _ = ftp.ntransfercmd("STOU")
    conn.sendall(b"unique")
    conn.close()
    ftp.voidresp()
    names = ftp.nlst()
    assert len(names) == 1 and names[0].startswith("stou-")
    assert (ossftp.bucket_dir() / names[0]).read_bytes() == b"unique"
    assert ftp.sendcmd("SITE HELP").startswith("214")
    with pytest.raises(ftplib.error_perm, match="^502"):
        ftp.sendcmd("SITE CHMOD 644 " + names[0])
    with pytest.raises(ftplib.error_perm, match="^502 .*no links"):
        ftp.sendcmd(f"SITE SYMLINK {names[0]} link")
    with pytest.raises(ftplib.error_perm, match="^504"):
        ftp.sendcmd("SITE EXEC ls")
    assert sorted(ftp.nlst()) == names
    assert ftp.sendcmd("ALLO 1000").startswith("202")
    assert ftp.sendcmd("CLNT test 1.0").startswith("200")
    status = ftp.sendcmd("STAT")
    assert status.startswith("211-") and alice.username in status
    assert ftp.sendcmd("REIN").startswith("220")
    with pytest.raises(ftplib.error_perm, match="^530"):
        ftp.sendcmd("PWD")
    ftp.login(alice.username, alice.password)
    assert ftp.pwd() == "/"


def test_stou_with_a_name_takes_it_when_free(ftp, ossftp):
    """BSD ftp's `sunique` sends STOU with the local name: that name if free, else name.1..."""
    ftp.voidcmd("TYPE I")
    (ossftp.bucket_dir() / "scan.pdf").write_bytes(b"first")
    replies = []
    send = ftp.sendcmd
    ftp.sendcmd = lambda line: replies.append(send(line)) or replies[-1]
    for name, body in (("scan.pdf", b"second"), ("scan.pdf", b"third"), ("new.pdf", b"fourth")):
        conn, _ = ftp.ntransfercmd(f"STOU {name}")
        conn.sendall(body)
        conn.close()
        ftp.voidresp()
    # RFC 1123 section 4.1.2.9: the 150 names the file.
    assert [r for r in replies if r.startswith("150")] == [
        "150 FILE: scan.pdf.1", "150 FILE: scan.pdf.2", "150 FILE: new.pdf"]
    assert (ossftp.bucket_dir() / "scan.pdf").read_bytes() == b"first"
    assert (ossftp.bucket_dir() / "scan.pdf.1").read_bytes() == b"second"
    assert (ossftp.bucket_dir() / "scan.pdf.2").read_bytes() == b"third"
    assert (ossftp.bucket_dir() / "new.pdf").read_bytes() == b"fourth"


def test_stous_of_one_name_at_once_never_overwrite_each_other(ossftp, alice):
    """Several STOUs of one name at once all found it free, all heard 226, and one file was
    left: the others' acknowledged uploads were lost. Each commits only if the name is still
    free; the ones that lost the race hear so (550)."""
    import threading

    clients = []
    for _ in range(8):
        client = ftplib.FTP()
        client.connect(HOST, ossftp.port, timeout=15)
        client.login(alice.username, alice.password)
        clients.append(client)
    start = threading.Barrier(len(clients))
    stored, refused = [], []

    def upload(index, client):
        start.wait()
        body = f"upload {index}\n".encode() * 100_000
        try:
            client.storbinary("STOU photo.jpg", io.BytesIO(body))
            stored.append(body)
        except ftplib.error_perm as error:
            refused.append(str(error))

    threads = [threading.Thread(target=upload, args=pair) for pair in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kept = sorted(p.read_bytes() for p in ossftp.bucket_dir().iterdir() if p.name.startswith("photo.jpg"))
    assert sorted(stored) == kept, (len(stored), len(kept))
    assert len(stored) + len(refused) == len(clients)
    assert all(reply.startswith("550") and "exists" in reply for reply in refused)
    for client in clients:
        client.quit()


def test_a_folder_made_on_the_server_is_there_to_enter_and_upload_into(ftp, ossftp):
    """A folder an administrator made with mkdir (no marker, nothing in it) was left out of
    listings, and CWD into it got 550: a camera told to store there could not. It is a folder
    now, and one written into keeps its place when its files go, as one made with MKD."""
    bucket = ossftp.bucket_dir()
    (bucket / "incoming").mkdir()
    (bucket / "spare" / "nested").mkdir(parents=True)
    assert {name: facts["type"] for name, facts in ftp.mlsd()} == {"incoming": "dir", "spare": "dir"}
    ftp.cwd("incoming")
    assert ftp.nlst() == [] and ftp.pwd() == "/incoming"
    ftp.storbinary("STOR pic.jpg", io.BytesIO(b"jpeg"))
    ftp.delete("pic.jpg")
    ftp.cwd("/")
    assert [name for name, _ in ftp.mlsd()] == ["incoming", "spare"]
    assert (bucket / "incoming").is_dir()
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.mkd("incoming")
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.rmd("spare")  # it holds `nested`
    # RMD removes a bare folder for real (it answered 250 and left it on disk), and only it:
    # `spare` stays, a folder on disk.
    ftp.rmd("spare/nested")
    assert not (bucket / "spare" / "nested").exists()
    assert [name for name, _ in ftp.mlsd()] == ["incoming", "spare"] and ftp.nlst("spare") == []
    ftp.rmd("spare")
    ftp.rmd("incoming")
    assert not (bucket / "incoming").exists() and not (bucket / "spare").exists()
    # A folder holding only what no listing shows (a link) is not removed, and RMD says so.
    (bucket / "linked").mkdir()
    (bucket / "linked" / "l").symlink_to("/etc")
    with pytest.raises(ftplib.error_perm, match="^550.*no listing shows"):
        ftp.rmd("linked")
    assert (bucket / "linked" / "l").is_symlink()


def test_list_d_stat_options_and_mdtm_with_a_time(ftp, ossftp):
    folder = ossftp.bucket_dir() / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"12345")
    # `LIST -d dir` (lftp's `cls -d`, `ls -d`) is the directory's own line, not its entries.
    lines = []
    ftp.retrlines("LIST -ld photos", lines.append)
    assert len(lines) == 1 and lines[0].startswith("d") and lines[0].endswith(" photos")
    lines = []
    ftp.retrlines("LIST -l photos", lines.append)
    assert len(lines) == 1 and lines[0].startswith("-") and lines[0].endswith(" a.jpg")
    # With a wildcard, each match as itself (`ls -ld p*`).
    (ossftp.bucket_dir() / "pics").mkdir()
    (ossftp.bucket_dir() / "pics" / "b.jpg").write_bytes(b"b")
    lines = []
    ftp.retrlines("LIST -ld p*", lines.append)
    assert sorted(line.split()[-1] for line in lines) == ["photos", "pics"], lines
    assert all(line.startswith("d") for line in lines), lines
    # STAT with options only is a listing of the working directory, not the session's status.
    ftp.cwd("photos")
    status = ftp.sendcmd("STAT -la").splitlines()
    assert status[0] == "212-Status of /photos:" and status[1].endswith(" a.jpg")
    # `MDTM time path` sets the time (WinSCP without MFMT); a file named so is asked about.
    assert ftp.sendcmd("MDTM 20200102030405 a.jpg") == "213 Modify=20200102030405; /photos/a.jpg"
    assert ftp.sendcmd("MDTM a.jpg") == "213 20200102030405"
    (folder / "20210101000000 b.jpg").write_bytes(b"b")
    os.utime(folder / "20210101000000 b.jpg", (1_000_000_000, 1_000_000_000))
    assert ftp.sendcmd("MDTM 20210101000000 b.jpg") == "213 20010909014640"
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.sendcmd("MDTM 20200102030405 missing.jpg")
    # A time's shape but no real date (month 13): 501, the file untouched.
    with pytest.raises(ftplib.error_perm, match="^501"):
        ftp.sendcmd("MDTM 20201301000000 a.jpg")
    assert ftp.sendcmd("MDTM a.jpg") == "213 20200102030405"


def test_stat_with_a_path_lists_on_the_control_connection(ftp, ossftp):
    folder = ossftp.bucket_dir() / "status dir"
    folder.mkdir()
    (folder / "two words.txt").write_bytes(b"12345")
    ftp.mkd("status dir/sub")
    listing = ftp.sendcmd("STAT status dir").splitlines()
    assert listing[0] == "212-Status of /status dir:" and listing[-1] == "212 End of status."
    assert len(listing) == 4
    directory, file = sorted(listing[1:3], key=lambda line: not line.startswith("d"))
    assert directory.startswith("drwx") and directory.endswith(" sub")
    assert file.startswith("-rw-") and file.split()[4] == "5" and file.endswith(" two words.txt")
    # lftp's ftp:use-stat-for-list sends ls options, as with LIST.
    assert ftp.sendcmd("STAT -la status dir").splitlines() == listing
    single = ftp.sendcmd("STAT status dir/two words.txt").splitlines()
    assert single[0].startswith("213-") and single[1].endswith(" two words.txt") and len(single) == 3
    # `-d`, as `ls -ld`: the directory's own line, not its contents.
    itself = ftp.sendcmd("STAT -ld status dir").splitlines()
    assert len(itself) == 3 and itself[0] == "212-Status of /status dir:", itself
    assert itself[1].startswith("drwx") and itself[1].endswith(" status dir")
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.sendcmd("STAT missing")
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.sendcmd("STAT ../../etc")


def test_a_file_written_as_a_folder_is_not_listed(ftp, ossftp):
    """`c.txt/` names a folder (SEMANTICS, paths): LIST, NLST, MLST and STAT of it listed the
    file, where SIZE and MDTM refused it and `ls c.txt/` says "Not a directory"."""
    ftp.storbinary("STOR c.txt", io.BytesIO(b"c"))
    ftp.mkd("d")
    for command in ("LIST -l c.txt/", "NLST c.txt/", "LIST -ld c.txt/"):
        with pytest.raises(ftplib.error_perm, match="^550"):
            ftp.retrlines(command, lambda line: None)
    for command in ("MLST c.txt/", "STAT c.txt/", "STAT -ld c.txt\\"):
        with pytest.raises(ftplib.error_perm, match="^550"):
            ftp.sendcmd(command)
    # Folders written so are listed as before; the file without the `/` too.
    assert ftp.nlst("d/") == [] and ftp.sendcmd("STAT d/").startswith("212")
    assert ftp.sendcmd("MLST d/").startswith("250") and ftp.nlst("c.txt") == ["c.txt"]
    lines = []
    ftp.retrlines("LIST /", lines.append)
    assert sorted(line.split()[-1] for line in lines) == ["c.txt", "d"]


def test_stat_of_a_huge_directory_is_cut_short(ftp, ossftp):
    folder = ossftp.bucket_dir() / "many"
    folder.mkdir()
    for index in range(1005):
        (folder / f"f{index:04d}").write_bytes(b"")
    listing = ftp.sendcmd("STAT many").splitlines()
    assert len(listing) == 1 + 1000 + 1
    assert listing[1].endswith(" f0000") and listing[1000].endswith(" f0999")
    assert listing[-1] == "212 End of status: the first 1000 entries; LIST or MLSD shows all."
    assert len(ftp.nlst("many")) == 1005
    with RawFTP(ossftp.port) as c:
        c.sock.sendall(b"STAT many\r\n")
        assert c.read_reply().code == 530


def test_quit_during_an_upload_waits_for_its_reply(ossftp, alice):
    with RawFTP(ossftp.port) as c:
        assert c.login(alice.username, alice.password).code == 230
        c.cmd("TYPE I")
        port = int(c.cmd("EPSV").text.split("|")[3])
        data = socket.create_connection((HOST, port))
        assert c.cmd("STOR quit.bin").code == 150
        data.sendall(b"q" * MiB)
        c.sock.sendall(b"QUIT\r\n")
        time.sleep(0.3)
        data.sendall(b"r" * MiB)
        data.close()
        # RFC 959 §4.1.1: the transfer's reply first (the upload is stored), then 221 and close.
        assert c.read_reply().code == 226
        assert c.read_reply().code == 221
        assert c.sock.recv(1) == b""
    assert (ossftp.bucket_dir() / "quit.bin").read_bytes() == b"q" * MiB + b"r" * MiB


def test_a_passive_connection_from_another_address_is_refused(ftp, ossftp):
    # RFC 2577 §3: the first connection to a passive port from anywhere but the control
    # connection's address must not get the data (PASV stealing).
    body = os.urandom(200_000)
    ftp.storbinary("STOR secret.bin", io.BytesIO(body))
    ftp.voidcmd("TYPE I")
    port = int(ftp.sendcmd("EPSV").split("|")[3])
    thief = socket.socket()
    thief.bind(("127.0.0.2", 0))
    thief.settimeout(10)
    thief.connect((HOST, port))
    owner = socket.create_connection((HOST, port), timeout=10)
    assert ftp.sendcmd("RETR secret.bin").startswith("150")
    got = bytearray()
    while chunk := owner.recv(65536):
        got += chunk
    owner.close()
    assert ftp.voidresp().startswith("226") and bytes(got) == body
    try:
        stolen = thief.recv(65536)
    except OSError:
        stolen = b""
    assert stolen == b""
    thief.close()


def test_over_long_names_are_refused_and_nothing_is_stored(ftp, ossftp):
    # Keys are at most 1023 bytes (S3 and OSS); the name is refused before any data moves.
    long_name = "d/" * 300 + "x" * 500
    with pytest.raises(ftplib.error_perm, match="^553"):
        ftp.storbinary(f"STOR {long_name}", io.BytesIO(b"never"))
    with pytest.raises(ftplib.error_perm, match="^553"):
        ftp.mkd("y" * 1100)
    # A name the local store keeps for itself: refused before any data (no 150 first).
    with pytest.raises(ftplib.error_perm, match="^553"):
        ftp.storbinary("STOR .ossftp-mine", io.BytesIO(b"never"))
    assert list(ossftp.bucket_dir().iterdir()) == []
    assert ftp.sendcmd("NOOP").startswith("200")


def test_an_account_sees_its_home_as_the_root(tmp_path):
    from ossftp_server import Account, OssftpServer

    homed = Account("homed", "homed-pass", "shared", home_dir="users/homed")
    server = OssftpServer(tmp_path / "srv", [homed])
    (server.local_root / "shared" / "users" / "other").mkdir(parents=True)
    (server.local_root / "shared" / "users" / "other" / "private.txt").write_bytes(b"not yours")
    server.start()
    try:
        client = ftplib.FTP()
        client.connect(HOST, server.port, timeout=20)
        client.login("homed", "homed-pass")
        client.storbinary("STOR mine.txt", io.BytesIO(b"mine"))
        assert client.pwd() == "/" and client.nlst() == ["mine.txt"]
        client.cwd("..")
        assert client.pwd() == "/" and client.nlst() == ["mine.txt"]
        with pytest.raises(ftplib.error_perm, match="^550"):
            client.retrbinary("RETR ../other/private.txt", lambda _: None)
        client.quit()
        assert (server.local_root / "shared" / "users" / "homed" / "mine.txt").read_bytes() == b"mine"
    finally:
        server.stop()


@contextlib.contextmanager
def one_account_server(tmp_path, account, *flags):
    """A server of its own with one account, and a logged-in ftplib client."""
    from ossftp_server import OssftpServer

    server = OssftpServer(tmp_path / "srv", [account], extra_args=list(flags))
    server.start()
    try:
        client = ftplib.FTP()
        client.connect(HOST, server.port, timeout=20)
        client.login(account.username, account.password)
        yield server, client
        client.close()
    finally:
        server.stop()


def test_a_small_passive_range_serves_many_transfers_in_a_row(tmp_path):
    # Each data connection leaves its port in TIME_WAIT for a minute; the next listener on that
    # port must still bind (SO_REUSEADDR), or five ports would serve five transfers a minute.
    from netutil import free_port_range
    from ossftp_server import Account

    first, _ = free_port_range(5)
    with one_account_server(tmp_path, Account("many", "many-pass", "manyb"), "--passive_ports_start", str(first),
                            "--passive_ports_end", str(first + 4)) as (_, client):
        client.storbinary("STOR f.txt", io.BytesIO(b"x"))
        for _ in range(40):
            assert client.nlst() == ["f.txt"]


def test_the_masquerade_address_is_announced(tmp_path):
    from ossftp_server import Account

    with one_account_server(tmp_path, Account("nat", "nat-pass", "natb"),
                            "--masquerade_address", "127.0.0.9") as (server, client):
        reply = client.sendcmd("PASV")
        numbers = reply[reply.index("(") + 1:reply.index(")")].split(",")
        assert numbers[:4] == ["127", "0", "0", "9"]
        port = int(numbers[4]) * 256 + int(numbers[5])
        assert server.passive_start <= port <= server.passive_end
        # The port itself listens on the control connection's address, as NAT forwards it.
        socket.create_connection((HOST, port), timeout=5).close()


def test_pipelined_commands_are_answered_in_order(ossftp, alice):
    with RawFTP(ossftp.port) as c:
        c.sock.sendall(f"USER {alice.username}\r\nPASS {alice.password}\r\nPWD\r\nTYPE I\r\nNOOP\r\n".encode())
        codes = [c.read_reply().code for _ in range(5)]
        assert codes == [331, 230, 257, 200, 200]


def test_framing_bare_lf_long_lines_and_floods(ossftp, alice):
    with RawFTP(ossftp.port) as c:
        assert c.send_raw(b"NOOP\n").code == 200
        assert c.send_raw(b"X" * 5000 + b"\r\n").code == 500
        # A mebibyte without a line end is dropped, once, and the session goes on.
        c.sock.sendall(b"Y" * MiB)
        assert c.read_reply().code == 500
        assert c.send_raw(b"\r\nNOOP\r\n").code == 200
        assert c.login(alice.username, alice.password).code == 230


def test_lines_piled_up_during_a_transfer_are_bounded(ossftp, alice):
    # Commands sent during a transfer wait for its reply; past 256 of them the session is
    # closed with 421 instead of holding them all.
    with RawFTP(ossftp.port) as c:
        assert c.login(alice.username, alice.password).code == 230
        reply = c.cmd("PASV")
        assert reply.code == 227
        numbers = [int(n) for n in reply.text.split("(")[1].split(")")[0].split(",")]
        data = socket.create_connection((".".join(map(str, numbers[:4])), numbers[4] * 256 + numbers[5]))
        assert c.cmd("STOR held.bin").code == 150
        c.sock.sendall(b"SIZE held.bin\r\n" * 300)
        assert c.read_reply().code == 421
        data.close()


def test_ipv6_listener_with_epsv_and_eprt(tmp_path, subprocess_env):
    from ossftp_server import Account, OssftpServer

    account = Account("six", "six-pass", "bucket6")
    server = OssftpServer(tmp_path / "srv", [account], extra_args=["--listen_address", "::1"])
    server.base.mkdir(parents=True)
    server.port = free_port_v6()
    server.passive_start, server.passive_end = 40000, 40100
    server.write_config()
    server.proc = subprocess.Popen(server.command(), cwd=server.base, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("::1", server.port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "no IPv6 listener"
                time.sleep(0.1)
        client = ftplib.FTP()
        client.af = socket.AF_INET6
        client.connect("::1", server.port, timeout=20)
        client.login("six", "six-pass")
        # RFC 2428 §2: PASV and PORT carry IPv4 only, a family this connection does not use.
        for ipv4_only in ("PASV", "PORT 0,0,0,0,195,80", "PORT 127,0,0,1,195,80"):
            with pytest.raises(ftplib.error_perm, match="^522"):
                client.sendcmd(ipv4_only)
        client.storbinary("STOR v6.bin", io.BytesIO(b"over ipv6"))  # ftplib uses EPSV on IPv6
        client.set_pasv(False)  # EPRT |2|::1|port|
        out = io.BytesIO()
        client.retrbinary("RETR v6.bin", out.write)
        assert out.getvalue() == b"over ipv6"
        client.quit()
        result = subprocess.run(["curl", "-sS", "-g", f"ftp://six:six-pass@[::1]:{server.port}/v6.bin"],
                                env=subprocess_env, capture_output=True, timeout=30)
        assert result.stdout == b"over ipv6", result.stderr
        # lftp in active mode sends its socket's unspecified address (`EPRT |2|::|port|`): taken
        # for the client's own. It got 501, and lftp went passive 15 s later.
        started = time.monotonic()
        result = subprocess.run(["lftp", "-u", "six,six-pass", "-e", "set ftp:ssl-allow no; set ftp:passive-mode off; "
                                 "set net:max-retries 1; set net:timeout 5; set cmd:fail-exit yes; cat v6.bin; exit",
                                 f"ftp://[::1]:{server.port}"], env=subprocess_env, capture_output=True, timeout=60)
        assert result.stdout == b"over ipv6", result.stderr
        assert time.monotonic() - started < 5 and b"passive mode" not in result.stderr, result.stderr
    finally:
        server.stop()


def test_ipv4_clients_of_a_dual_stack_listener_speak_ipv4(tmp_path):
    # A listener on an IPv6 socket (as with `::`) sees IPv4 clients as ::ffff:a.b.c.d; bound to
    # the mapped loopback here, so the test stays on 127.0.0.1.
    from ossftp_server import Account

    with one_account_server(tmp_path, Account("four", "four-pass", "bucket4"),
                            "--listen_address", "::ffff:127.0.0.1") as (_, client):
        client.storbinary("STOR mapped.bin", io.BytesIO(b"via PASV"))  # PASV answers 127,0,0,1
        assert client.sendcmd("EPSV 1").startswith("229")
        client.set_pasv(False)  # PORT 127,0,0,1,...: the client's own address
        out = io.BytesIO()
        client.retrbinary("RETR mapped.bin", out.write)
        assert out.getvalue() == b"via PASV"
        with pytest.raises(ftplib.error_perm, match="^501"):
            client.sendcmd("PORT 127,0,0,2,200,10")  # still no bounce


def free_port_v6() -> int:
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def test_a_thousand_unused_passive_ports_leak_no_socket(ossftp, alice):
    fds = lambda: len(os.listdir(f"/proc/{ossftp.proc.pid}/fd"))  # noqa: E731
    with RawFTP(ossftp.port) as c:
        c.login(alice.username, alice.password)
        before = fds()
        for _ in range(1000):
            assert c.cmd("PASV").code == 227
        time.sleep(0.5)
        # Each PASV replaced the previous listener: at most one is open, not a thousand.
        assert fds() <= before + 5
