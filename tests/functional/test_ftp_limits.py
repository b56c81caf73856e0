"""Accounts' permissions and the server's limits: connection caps, idle timeout, bans, and
credentials kept in files readable only by their owner."""

from __future__ import annotations

import contextlib
import ftplib
import io
import json
import os
import re
import resource
import secrets
import socket
import stat
import subprocess
import threading
import time

import pytest

from netutil import HOST
from ossftp_server import Account, OssftpServer, hash_password, ossftp_binary
from rawftp import RawFTP
from wallclock import WallClock


@pytest.fixture
def accounts_server(tmp_path):
    accounts = [Account("reader", "r-pass-1", "shared", permissions="read-only"),
                Account("keeper", "k-pass-1", "shared", permissions="no-delete"),
                Account("camera", "c-pass-1", "shared", permissions="upload-only"),
                Account("admin", "a-pass-1", "shared")]
    server = OssftpServer(tmp_path / "srv", accounts, extra_args=["--rename", "copy"])
    server.start()
    try:
        yield server
    finally:
        server.stop()


def guess_until_banned(server, user: str, threshold: int) -> None:
    """`threshold` wrong passwords for `user`, each on a connection of its own: the last gets
    421 (the ban), and so does the next connection at once."""
    for attempt in range(threshold):
        with RawFTP(server.port) as guesser:
            guesser.cmd(f"USER {user}")
            assert guesser.cmd("PASS wrong").code == (421 if attempt == threshold - 1 else 530)
    with RawFTP(server.port) as banned:
        assert banned.greeting.code == 421


def login(server, name, password) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect(HOST, server.port, timeout=20)
    client.login(name, password)
    return client


def test_each_account_gets_exactly_its_permissions(accounts_server):
    admin = login(accounts_server, "admin", "a-pass-1")
    admin.storbinary("STOR existing.txt", io.BytesIO(b"keep me"))
    admin.mkd("folder")

    reader = login(accounts_server, "reader", "r-pass-1")
    out = io.BytesIO()
    reader.retrbinary("RETR existing.txt", out.write)
    assert out.getvalue() == b"keep me"
    for action in (lambda: reader.storbinary("STOR new.txt", io.BytesIO(b"x")), lambda: reader.delete("existing.txt"),
                   lambda: reader.mkd("mine"), lambda: reader.rename("existing.txt", "other.txt")):
        with pytest.raises(ftplib.error_perm, match="^550"):
            action()
    # The refusal comes at RNFR (it was 350 there, and 550 only at RNTO).
    with pytest.raises(ftplib.error_perm, match="^550.*may not rename"):
        reader.sendcmd("RNFR existing.txt")

    keeper = login(accounts_server, "keeper", "k-pass-1")
    keeper.storbinary("STOR kept.txt", io.BytesIO(b"new"))
    keeper.storbinary("APPE existing.txt", io.BytesIO(b" and more"))
    for action in (lambda: keeper.delete("existing.txt"), lambda: keeper.rmd("folder"),
                   lambda: keeper.storbinary("STOR existing.txt", io.BytesIO(b"overwrite")),
                   lambda: keeper.rename("kept.txt", "moved.txt")):
        with pytest.raises(ftplib.error_perm, match="^550"):
            action()

    camera = login(accounts_server, "camera", "c-pass-1")
    camera.storbinary("STOR photo.jpg", io.BytesIO(b"\xff\xd8jpeg"))
    camera.mkd("2026")
    assert "photo.jpg" in camera.nlst()
    for action in (lambda: camera.retrbinary("RETR photo.jpg", lambda _: None), lambda: camera.delete("photo.jpg"),
                   lambda: camera.storbinary("STOR photo.jpg", io.BytesIO(b"again"))):
        with pytest.raises(ftplib.error_perm, match="^550"):
            action()
    # A broken upload is resumed from the file's end (REST at its size, then STOR); from
    # anywhere else it would replace bytes, which is refused.
    camera.storbinary("STOR photo.jpg", io.BytesIO(b"-rest"), rest=len(b"\xff\xd8jpeg"))
    with pytest.raises(ftplib.error_perm, match="^550"):
        camera.storbinary("STOR photo.jpg", io.BytesIO(b"x"), rest=2)
    # A digest tells of the content as reading does (a short secret can be guessed and checked).
    for command in ("HASH photo.jpg", "XMD5 photo.jpg", "XCRC photo.jpg"):
        with pytest.raises(ftplib.error_perm, match="^550 .*may not read"):
            camera.sendcmd(command)

    # MLSD's perm fact says what each account may do (RFC 3659 §7.5.5); admin may rename (copy).
    perms = {name: dict(client.mlsd())["existing.txt"]["perm"]
             for name, client in (("admin", admin), ("reader", reader), ("keeper", keeper))}
    assert perms == {"admin": "adfrw", "reader": "r", "keeper": "ar"}
    assert dict(camera.mlsd())["2026"]["perm"] == "celm"

    out = io.BytesIO()
    admin.retrbinary("RETR existing.txt", out.write)
    assert out.getvalue() == b"keep me and more"
    out = io.BytesIO()
    admin.retrbinary("RETR photo.jpg", out.write)
    assert out.getvalue() == b"\xff\xd8jpeg-rest"
    admin.delete("photo.jpg")
    for client in (admin, reader, keeper, camera):
        client.quit()


def test_connection_caps_idle_timeout_and_bans(tmp_path):
    account = Account("user", "right-pass", "bucket")
    server = OssftpServer(tmp_path / "srv", [account], extra_args=[
        "--max_connections_per_ip", "3", "--idle_timeout", "2", "--ban_threshold", "4"])
    server.start()
    try:
        open_ones = [RawFTP(server.port) for _ in range(2)]  # the harness's banner probe came and went
        third = RawFTP(server.port)
        with RawFTP(server.port) as fourth:
            assert fourth.greeting.code == 421
        with RawFTP(server.port) as fifth:
            assert fifth.greeting.code == 421
        for c in open_ones + [third]:
            c.close()
        time.sleep(0.5)
        with RawFTP(server.port) as idle:
            assert idle.greeting.code == 220
            time.sleep(4)
            assert idle.read_reply().code == 421
        with RawFTP(server.port) as idle:
            assert idle.login("user", "right-pass").code == 230
            time.sleep(4)
            assert idle.read_reply().code == 421
        # The log says why (it said only "control connection closed").
        assert server.log_tail().count("idle for 2 s (idle_timeout): closing") == 2
        # Four failed logins (over two connections) ban the address for a while; the guess that
        # brings the ban gets 421 at once.
        for attempt in range(2):
            with RawFTP(server.port) as c:
                for guess in range(2):
                    c.cmd("USER user")
                    assert c.cmd("PASS wrong").code == (421 if (attempt, guess) == (1, 1) else 530)
        with RawFTP(server.port) as banned:
            assert banned.greeting.code == 421
        # The ban is logged once, with the address and how long it lasts.
        assert server.log_tail().count("too many failed logins from 127.0.0.1: refused for 600 s") == 1
        # Refused connections: the first is said; more within a minute are not, one by one.
        assert server.log_tail().count("connection refused: Too many connections from your address.") == 1
    finally:
        server.stop()


def test_a_wall_clock_set_forward_or_back_neither_lifts_nor_stretches_a_ban(tmp_path):
    """Bans ran on the wall clock: set forward an hour (NTP, `date -s`), the server lifted every
    ban at once; set back an hour, a ban of seconds lasted the hour."""
    clock = WallClock(tmp_path)
    account = Account("user", "right-pass", "bkt")
    server = OssftpServer(tmp_path / "srv", [account], extra_args=["--ban_threshold", "3"],
                          extra_config={"ban_seconds": 4}, environment=clock.environment(),
                          command_prefix=WallClock.command_prefix)
    server.start()
    try:
        guess_until_banned(server, "user", 3)
        clock.set(3600)
        with RawFTP(server.port) as banned:
            assert banned.greeting.code == 421, "the ban was lifted by the clock's step forward"
        clock.set(-3600)
        time.sleep(5)
        with RawFTP(server.port) as welcome:
            assert welcome.greeting.code == 220, "the ban outlived its 4 s by the clock's step back"
    finally:
        server.stop()


def test_a_wall_clock_set_forward_does_not_abort_an_upload_as_stalled(tmp_path):
    """The stall watchdog ran on the wall clock: an upload paused for a second while the clock
    was set two minutes forward was aborted (426) as stalled for 8 s, and nothing was stored."""
    clock = WallClock(tmp_path)
    account = Account("user", "right-pass", "bkt")
    server = OssftpServer(tmp_path / "srv", [account], extra_args=["--transfer_stall_timeout", "8", "--cache_ttl", "5"],
                          environment=clock.environment(),
                          command_prefix=WallClock.command_prefix)
    server.start()
    try:
        client = login(server, "user", "right-pass")
        client.voidcmd("TYPE I")
        with client.transfercmd("STOR paused.bin") as data:
            data.sendall(b"a" * 100)
            time.sleep(1)
            clock.set(120)
            time.sleep(3)  # the watchdog looks every 2 s
            data.sendall(b"b" * 100)
        assert client.voidresp().startswith("226")
        assert (server.bucket_dir() / "paused.bin").read_bytes() == b"a" * 100 + b"b" * 100
        # Nor does a step back keep cached answers past their time (5 s): SIZE told the size
        # from before another program rewrote the file for as long as the step.
        assert client.size("paused.bin") == 200
        clock.set(-3600)
        (server.bucket_dir() / "paused.bin").write_bytes(b"c" * 7)
        time.sleep(6)
        assert client.size("paused.bin") == 7
        client.quit()
    finally:
        server.stop()


def test_a_threshold_of_0_bans_no_one(tmp_path):
    """Bans could not be turned off (0 was refused), so on a server only its own machine
    reaches, ten mistyped logins locked every local client out for ten minutes."""
    server = OssftpServer(tmp_path / "srv", [Account("user", "right-pass", "bucket")],
                          extra_args=["--ban_threshold", "0"])
    server.start()
    try:
        for _ in range(6):
            with RawFTP(server.port) as c:
                for _ in range(2):
                    c.cmd("USER user")
                    assert c.cmd("PASS wrong").code == 530
        with RawFTP(server.port) as c:
            c.cmd("USER user")
            assert c.cmd("PASS right-pass").code == 230
        assert "too many failed logins" not in server.log_tail()
    finally:
        server.stop()


def test_anonymous_attempts_are_refused_without_counting_toward_a_ban(tmp_path):
    """Windows Explorer and browsers log in as `anonymous` (an e-mail as password) whenever a
    URL names no user. Each such visit counted toward the ban, so a handful of them from one
    office's NAT locked out its real users for ten minutes. A wrong password still counts."""
    server = OssftpServer(tmp_path / "srv", [Account("user", "right-pass", "bucket")],
                          extra_args=["--ban_threshold", "3"])
    server.start()
    try:
        for name in ["anonymous", "ANONYMOUS", "ftp", "anonymous", "Anonymous", "ftp"]:
            with RawFTP(server.port) as c:
                c.cmd(f"USER {name}")
                assert c.cmd("PASS IEUser@").code == 530
        with RawFTP(server.port) as c:
            c.cmd("USER user")
            assert c.cmd("PASS right-pass").code == 230
        # Three wrong passwords for a real user still bring the ban (the third gets 421).
        guess_until_banned(server, "user", 3)
    finally:
        server.stop()


def test_a_failed_login_takes_as_long_whether_the_user_exists_or_not(tmp_path):
    """The failure delay was added after the password's hash, so a known user's wrong password
    took a hash longer (about 0.1 s at ossftp passwd's cost) than an unknown user's. A costly
    hash here (about 0.3 s) makes the difference plain; the log names no user that is not
    an account, since that is often a password typed one field early."""
    account = Account("alice", "right-pass", "bucket")
    server = OssftpServer(tmp_path / "srv", [account], extra_args=["--ban_threshold", "0"])
    server.write_config = _with_hash(server, account, iterations=600_000)
    server.start()
    try:
        def failure_time(user: str) -> float:
            with RawFTP(server.port) as c:
                c.cmd(f"USER {user}")
                started = time.monotonic()
                assert c.cmd("PASS wrong-pass").code == 530
                return time.monotonic() - started
        known = min(failure_time("alice") for _ in range(3))
        unknown = min(failure_time("Secret-Typed-As-User") for _ in range(3))
        assert known >= 1.0 and unknown >= 1.0
        assert abs(known - unknown) < 0.12, (known, unknown)
        log = server.log_tail(20000)
        assert "Secret-Typed-As-User" not in log and "user=(not an account)" in log
        assert "user=alice" in log
    finally:
        server.stop()


def _with_hash(server: OssftpServer, account: Account, iterations: int):
    """`server.write_config` with `account`'s password hashed at `iterations`."""
    write = server.write_config

    def write_config() -> None:
        write()
        config = json.loads(server.config_path.read_text())
        for entry in config["modules"]["accounts"]:
            if entry["login_username"] == account.username:
                entry["login_password"] = hash_password(account.password, iterations=iterations)
        server.config_path.write_text(json.dumps(config))
    return write_config


def test_a_local_account_without_its_bucket_folder_logs_in_and_gets_550(tmp_path):
    """It got "421 try again later" at each right login, which clients retry forever; an S3
    account without its bucket logs in and gets 550 for each command, and so does this one.
    Once the folder is made, the next login works."""
    account = Account("alice", "right-pass", "gone")
    server = OssftpServer(tmp_path / "srv", [account])
    write = server.write_config

    def write_config() -> None:
        write()
        server.bucket_dir(account).rmdir()
    server.write_config = write_config
    server.start()
    try:
        with RawFTP(server.port) as c:
            assert c.login("alice", "right-pass").code == 230
            reply = c.cmd("MKD d")
            assert reply.code == 550 and "the bucket gone" in reply.text, reply.text
            assert c.cmd("SIZE f").code == 550
            assert c.cmd("PWD").code == 257
        with RawFTP(server.port) as c:
            assert c.login("alice", "wrong").code == 530
        server.bucket_dir(account).mkdir()
        with RawFTP(server.port) as c:
            assert c.login("alice", "right-pass").code == 230
            assert c.cmd("MKD d").code == 257
    finally:
        server.stop()


@pytest.mark.parametrize("hashed", [True, False])
def test_a_ban_reaches_connections_opened_before_it(tmp_path, hashed):
    """Connections opened before the ban cannot go on guessing: even the right password gets 421
    (a plaintext password, checked at once on the event loop, too)."""
    server = OssftpServer(tmp_path / "srv", [Account("user", "right-pass", "bucket", hashed=hashed)],
                          extra_args=["--ban_threshold", "2"])
    server.start()
    try:
        early = [RawFTP(server.port) for _ in range(3)]
        for c in early[:2]:
            c.cmd("USER user")
        assert early[0].cmd("PASS wrong").code == 530
        assert early[1].cmd("PASS wrong").code == 421  # the second failure bans the address
        early[2].cmd("USER user")
        assert early[2].cmd("PASS right-pass").code == 421
        for c in early:
            c.close()
    finally:
        server.stop()


def test_each_account_can_have_its_own_store(tmp_path, seaweedfs):
    # One server on the local store; one account on SeaweedFS over S3 with its own endpoint.
    seaweedfs.client().create_bucket(Bucket="own-store")
    remote = Account("remote", "rem-pass-1", "own-store", access_id=seaweedfs.admin.access_key,
                     access_secret=seaweedfs.admin.secret_key,
                     store={"provider": "s3", "endpoint": seaweedfs.endpoint, "region": seaweedfs.region})
    server = OssftpServer(tmp_path / "srv", [Account("here", "here-pass-1", "local-bucket"), remote])
    server.start()
    try:
        for name, password, body in (("here", "here-pass-1", b"on disk"), ("remote", "rem-pass-1", b"in s3")):
            client = login(server, name, password)
            client.storbinary("STOR where.txt", io.BytesIO(body))
            client.quit()
        assert (server.bucket_dir() / "where.txt").read_bytes() == b"on disk"
        stored = seaweedfs.client().get_object(Bucket="own-store", Key="where.txt")["Body"].read()
        assert stored == b"in s3"
    finally:
        server.stop()
    # An account whose bucket does not exist: 550 naming the bucket, for good (it was 451,
    # "try again", with the store's message where the name belongs).
    missing = Account("gone", "gone-pass-1", "no-such-bucket-" + secrets.token_hex(3),
                      access_id=seaweedfs.admin.access_key, access_secret=seaweedfs.admin.secret_key,
                      store={"provider": "s3", "endpoint": seaweedfs.endpoint, "region": seaweedfs.region})
    server = OssftpServer(tmp_path / "srv2", [missing])
    server.start()
    try:
        client = login(server, "gone", "gone-pass-1")
        for attempt in (lambda: client.nlst(), lambda: client.storbinary("STOR x", io.BytesIO(b"x")),
                        lambda: client.size("x"), lambda: client.sendcmd("MLST /"), lambda: client.mkd("made")):
            with pytest.raises(ftplib.error_perm, match=f"^550 the bucket {missing.bucket}: no such file"):
                attempt()
        client.quit()
        # MKD wrote a folder marker, which SeaweedFS took as an order to create the bucket.
        names = [bucket["Name"] for bucket in seaweedfs.client().list_buckets()["Buckets"]]
        assert missing.bucket not in names
    finally:
        server.stop()
    # An s3 account with no endpoint anywhere is refused at start, with the field named.
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"modules": {"accounts": [{
        "login_username": "u", "login_password": "p", "bucket_name": "b", "access_id": "AK", "access_secret": "S",
        "provider": "s3"}]}}))
    result = subprocess.run([str(ossftp_binary()), "serve", "--config", str(config), "--web_port", "0", "--port", "0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "modules.accounts[0]: an s3 account needs an endpoint" in result.stderr


def epsv_port(c: RawFTP) -> int:
    reply = c.cmd("EPSV")
    assert reply.code == 229, reply
    return int(reply.text.split("|")[3])


def test_stalled_transfers_unused_passive_ports_and_the_total_cap(tmp_path):
    server = OssftpServer(tmp_path / "srv", [Account("user", "right-pass", "bucket")], extra_args=[
        "--transfer_stall_timeout", "2", "--data_connection_timeout", "2", "--max_connections", "2"])
    server.start()
    try:
        with RawFTP(server.port) as c:
            assert c.login("user", "right-pass").code == 230
            c.cmd("TYPE I")
            data = socket.create_connection((HOST, epsv_port(c)))
            assert c.cmd("STOR stall.bin").code == 150
            data.sendall(b"abc")
            # Then nothing: the watchdog aborts the upload, 426, and nothing is stored.
            started = time.monotonic()
            assert c.read_reply().code == 426
            assert time.monotonic() - started < 8
            data.close()
            assert not (server.bucket_dir() / "stall.bin").exists()
            # A passive port nobody connects to closes after the timeout, transfer command or not.
            unused = epsv_port(c)
            time.sleep(3.5)
            with pytest.raises(OSError):
                socket.create_connection((HOST, unused), timeout=2).close()
            # 425 alone: a 150 first promised a connection that none could make any more.
            assert c.cmd("NLST").code == 425
            # Connections in total: the second one is the last allowed.
            with RawFTP(server.port) as second:
                assert second.greeting.code == 220
                with RawFTP(server.port) as third:
                    assert third.greeting.code == 421
    finally:
        server.stop()


def test_a_passive_port_refused_after_an_active_setup_ends_no_server(tmp_path):
    """A session set up an active connection, then asked for a passive port when none was free
    (425), then sent RETR: the server process stopped (a precondition), ending every session.
    Any user could do it where the passive range is small (one address may hold 32 sessions)."""
    server = OssftpServer(tmp_path / "srv", [Account("user", "right-pass", "bucket")], passive_range_size=1)
    server.start()
    try:
        (server.bucket_dir() / "hello.txt").write_bytes(b"hello")
        listener = socket.create_server((HOST, 0))
        with RawFTP(server.port) as a, RawFTP(server.port) as b:
            assert a.login("user", "right-pass").code == 230 and b.login("user", "right-pass").code == 230
            assert a.cmd(f"EPRT |1|{HOST}|{listener.getsockname()[1]}|").code == 200
            epsv_port(b)  # the only passive port
            assert a.cmd("EPSV").code == 425
            assert a.cmd("RETR hello.txt").code == 425
            # The port comes free with b's transfer, and a's next setup works.
            data = socket.create_connection((HOST, server.passive_start))
            assert b.cmd("RETR hello.txt").code == 150
            assert data.recv(100) == b"hello" and data.recv(100) == b""
            data.close()
            assert b.read_reply().code == 226
            data = socket.create_connection((HOST, epsv_port(a)))
            assert a.cmd("RETR hello.txt").code == 150
            # Read to the end: a socket closed with the file unread may reset the
            # connection, and 426 is then the right reply.
            assert data.recv(100) == b"hello" and data.recv(100) == b""
            data.close()
            assert a.read_reply().code == 226
        listener.close()
        assert server.proc.poll() is None
    finally:
        server.stop()


@pytest.mark.parametrize("rate, part_mb, size_mb", [(4 << 20, 16, 80), (3 << 19, 5, 30)],
                         ids=["4MiBps", "1.5MiBps"])
def test_a_slow_link_to_the_store_never_leaves_the_client_silent_for_long(tmp_path, seaweedfs, rate, part_mb, size_mb):
    """Over a slow uplink the four parts in flight started and ended together, and the client
    heard nothing meanwhile: 4 x 16 MiB at 4 MiB/s held it for 16 s, then the last parts took
    as long again before the 226. FileZilla gives up after 20 s without traffic, WinSCP after
    15 s, and reported failed uploads that the server went on to store. Parts are now sized
    from the store's rate, so that the client waits about 8 s at most, anywhere; below about
    2.5 MiB/s even four of S3's smallest parts (5 MiB) take longer, and fewer go at once (four
    held the client 13 s at 1.5 MiB/s)."""
    from holding_proxy import HoldingProxy

    bucket = "uplink-" + secrets.token_hex(4)
    seaweedfs.client().create_bucket(Bucket=bucket)
    proxy = HoldingProxy(seaweedfs.endpoint, hold_key="(nothing held)", upload_rate=rate)
    proxy.release.set()
    account = Account("user", "right-pass", bucket, access_id=seaweedfs.admin.access_key,
                      access_secret=seaweedfs.admin.secret_key)
    server = OssftpServer(tmp_path / "srv", [account], extra_args=[
        "--provider", "s3", "--endpoint", proxy.endpoint, "--part_size_mb", str(part_mb), "--upload_concurrency", "4"])
    server.start()
    try:
        body = os.urandom(size_mb << 20)
        client = login(server, "user", "right-pass")
        client.sock.settimeout(60)
        client.voidcmd("TYPE I")
        longest = 0.0
        with client.transfercmd("STOR slow-link.bin") as data:
            data.settimeout(60)
            last = time.monotonic()
            for start in range(0, len(body), 64 << 10):
                data.sendall(body[start:start + (64 << 10)])
                now = time.monotonic()
                longest, last = max(longest, now - last), now
        reply = client.getresp()
        final_wait = time.monotonic() - last
        client.quit()
        assert reply.startswith("226"), reply
        assert longest < 12 and final_wait < 12, (longest, final_wait)
        stored = seaweedfs.client().get_object(Bucket=bucket, Key="slow-link.bin")["Body"].read()
        assert stored == body
    finally:
        server.stop()
        proxy.close()


def test_waiting_on_a_slow_store_is_no_stall(tmp_path, seaweedfs):
    # The store holds the upload's requests for longer than the stall timeout, so the spool
    # budget fills and ossftp stops reading the client: that wait is the store's, not the
    # client's, and the upload must complete.
    from holding_proxy import HoldingProxy

    seaweedfs.client().create_bucket(Bucket="slow-store")
    proxy = HoldingProxy(seaweedfs.endpoint, hold_key="slow.bin")
    account = Account("user", "right-pass", "slow-store", access_id=seaweedfs.admin.access_key,
                      access_secret=seaweedfs.admin.secret_key)
    server = OssftpServer(tmp_path / "srv", [account], extra_args=[
        "--provider", "s3", "--endpoint", proxy.endpoint, "--transfer_stall_timeout", "2",
        "--spool_budget_mb", "10", "--part_size_mb", "5", "--upload_concurrency", "1"])
    server.start()
    try:
        body = os.urandom(20 * 1024 * 1024)
        result: dict = {}

        def upload():
            client = login(server, "user", "right-pass")
            try:
                result["reply"] = client.storbinary("STOR slow.bin", io.BytesIO(body))
            except ftplib.all_errors as error:
                result["reply"] = str(error)
            client.quit()

        uploader = threading.Thread(target=upload)
        uploader.start()
        deadline = time.monotonic() + 20
        while proxy.held == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proxy.held > 0
        time.sleep(5)  # well past the stall timeout, with the store still holding
        proxy.release.set()
        uploader.join(timeout=60)
        assert result.get("reply", "").startswith("226"), result
        stored = seaweedfs.client().get_object(Bucket="slow-store", Key="slow.bin")["Body"].read()
        assert stored == body
    finally:
        server.stop()
        proxy.close()


def test_secrets_from_files_must_be_private(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cr3t\n")
    secret.chmod(0o644)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"modules": {"accounts": [{
        "login_username": "u", "login_password": "p", "bucket_name": "b", "access_id": "AK",
        "access_secret": f"file:{secret}"}], "ossftp": {"provider": "s3", "endpoint": "http://127.0.0.1:9"}}}))
    result = subprocess.run([str(ossftp_binary()), "serve", "--config", str(config), "--web_port", "0", "--port", "0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "chmod 600" in result.stderr and "access_secret" in result.stderr


def test_a_relative_secret_file_is_taken_from_the_config_folder(tmp_path):
    """`file:secret.txt` in /etc/ossftp/config.json is /etc/ossftp/secret.txt, as every path in
    the file is, whatever the working directory (systemd's is /): it was read from there."""
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "secret.txt").write_text("s3cr3t\n")
    (folder / "secret.txt").chmod(0o600)
    decoy = tmp_path / "secret.txt"  # where the working directory would find it: others may read it
    decoy.write_text("wrong\n")
    decoy.chmod(0o644)
    (folder / "config.json").write_text(json.dumps({"modules": {"accounts": [{
        "login_username": "u", "login_password": "p", "bucket_name": "b", "access_id": "AK",
        "access_secret": "file:secret.txt"}], "ossftp": {"provider": "s3", "endpoint": "http://127.0.0.1:9"}}}))
    result = subprocess.run([str(ossftp_binary()), "config", "check", "conf/config.json"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    (folder / "secret.txt").unlink()
    result = subprocess.run([str(ossftp_binary()), "config", "check", "conf/config.json"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and str(folder / "secret.txt") in result.stderr, result.stderr


def test_clients_that_do_not_read_or_do_not_log_in_are_let_go(tmp_path, tls_files):
    server = OssftpServer(tmp_path / "srv", [Account("user", "right-pass", "bucket")], extra_args=[
        "--idle_timeout", "2", "--max_connections_per_ip", "4"], extra_config=tls_files)
    server.start()
    try:
        rss = lambda: int(next(line.split()[1] for line in open(f"/proc/{server.proc.pid}/status")  # noqa: E731
                               if line.startswith("VmRSS")))
        before = rss()
        # 1. Commands piped without reading a reply: ossftp stops reading; its memory stays put.
        flood = socket.create_connection((HOST, server.port))
        flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        flood.settimeout(5)
        sent = 0
        try:
            while sent < 4 * 1024 * 1024:
                sent += flood.send(b"HELP\r\n" * 1000)
        except (socket.timeout, OSError):
            pass
        time.sleep(1)
        assert rss() - before < 50 * 1024, f"RSS grew from {before} to {rss()} KiB"
        # 2. AUTH TLS and no handshake; 3. NOOPs and no login: each closed after the idle
        # timeout (plus the 5 s a closing reply may take), freeing its slot.
        stuck = socket.create_connection((HOST, server.port))
        stuck.recv(100)
        stuck.sendall(b"AUTH TLS\r\n")
        stuck.recv(100)
        chatty = socket.create_connection((HOST, server.port))
        chatty.settimeout(1)
        deadline = time.monotonic() + 20
        closed = False
        while time.monotonic() < deadline and not closed:
            try:
                chatty.sendall(b"NOOP\r\n")
                while chunk := chatty.recv(4096):
                    if b"421" in chunk:
                        closed = True
                        break
            except socket.timeout:
                pass
            except OSError:
                closed = True
        assert closed, "a client that never logs in was kept"
        stuck.settimeout(15)
        try:
            assert stuck.recv(100) == b""
        except ConnectionResetError:
            pass
        flood.close()
        time.sleep(0.5)
        with RawFTP(server.port) as c:  # the slots are free again
            assert c.greeting.code == 220
            assert c.login("user", "right-pass").code == 230
    finally:
        server.stop()


def test_a_long_listing_is_no_stall(tmp_path):
    """A LIST of a huge local folder streams its lines (each page of the folder no longer
    re-reads it whole), and the stall watchdog counts the lines sent: it used to abort the
    listing midway with 426."""
    server = OssftpServer(tmp_path / "srv", [Account("user", "right-pass", "bucket")],
                          extra_args=["--transfer_stall_timeout", "3"])
    server.start()
    try:
        folder = server.bucket_dir() / "huge"
        folder.mkdir()
        for index in range(20_000):
            (folder / f"file-{index:05d}.txt").write_bytes(b"x")
        client = ftplib.FTP()
        client.connect(HOST, server.port, timeout=60)
        client.login("user", "right-pass")
        names = client.nlst("huge")
        assert len(names) == 20_000 and names[0] == "file-00000.txt" and names[-1] == "file-19999.txt"
        lines = []
        client.retrlines("LIST huge", lines.append)
        assert len(lines) == 20_000
        client.quit()
    finally:
        server.stop()


def test_a_slow_steady_reader_is_no_stall_and_a_stopped_one_is(tmp_path):
    """A download counted its bytes as each write ended (a 1 MiB region of the file): a client
    reading 8 KB/s takes longer than the stall timeout over one, and got 426 as stalled while
    bytes still moved (five minutes by default: a download slower than 3.5 KB/s always failed).
    The socket now says when it last sent; a client that stops reading is still cut off."""
    server = OssftpServer(tmp_path / "srv", [Account("user", "right-pass", "bucket")],
                          extra_args=["--transfer_stall_timeout", "2"])
    server.start()
    try:
        data = os.urandom(4 << 20)
        (server.bucket_dir() / "big.bin").write_bytes(data)
        for stops in (False, True):
            with RawFTP(server.port) as c:
                channel = small_window_data_connection(c)
                assert c.cmd("RETR big.bin").code == 150
                received = bytearray()
                started = time.monotonic()
                # 8 KB/s for 7 s: over three stall timeouts within the first region.
                while time.monotonic() - started < 7:
                    if not stops:
                        received += channel.recv(2048)
                    time.sleep(0.25)
                if stops:
                    assert c.read_reply().code == 426
                    channel.close()
                    continue
                while chunk := channel.recv(1 << 20):
                    received += chunk
                channel.close()
                assert c.read_reply().code == 226
                assert bytes(received) == data
    finally:
        server.stop()


def server_receive_buffer(port: int) -> int:
    """The kernel receive buffer (ss's skmem `rb`) of the server's side of a data connection."""
    deadline = time.monotonic() + 5
    while True:
        out = subprocess.run(["ss", "-tmnH", "state", "established", f"( sport = :{port} )"],
                             capture_output=True, text=True, check=True).stdout
        for word in out.replace("(", " ").replace(")", " ").replace(",", " ").split():
            if word.startswith("rb") and word[2:].isdigit():
                return int(word[2:])
        if time.monotonic() > deadline:
            raise AssertionError(f"no socket on port {port}: {out!r}")
        time.sleep(0.05)


def kernel_grants(size: int) -> bool:
    return int(open("/proc/sys/net/core/rmem_max").read()) >= size


@pytest.mark.parametrize("setting, expected", [
    (None, (4 << 20) if kernel_grants(2 << 20) else None), ("512", 1 << 20), ("0", None)])
def test_data_connections_get_the_configured_receive_buffer(tmp_path, alice, setting, expected):
    """A fixed receive buffer bounds what an upload's end puts in memory (2 MiB by default, which
    the kernel doubles, where net.core.rmem_max grants it); 0 leaves the kernel's autotuning,
    which starts at tcp_rmem's default."""
    extra = [] if setting is None else ["--data_receive_buffer_kb", setting]
    server = OssftpServer(tmp_path / "srv", [alice], extra_args=extra)
    server.start()
    try:
        client = login(server, alice.username, alice.password)
        client.voidcmd("TYPE I")
        for passive in (True, False):
            client.set_pasv(passive)
            data = client.transfercmd("STOR up.bin")
            port = data.getpeername()[1]
            data.sendall(b"x" * 65536)
            measured = server_receive_buffer(port)
            data.close()
            client.voidresp()
            if expected is None:
                default = int(open("/proc/sys/net/ipv4/tcp_rmem").read().split()[1])
                assert default // 2 <= measured < 4 << 20, measured
            else:
                assert measured == expected, (passive, measured)
        client.quit()
    finally:
        server.stop()


@pytest.mark.parametrize("store", ["local", "s3"])
@pytest.mark.parametrize("permissions", ["no-delete", "upload-only"])
def test_an_account_that_may_not_replace_cannot_replace_a_file_made_during_its_upload(
        tmp_path, seaweedfs, store, permissions):
    """The check that a no-delete account creates and does not replace is made again by the store
    as the upload commits: a file another account stored meanwhile is kept, and the upload is
    refused with 550 (it replaced that file, and was told 226)."""
    if store == "s3":
        bucket = "race-" + secrets.token_hex(4)
        seaweedfs.client().create_bucket(Bucket=bucket)
        extra = {"access_id": seaweedfs.admin.access_key, "access_secret": seaweedfs.admin.secret_key,
                 "store": {"provider": "s3", "endpoint": seaweedfs.endpoint, "region": seaweedfs.region}}
    else:
        bucket, extra = "shared", {}
    # Both in one home folder, which the refusal must not name (it said `in/race.txt exists`).
    accounts = [Account("keeper", "k-pass-1", bucket, permissions=permissions, home_dir="in", **extra),
                Account("admin", "a-pass-1", bucket, home_dir="in", **extra)]
    server = OssftpServer(tmp_path / "srv", accounts)
    server.start()
    try:
        keeper, admin = login(server, "keeper", "k-pass-1"), login(server, "admin", "a-pass-1")
        keeper.voidcmd("TYPE I")
        data = keeper.transfercmd("STOR race.txt")
        data.sendall(b"from the keeper " * 1000)
        admin.storbinary("STOR race.txt", io.BytesIO(b"IMPORTANT"))
        data.sendall(b"more")
        data.close()
        with pytest.raises(ftplib.error_perm, match="^550 .*already exists") as refused:
            keeper.voidresp()
        assert "in/race.txt" not in str(refused.value), refused.value
        assert fetch_bytes(admin, "race.txt") == b"IMPORTANT"
        # A name nobody took meanwhile is created as before.
        keeper.storbinary("STOR fresh.txt", io.BytesIO(b"new"))
        assert fetch_bytes(admin, "fresh.txt") == b"new"
        keeper.quit()
        admin.quit()
    finally:
        server.stop()


@pytest.mark.parametrize("store", ["local", "s3"])
def test_an_account_that_may_not_replace_cannot_rename_onto_a_name_stored_since_it_looked(
        tmp_path, seaweedfs, store):
    """A no-delete account may rename, never onto an existing name; that check asked the cache,
    and a file another program had stored within cache_ttl after the session saw the name free
    was replaced, with 250 (the audit's finding). The store is asked now, and the copy is made
    only where nothing is; a folder renamed onto a name filled meanwhile is refused whole."""
    if store == "s3":
        bucket = "rn-" + secrets.token_hex(4)
        client = seaweedfs.client()
        client.create_bucket(Bucket=bucket)
        extra = {"access_id": seaweedfs.admin.access_key, "access_secret": seaweedfs.admin.secret_key,
                 "store": {"provider": "s3", "endpoint": seaweedfs.endpoint, "region": seaweedfs.region}}
    else:
        bucket, extra = "shared", {}
    accounts = [Account("keeper", "k-pass-1", bucket, permissions="no-delete", home_dir="in", allow_rename=True, **extra)]
    server = OssftpServer(tmp_path / "srv", accounts, extra_args=["--rename", "copy", "--cache_ttl", "60"])
    server.start()

    def behind_its_back(key: str, body: bytes) -> None:
        if store == "s3":
            client.put_object(Bucket=bucket, Key="in/" + key, Body=body)
        else:
            path = server.bucket_dir() / "in" / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)

    try:
        keeper = login(server, "keeper", "k-pass-1")
        keeper.storbinary("STOR a.txt", io.BytesIO(b"renamer"))
        keeper.mkd("d")
        keeper.storbinary("STOR d/x.txt", io.BytesIO(b"in d"))
        # The session sees both names free (and remembers it).
        for name in ("target.txt", "e"):
            with pytest.raises(ftplib.error_perm, match="^550"):
                keeper.sendcmd(f"MLST {name}")
        behind_its_back("target.txt", b"PRECIOUS")
        behind_its_back("e/y.txt", b"ALSO PRECIOUS")
        keeper.sendcmd("RNFR a.txt")
        with pytest.raises(ftplib.error_perm, match="^550 .*may not replace"):
            keeper.sendcmd("RNTO target.txt")
        keeper.sendcmd("RNFR d")
        with pytest.raises(ftplib.error_perm, match="^550 .*may not replace"):
            keeper.sendcmd("RNTO e")
        assert fetch_bytes(keeper, "target.txt") == b"PRECIOUS"
        assert fetch_bytes(keeper, "a.txt") == b"renamer"
        assert fetch_bytes(keeper, "e/y.txt") == b"ALSO PRECIOUS"
        assert fetch_bytes(keeper, "d/x.txt") == b"in d"
        assert sorted(keeper.nlst("e")) in (["y.txt"], ["e/y.txt"])
        # A name still free is renamed onto as before.
        keeper.sendcmd("RNFR a.txt")
        keeper.sendcmd("RNTO free.txt")
        assert fetch_bytes(keeper, "free.txt") == b"renamer"
        keeper.quit()
    finally:
        server.stop()


def test_a_file_larger_than_the_servers_disk_takes_gets_552(tmp_path):
    """EFBIG from the spool (a file-size limit: `ulimit -f`, FAT's 4 GiB) was answered 451,
    "try again", which a client does for ever: it is for good, 552 (RFC 959 §4.2.1, exceeded
    storage allocation), and nothing is stored."""
    server = OssftpServer(tmp_path / "srv", [Account("user", "u-pass-1", "shared")])
    server.start()
    try:
        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        client = login(server, "user", "u-pass-1")
        with pytest.raises(ftplib.error_perm, match="^552 File too large: /big.bin .*nothing was stored"):
            client.storbinary("STOR big.bin", io.BytesIO(os.urandom(3 << 19)))
        assert not (server.bucket_dir() / "big.bin").exists()
        client.storbinary("STOR small.bin", io.BytesIO(b"fits"))
        assert fetch_bytes(client, "small.bin") == b"fits"
        client.quit()
    finally:
        server.stop()


def test_a_spool_that_refuses_files_is_the_servers_trouble_not_the_clients(tmp_path):
    """A spool folder remounted read-only (or its permissions changed) answered every upload
    550 "Permission denied" on the client's own file, which clients take as final and as their
    fault; it is 451, and the log names the spool."""
    server = OssftpServer(tmp_path / "srv", [Account("user", "u-pass-1", "shared")])
    server.start()
    spool = server.spool_dir
    subprocess.run(["mount", "--bind", str(spool), str(spool)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(spool)], check=True)
        client = login(server, "user", "u-pass-1")
        picture = os.urandom(1 << 20)  # more than the write buffer: it goes to a part file
        with pytest.raises(ftplib.error_temp, match="^451 .*/photo.jpg: the server's spool refused to"):
            client.storbinary("STOR photo.jpg", io.BytesIO(picture))
        assert "the spool refused a file operation" in server.log_tail()
        assert not (server.bucket_dir() / "photo.jpg").exists()
        subprocess.run(["mount", "-o", "remount,rw,bind", str(spool)], check=True)
        client.storbinary("STOR photo.jpg", io.BytesIO(picture))
        assert fetch_bytes(client, "photo.jpg") == picture
        client.quit()
    finally:
        subprocess.run(["umount", str(spool)], check=False)
        server.stop()


def fetch_bytes(client: ftplib.FTP, name: str) -> bytes:
    out = io.BytesIO()
    client.retrbinary(f"RETR {name}", out.write)
    return out.getvalue()


def test_connections_that_ended_give_their_memory_back(tmp_path):
    """Each control connection's handler kept its channel context, which kept the handler:
    neither was ever freed, nor the session's VFS and what it had listed (3 KB per connection,
    growing without end: 30,000 connections took 93 MB, and 40 sessions listing 100,000
    entries kept 865 MB). Later a closing connection's deadline (5 s for its last reply) still
    held them after the close: 6,000 connections in a row kept about 18 MiB. Freed at the
    close, the memory is reused at once."""
    import psutil

    server = OssftpServer(tmp_path / "srv", [Account("user", "right-pass", "bucket")])
    server.start()
    try:
        process = psutil.Process(server.proc.pid)

        def connections(count: int) -> int:
            for _ in range(count):
                with socket.create_connection((HOST, server.port), timeout=10) as c:
                    c.recv(100)
                    c.sendall(b"QUIT\r\n")
                    c.recv(100)
            return process.memory_info().rss

        connections(500)  # pools, arenas and caches reach their size
        time.sleep(6)
        first = process.memory_info().rss
        grown = (connections(6000) - first) / 2**20
        # Kept, 6,000 connections would add about 18 MiB.
        assert grown < 4, f"{grown:.1f} MiB more after 6,000 more connections"
    finally:
        server.stop()


class _LimitedFilesServer(OssftpServer):
    """ossftp started with an open files limit of 256, which it may raise to 4096."""

    def command(self) -> list[str]:
        return ["prlimit", "--nofile=256:4096", "--", *super().command()]


def _open_files_limits(pid: int) -> tuple[int, int]:
    for line in open(f"/proc/{pid}/limits"):
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open files line")


def test_out_of_file_descriptors_the_listener_backs_off_and_recovers(tmp_path):
    """With every file descriptor taken, accept(2) fails with EMFILE: the listener retried at
    once, forever, on both loops (two cores busy, nothing logged). It now waits between tries
    and says why, and takes the waiting clients once descriptors are free. At start the open
    files limit is raised to what the system allows the process."""
    import psutil

    account = Account("fd", "f-" + secrets.token_urlsafe(10), "bucketfd")
    server = _LimitedFilesServer(tmp_path / "srv", [account])
    server.start()
    sockets: list[socket.socket] = []
    try:
        assert _open_files_limits(server.proc.pid) == (4096, 4096)
        subprocess.run(["prlimit", "--pid", str(server.proc.pid), "--nofile=48:48"], check=True)
        for _ in range(80):
            sockets.append(socket.create_connection((HOST, server.port), timeout=5))
        time.sleep(1)
        process = psutil.Process(server.proc.pid)
        before = process.cpu_times()
        time.sleep(3)
        after = process.cpu_times()
        spent = (after.user + after.system) - (before.user + before.system)
        assert spent < 0.5, f"{spent:.2f} s of CPU in 3 s with no descriptor free"
        assert "cannot accept connections" in server.log_tail(100_000)
        for connection in sockets:
            connection.close()
        sockets = []
        client = ftplib.FTP()
        client.connect(HOST, server.port, timeout=10)
        client.login(account.username, account.password)
        client.storbinary("STOR after.txt", io.BytesIO(b"descriptors are back"))
        client.quit()
    finally:
        for connection in sockets:
            connection.close()
        server.stop()


def test_a_spool_folder_smaller_than_the_budget_is_warned_of(tmp_path):
    """With the spool on a file system smaller than the spool budget, uploads got 452 once it
    filled, though nothing at start said the budget could not be met (the audit's finding)."""
    with server_with_a_small_spool(tmp_path) as (server, account, small):
        log = server.log_tail(100_000)
        assert re.search(r"has 1[56] MiB free, less than the spool budget of 1024 MiB", log), log
        # A spool that fills answers 452, without the server's folders in the reply (they
        # were there: the client saw the spool's path); the log names them.
        client = ftplib.FTP()
        client.connect(HOST, server.port, timeout=30)
        client.login(account.username, account.password)
        with pytest.raises(ftplib.error_temp, match="^452") as refused:
            client.storbinary("STOR big.bin", io.BytesIO(os.urandom(24 << 20)))
        assert str(small) not in str(refused.value), refused.value
        assert "big.bin" not in client.nlst()
        client.quit()
        assert re.search(r"STOR /big.bin: failed: Insufficient storage space.*" + re.escape(str(small)),
                         server.log_tail(100_000))
        roomy = OssftpServer(tmp_path / "srv2", [account], extra_args=["--spool_budget_mb", "8", "--part_size_mb", "4",
                                                                      "--spool_dir", str(small / "spool2")])
        roomy.start()
        try:
            assert "less than the spool budget" not in roomy.log_tail(100_000)
        finally:
            roomy.stop()


@pytest.mark.parametrize("permissions", ["no-delete", "upload-only"])
def test_a_resume_at_a_size_the_cache_had_cannot_cut_a_file_grown_meanwhile(accounts_server, permissions):
    """REST at a file's size then STOR is how an account that may not replace files resumes
    one: the size it was checked against came from the cache, and a file another program had
    grown within cache_ttl was cut back to it, with 226 (the audit's finding)."""
    name, password = ("keeper", "k-pass-1") if permissions == "no-delete" else ("camera", "c-pass-1")
    client = login(accounts_server, name, password)
    client.voidcmd("TYPE I")
    client.storbinary("STOR grown.txt", io.BytesIO(b"0123456789"))
    assert client.size("grown.txt") == 10  # now in the cache
    stored = accounts_server.local_root / "shared" / "grown.txt"
    stored.write_bytes(b"0123456789 and what another program added")  # not through ossftp
    with pytest.raises(ftplib.error_temp, match="^450"):
        client.storbinary("STOR grown.txt", io.BytesIO(b""), rest=10)
    assert stored.read_bytes() == b"0123456789 and what another program added"
    # The next try sees the new size: replacing from 10 is refused, continuing from the end works.
    with pytest.raises(ftplib.error_perm, match="^550"):
        client.storbinary("STOR grown.txt", io.BytesIO(b""), rest=10)
    client.storbinary("STOR grown.txt", io.BytesIO(b"!"), rest=stored.stat().st_size)
    assert stored.read_bytes() == b"0123456789 and what another program added!"
    client.quit()


def test_an_upload_does_not_wait_for_ever_on_a_folder_another_program_locks(tmp_path):
    """A local store's upload locks its folder for the moment of its check and rename (two
    ossftp processes on one folder take turns). Another program holding that lock, or an
    ossftp process stopped while holding it, fails the upload after a while with 451, rather
    than holding a thread of the shared I/O pool for ever; once the lock goes, uploads work."""
    import fcntl

    account = Account("user", "right-pass", "bucket")
    server = OssftpServer(tmp_path / "srv", [account])
    server.start()
    try:
        folder = os.open(server.bucket_dir(), os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)
            client = ftplib.FTP()
            client.connect(HOST, server.port, timeout=60)
            client.login("user", "right-pass")
            started = time.monotonic()
            with pytest.raises(ftplib.error_temp, match="^451"):
                client.storbinary("STOR held.txt", io.BytesIO(b"held"))
            assert 5 < time.monotonic() - started < 30
            assert not (server.bucket_dir() / "held.txt").exists()
        finally:
            os.close(folder)
        assert client.storbinary("STOR held.txt", io.BytesIO(b"free")).startswith("226")
        assert (server.bucket_dir() / "held.txt").read_bytes() == b"free"
        client.quit()
    finally:
        server.stop()


def test_sessions_listing_one_big_folder_share_its_reading(tmp_path):
    """Each login's local store kept its own sorted reading of every folder it listed, for as
    long as the session stayed open: eight sessions that listed a folder of 30,000 names held
    eight copies (53 MB over the first session's 10 MB). The reading is now the process's."""
    account = Account("carol", "c-" + secrets.token_urlsafe(10), "bucket3")
    server = OssftpServer(tmp_path / "srv", [account]).start()
    try:
        folder = server.bucket_dir() / "big"
        folder.mkdir()
        for index in range(30_000):
            (folder / f"file_with_a_fairly_long_name_{index:06d}.dat").touch()
        time.sleep(3)  # a reading is kept once the folder's last change is 2.5 s old

        def rss_mib() -> float:
            status = open(f"/proc/{server.proc.pid}/status").read()
            return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024

        sessions, growth = [], []
        before = rss_mib()
        for _ in range(8):
            client = ftplib.FTP()
            client.connect(HOST, server.port, timeout=30)
            client.login(account.username, account.password)
            assert len(client.nlst("big")) == 30_000
            sessions.append(client)
            growth.append(rss_mib() - before)
        # One reading's worth after the first session, and about as much after the eighth.
        assert growth[-1] < growth[0] + 8, growth
        for client in sessions:
            client.quit()
    finally:
        server.stop()


def test_a_stopped_reader_is_cut_off_once_the_stall_timeout_has_passed_not_twice_it(tmp_path):
    """A download whose client stopped reading got 426 only after about twice the stall timeout
    (16 s for 8): the watchdog counted the timeout again from when it looked at the socket,
    not from when the socket last sent. The 426 now also says why."""
    server = OssftpServer(tmp_path / "srv", [Account("user", "right-pass", "bucket")],
                          extra_args=["--transfer_stall_timeout", "4"])
    server.start()
    try:
        (server.bucket_dir() / "big.bin").write_bytes(os.urandom(16 << 20))
        with RawFTP(server.port) as c:
            channel = small_window_data_connection(c)
            started = time.monotonic()
            assert c.cmd("RETR big.bin").code == 150
            reply = c.read_reply()
            waited = time.monotonic() - started
            channel.close()
            assert reply.code == 426 and "nothing moved for 4 s" in reply.text, reply
            # The timeout, the watchdog's look every second, and some slack; not twice it.
            assert 4 <= waited < 6.5, waited
    finally:
        server.stop()


def small_window_data_connection(c: RawFTP) -> socket.socket:
    """Logs `c` in as user/right-pass and opens a passive data connection with a 4 KiB receive
    buffer, so that what the client does not read soon stops the server's sending."""
    assert c.login("user", "right-pass").code == 230
    c.cmd("TYPE I")
    channel = socket.socket()
    channel.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    channel.connect((HOST, epsv_port(c)))
    return channel


def test_an_open_files_limit_too_low_for_max_connections_is_said_at_start(tmp_path):
    """At a hard limit of 64 open files, about 45 idle logins used every descriptor and every
    transfer then got 425, with nothing said at start."""
    for connections, said in ((100, True), (30, False)):
        server = OssftpServer(tmp_path / f"srv-{connections}", [Account("user", "right-pass", "bucket")],
                              command_prefix=["prlimit", "--nofile=200:200"],
                              extra_args=["--max_connections", str(connections)])
        server.start()
        try:
            log = server.log_tail()
        finally:
            server.stop()
        warning = ("the open files limit is 200: about 34 sessions can transfer at once, not max_connections' 100 "
                   "(each holds about 4 files while transferring); raise the hard limit (ulimit -Hn, LimitNOFILE= in "
                   "the systemd unit) to 464, or lower max_connections")
        assert (warning in log) == said and (said or "open files limit" not in log), log


def test_an_upload_refused_midway_lets_the_client_finish_and_read_the_452(tmp_path):
    """A full disk ended the upload and closed its data connection while the client still sent:
    curl said "Send failure: Connection reset by peer" (exit 55) and ftplib raised
    ConnectionResetError, the 452 unread. What the client still sends is read and dropped (up to
    64 MiB or 10 s), so both see the 452."""
    with server_with_a_small_spool(tmp_path) as (server, account, _):
        big = tmp_path / "big.bin"
        big.write_bytes(os.urandom(24 << 20))
        curl = subprocess.run(["curl", "-sS", "-T", str(big), "--user", f"{account.username}:{account.password}",
                               f"ftp://{HOST}:{server.port}/big.bin"], capture_output=True, text=True, timeout=60)
        assert curl.returncode == 18 and "got 452" in curl.stderr, (curl.returncode, curl.stderr)
        client = ftplib.FTP()
        client.connect(HOST, server.port, timeout=30)
        client.login(account.username, account.password)
        with pytest.raises(ftplib.error_temp, match="^452 Insufficient storage"):
            client.storbinary("STOR big.bin", io.BytesIO(big.read_bytes()))
        assert client.voidcmd("NOOP").startswith("200")
        assert "big.bin" not in client.nlst()
        client.quit()


@contextlib.contextmanager
def server_with_a_small_spool(tmp_path):
    """A local-store server whose spool folder is on a 16 MiB tmpfs: (server, account, folder)."""
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(small)], check=True)
    try:
        account = Account("sp", "s-" + secrets.token_urlsafe(10), "bucketsp")
        server = OssftpServer(tmp_path / "srv", [account], extra_args=["--spool_dir", str(small / "spool")])
        server.start()
        try:
            yield server, account, small
        finally:
            server.stop()
    finally:
        subprocess.run(["umount", str(small)], check=False)

def test_the_log_says_who_changed_or_moved_what_and_how_it_ended(accounts_server):
    """The log had "transfer finished: completed" for a transfer and nothing for DELE, MKD, RMD
    or a rename, refused or done; only the login line named the user."""
    admin = login(accounts_server, "admin", "a-pass-1")
    admin.storbinary("STOR report.txt", io.BytesIO(b"x" * 1234))
    admin.mkd("old")
    admin.rename("report.txt", "old/report.txt")
    with pytest.raises(ftplib.error_perm, match="^550"):
        admin.rmd("missing")
    admin.retrbinary("RETR old/report.txt", lambda _: None)
    admin.quit()
    reader = login(accounts_server, "reader", "r-pass-1")
    with pytest.raises(ftplib.error_perm, match="^550"):
        reader.delete("old/report.txt")
    reader.quit()
    log = accounts_server.log_tail(200_000)
    for line in [r"user=admin .*STOR /report.txt: completed, 1234 bytes in \d+ ms",
                 r"user=admin .*MKD /old: done",
                 r"user=admin .*rename /report.txt to /old/report.txt: done",
                 r"user=admin .*RETR /old/report.txt: completed, 1234 bytes",
                 r"user=reader .*DELE /old/report.txt: Permission denied: this account may not delete."]:
        assert re.search(line, log), (line, log)
    # A refusal of what the client asked (a missing folder) is DEBUG: a client can ask for
    # such things as fast as it sends lines.
    assert "RMD /missing" not in log


def test_stored_files_take_the_servers_umask_whatever_their_size(tmp_path):
    """Under umask 077 a small upload was stored 0600 and a large one 0644, readable by every
    local user: the file linked from the spool was set to 0644 itself."""
    account = Account("um", "u-" + secrets.token_urlsafe(10), "bucketum")
    server = OssftpServer(tmp_path / "srv", [account], command_prefix=["sh", "-c", 'umask 077; exec "$0" "$@"'])
    server.start()
    try:
        client = login(server, account.username, account.password)
        client.storbinary("STOR small.txt", io.BytesIO(b"s"))
        client.storbinary("STOR large.bin", io.BytesIO(os.urandom(20 << 20)))
        client.storbinary("APPE large.bin", io.BytesIO(b"more"))
        client.quit()
        for name in ("small.txt", "large.bin"):
            assert stat.S_IMODE(os.stat(server.bucket_dir() / name).st_mode) == 0o600, name
    finally:
        server.stop()


def test_a_plaintext_password_login_names_its_user_on_later_lines_too(tmp_path):
    """A plaintext password (the seed's config.json keeps them so) is checked at once, on a
    path that did not put `user=` on the session's later lines."""
    account = Account("plain", "p-" + secrets.token_urlsafe(10), "bucketp", hashed=False)
    server = OssftpServer(tmp_path / "srv", [account]).start()
    try:
        client = login(server, account.username, account.password)
        client.mkd("p")
        client.quit()
        assert re.search(r"user=plain .*MKD /p: done", server.log_tail()), server.log_tail()
    finally:
        server.stop()
