"""ossftp over a real S3 store (SeaweedFS with enforced credentials), logged in the seed
tool's way: user `access_key_id/bucket_name`, password the secret."""

from __future__ import annotations

import contextlib
import ftplib
import hashlib
import io
import os
import secrets
import socket
import subprocess
import threading
import time
from pathlib import Path
import urllib.parse

import psutil
import pytest

from holding_proxy import HoldingProxy
from netutil import HOST
from ossftp_server import Account, OssftpServer, ossftp_binary
from seaweedfs import SeaweedFS
from wallclock import WallClock


@pytest.fixture
def bucket(seaweedfs) -> str:
    name = "ftp-s3-" + secrets.token_hex(4)
    seaweedfs.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3ftp(seaweedfs, tmp_path):
    server = OssftpServer(tmp_path / "srv", [], extra_args=[
        "--provider", "s3", "--endpoint", seaweedfs.endpoint, "--region", seaweedfs.region])
    server.start()
    try:
        yield server
    finally:
        server.stop()
        print(server.log_tail())


def connect(server: OssftpServer, user: str, password: str) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect(HOST, server.port, timeout=20)
    client.login(user, password)
    return client


def s3_server(tmp_path, endpoint: str, region: str, *extra: str, clock: WallClock | None = None) -> OssftpServer:
    """A started ossftp server on the S3 provider at `endpoint`, with `extra` flags (and its wall
    clock set by `clock`)."""
    server = OssftpServer(tmp_path / "srv", [], extra_args=["--provider", "s3", "--endpoint", endpoint,
                                                            "--region", region, *extra],
                          environment=clock.environment() if clock else {},
                          command_prefix=WallClock.command_prefix if clock else [])
    server.start()
    return server


@contextlib.contextmanager
def proxied_session(seaweedfs, tmp_path, bucket: str, *flags: str, clock: WallClock | None = None, **proxy_options):
    """A logged-in FTP session on ossftp serving `bucket` through a ``HoldingProxy`` made with
    `proxy_options`; server and proxy stop at the end."""
    proxy = HoldingProxy(seaweedfs.endpoint, hold_key="\0", **proxy_options)
    server = s3_server(tmp_path, proxy.endpoint, seaweedfs.region, *flags, clock=clock)
    try:
        admin = seaweedfs.admin
        yield connect(server, f"{admin.access_key}/{bucket}", admin.secret_key)
    finally:
        server.stop()
        proxy.close()


def test_login_with_key_and_bucket_reaches_the_bucket(seaweedfs, s3ftp, bucket):
    admin = seaweedfs.admin
    client = connect(s3ftp, f"{admin.access_key}/{bucket}", admin.secret_key)
    data = os.urandom(3 * 1024 * 1024 + 17)
    client.storbinary("STOR photo.bin", io.BytesIO(data))
    stored = seaweedfs.client().get_object(Bucket=bucket, Key="photo.bin")["Body"].read()
    assert stored == data
    out = io.BytesIO()
    client.retrbinary("RETR photo.bin", out.write)
    assert out.getvalue() == data
    assert client.nlst() == ["photo.bin"]
    assert client.size("photo.bin") == len(data)
    client.quit()


def test_wrong_secret_unknown_key_and_unknown_bucket_get_530(seaweedfs, s3ftp, bucket):
    admin = seaweedfs.admin
    for user, password in [(f"{admin.access_key}/{bucket}", "not-the-secret"),
                           (f"AKNOSUCHKEY123456789/{bucket}", admin.secret_key),
                           (f"{admin.access_key}/no-such-bucket-x", admin.secret_key),
                           (admin.access_key, admin.secret_key),
                           # Names no store can hold: a wrong login like any other, delayed and
                           # counted (they were 421 "cannot be reached", at once).
                           (f"{admin.access_key}/bucket one", admin.secret_key),
                           (f"{admin.access_key}/..", admin.secret_key),
                           (f"{admin.access_key}/bucket-one%00", admin.secret_key),
                           (f"x/{admin.access_key}/{bucket}", admin.secret_key)]:
        client = ftplib.FTP()
        client.connect(HOST, s3ftp.port, timeout=20)
        started = time.monotonic()
        # Every refusal says how users log in, whatever the name (the seed tool said it for a
        # name without '/'; the same text for all tells nothing of which names exist).
        with pytest.raises(ftplib.error_perm, match="^530 Login incorrect [(]users are access_key_id/bucket_name, "
                                                    "with the AccessKey secret as password[)]"):
            client.login(user, password)
        assert time.monotonic() - started >= 0.9, user
        client.close()


def test_two_sessions_with_two_keys_each_get_their_own_rights(seaweedfs, s3ftp, bucket):
    admin, readonly = seaweedfs.admin, seaweedfs.readonly
    writer = connect(s3ftp, f"{admin.access_key}/{bucket}", admin.secret_key)
    reader = connect(s3ftp, f"{readonly.access_key}/{bucket}", readonly.secret_key)
    for round_number in range(3):
        name = f"f{round_number}.txt"
        writer.storbinary(f"STOR {name}", io.BytesIO(name.encode()))
        with pytest.raises(ftplib.error_perm, match="^550"):
            reader.storbinary(f"STOR mine-{name}", io.BytesIO(b"x"))
        with pytest.raises(ftplib.error_perm, match="^550"):
            reader.delete(name)
        out = io.BytesIO()
        reader.retrbinary(f"RETR {name}", out.write)
        assert out.getvalue() == name.encode()
        # The writer still writes after the read-only session was refused: no credentials mixed.
        writer.storbinary(f"STOR again-{name}", io.BytesIO(b"y"))
    keys = sorted(o["Key"] for o in seaweedfs.client().list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == sorted([f"f{i}.txt" for i in range(3)] + [f"again-f{i}.txt" for i in range(3)])
    writer.quit()
    reader.quit()


def test_a_name_the_store_finds_too_long_gets_553(seaweedfs, s3ftp, bucket):
    # SeaweedFS takes names of at most 255 bytes (KeyTooLongError): the reply says so, with
    # the code for a name not allowed, and nothing is stored.
    admin = seaweedfs.admin
    client = connect(s3ftp, f"{admin.access_key}/{bucket}", admin.secret_key)
    with pytest.raises(ftplib.error_perm, match="^553 File name too long"):
        client.storbinary("STOR " + "c" * 300, io.BytesIO(b"data"))
    assert client.nlst() == []
    assert client.sendcmd("NOOP").startswith("200")
    client.quit()


def test_refused_uploads_give_back_their_spool(seaweedfs, tmp_path, bucket):
    """A store that refuses uploads (a read-only key) must not keep their spool files and budget:
    each refused upload leaked a 16 MiB part, and once the budget was gone every upload of the
    server hung without a reply."""
    server = OssftpServer(tmp_path / "srv", [], extra_args=[
        "--provider", "s3", "--endpoint", seaweedfs.endpoint, "--region", seaweedfs.region,
        "--spool_budget_mb", "40", "--part_size_mb", "8"])
    server.start()
    try:
        body = os.urandom(20 * 1024 * 1024)  # three parts: a multipart upload, refused at its start
        readonly = seaweedfs.readonly
        for _ in range(6):
            client = connect(server, f"{readonly.access_key}/{bucket}", readonly.secret_key)
            try:
                client.storbinary("STOR refused.bin", io.BytesIO(body))
                reply = "226"
            except ftplib.error_perm as error:
                reply = str(error)
            except OSError:  # the server closed the data connection while the client sent
                reply = client.getline()
            assert reply.startswith("550"), reply
            client.quit()
        assert [p.name for p in server.spool_dir.rglob("upload-*")] == []
        admin = seaweedfs.admin
        client = connect(server, f"{admin.access_key}/{bucket}", admin.secret_key)
        client.sock.settimeout(60)
        client.storbinary("STOR accepted.bin", io.BytesIO(body))
        client.quit()
        assert seaweedfs.client().head_object(Bucket=bucket, Key="accepted.bin")["ContentLength"] == len(body)
        assert "refused.bin" not in [o["Key"] for o in seaweedfs.client().list_objects_v2(Bucket=bucket).get("Contents", [])]
    finally:
        server.stop()


@pytest.mark.parametrize("mode", [[], ["--write_back"]], ids=["plain", "write-back"])
def test_a_store_that_dies_while_an_upload_waits_for_budget_gets_451(tmp_path, mode):
    """Parts that fail give their budget back at once (in write-back mode too, while the client
    still sends): an upload waiting for budget behind them used to wait forever, with no reply,
    and its budget was never seen again."""
    with SeaweedFS() as weed:
        weed.client().create_bucket(Bucket="dies")
        server = OssftpServer(tmp_path / "srv", [], extra_args=[
            "--provider", "s3", "--endpoint", weed.endpoint, "--region", weed.region,
            "--spool_budget_mb", "16", "--part_size_mb", "8", "--upload_concurrency", "2", *mode])
        server.start()
        try:
            client = connect(server, f"{weed.admin.access_key}/dies", weed.admin.secret_key)
            client.sock.settimeout(120)
            client.voidcmd("TYPE I")
            data, _ = client.ntransfercmd("STOR big.bin")
            chunk = os.urandom(1024 * 1024)
            stopped = False
            started = time.monotonic()
            try:
                for index in range(100):  # 100 MiB at about 20 MiB/s
                    data.sendall(chunk)
                    time.sleep(0.05)
                    if index == 40 and not stopped:
                        weed._stop_process()
                        stopped = True
            except OSError:
                pass  # the server gave up on the upload and closed the data connection
            data.close()
            reply = client.getline()
            assert reply.startswith("451"), reply
            assert time.monotonic() - started < 100
            assert [p.name for p in server.spool_dir.rglob("upload-*")] == []
            weed._start()
            weed._wait_ready()
            client.storbinary("STOR after.bin", io.BytesIO(os.urandom(20 * 1024 * 1024)))
            client.quit()
            # The failed upload's abort, refused while the store was away, is asked again in the
            # background: its parts do not wait for the next start.
            deadline = time.monotonic() + 90
            while any(u["Key"] == "big.bin" for u in weed.client().list_multipart_uploads(Bucket="dies").get("Uploads", [])):
                assert time.monotonic() < deadline, "the failed upload was never aborted"
                time.sleep(1)
        finally:
            server.stop()


def test_a_frozen_store_gets_451_in_bounded_time(tmp_path):
    """A store that takes connections and never answers (stopped, not dead): each attempt waits
    out the 20 s low-speed limit, and no new attempt starts 30 s after the first, so a LIST
    gets 451 in well under a minute (eight attempts took almost three)."""
    with SeaweedFS() as weed:
        weed.client().create_bucket(Bucket="frozen")
        server = OssftpServer(tmp_path / "srv", [], extra_args=[
            "--provider", "s3", "--endpoint", weed.endpoint, "--region", weed.region, "--cache_ttl", "0"])
        server.start()
        processes = [psutil.Process(weed.proc.pid)] + psutil.Process(weed.proc.pid).children(recursive=True)
        try:
            client = connect(server, f"{weed.admin.access_key}/frozen", weed.admin.secret_key)
            client.sock.settimeout(120)
            for process in processes:
                process.suspend()
            started = time.monotonic()
            with pytest.raises(ftplib.error_temp, match="^451"):
                client.nlst()
            assert time.monotonic() - started < 60
        finally:
            for process in processes:
                process.resume()
            server.stop()


def test_a_store_that_is_gone_is_not_named_to_clients(tmp_path):
    """451 told FTP clients libcurl's words, which name the store's address: "Failed to
    connect to 127.0.0.1 port 60727". The client hears what happened; the log, where."""
    with SeaweedFS() as weed:
        weed.client().create_bucket(Bucket="gone")
        server = OssftpServer(tmp_path / "srv", [], extra_args=[
            "--provider", "s3", "--endpoint", weed.endpoint, "--region", weed.region, "--cache_ttl", "0"])
        server.start()
        try:
            client = connect(server, f"{weed.admin.access_key}/gone", weed.admin.secret_key)
            port = str(urllib.parse.urlsplit(weed.endpoint).port)
            weed.stop()
            for command in (client.nlst, lambda: client.size("x.bin")):
                with pytest.raises(ftplib.error_temp, match="^451") as refused:
                    command()
                assert "cannot connect to the store" in str(refused.value), refused.value
                assert port not in str(refused.value) and "127.0.0.1" not in str(refused.value), refused.value
            assert f"port {port}" in server.log_tail(100_000)
        finally:
            server.stop()


def test_a_store_refusal_for_good_is_a_permanent_reply(seaweedfs, tmp_path, bucket):
    """A store's 4xx with no more precise meaning (InvalidArgument, a redirect) and its 501
    were answered 451, "try again": lftp sent the whole file again up to 1,000 times for a
    refusal no retry could change. They are 550 now (ftplib's error_perm), and the session
    goes on; a 413 from a proxy in front of the store is 552, as EntityTooLarge."""
    refusals = {"invalid.bin": (400, "InvalidArgument", "Argument x is not valid."),
                "unimplemented.bin": (501, "NotImplemented", "A header you provided implies functionality that is not implemented"),
                "large.bin": (413, "RequestEntityTooLarge", "Request Entity Too Large")}

    def refuse(method, path, headers):
        return next((error for name, error in refusals.items() if method == "PUT" and name in path), None)

    with proxied_session(seaweedfs, tmp_path, bucket, refuse=refuse) as client:
        replies = {}
        for name in refusals:
            try:
                client.storbinary(f"STOR {name}", io.BytesIO(b"refused bytes"))
            except ftplib.all_errors as error:
                replies[name] = str(error)
        assert replies["invalid.bin"] == "550 Refused by the store: InvalidArgument: Argument x is not valid.", replies
        assert replies["unimplemented.bin"].startswith("550 Not supported on object storage: /unimplemented.bin: "
                                                       "the store does not implement this (NotImplemented)"), replies
        assert replies["large.bin"].startswith("552 File too large: /large.bin"), replies
        client.storbinary("STOR fine.bin", io.BytesIO(b"stored"))
        assert client.nlst() == ["fine.bin"]
        client.quit()


def test_a_download_the_store_refuses_after_its_head_is_550_before_any_150(seaweedfs, tmp_path, bucket):
    """An archived object answers HEAD but refuses GET (InvalidObjectState). The GET came
    after the 150, where RFC 959 allows only 451 ("try again"), so lftp and FileZilla asked
    again and again for a file that must be restored first. The first GET's answer now comes
    before the 150."""
    store = seaweedfs.client()
    store.put_object(Bucket=bucket, Key="archived.bin", Body=b"cold" * 1000)
    store.put_object(Bucket=bucket, Key="warm.bin", Body=b"warm" * 1000)

    def refuse(method, path, headers):
        if method == "GET" and path.split("?")[0].endswith("/archived.bin"):
            return (403, "InvalidObjectState", "The operation is not valid for the object's storage class")
        return None

    with proxied_session(seaweedfs, tmp_path, bucket, refuse=refuse) as client:
        assert client.size("archived.bin") == 4000
        client.voidcmd("TYPE I")
        reply = client.sendcmd("PASV")
        host, port = ftplib.parse227(reply)
        with socket.create_connection((host, port), timeout=10):
            try:
                client.sendcmd("RETR archived.bin")
                assert False, "RETR of an archived object was answered 1xx"
            except ftplib.error_perm as error:
                assert str(error) == "550 Permission denied: /archived.bin is archived: restore it first (InvalidObjectState).", error
        received = bytearray()
        client.retrbinary("RETR warm.bin", received.extend)
        assert bytes(received) == b"warm" * 1000
        client.quit()


def test_uploads_carry_a_crc32c_the_store_checked(seaweedfs, s3ftp, bucket):
    """S3 uploads send `x-amz-checksum-crc32c` (not Content-MD5); the store checks it against
    the bytes and keeps it. Computed here with crcmod, an implementation of its own."""
    import base64
    import crcmod.predefined
    crc32c = crcmod.predefined.mkPredefinedCrcFun("crc-32c")
    admin = seaweedfs.admin
    client = connect(s3ftp, f"{admin.access_key}/{bucket}", admin.secret_key)
    small = os.urandom(1024 * 1024 + 3)
    large = os.urandom(16 * 1024 * 1024 + 5)  # two parts of the default 16 MiB
    client.storbinary("STOR small.bin", io.BytesIO(small))
    client.storbinary("STOR large.bin", io.BytesIO(large))
    client.quit()
    s3 = seaweedfs.client()
    head = s3.head_object(Bucket=bucket, Key="small.bin", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32C"] == base64.b64encode(crc32c(small).to_bytes(4, "big")).decode()
    head = s3.head_object(Bucket=bucket, Key="large.bin", ChecksumMode="ENABLED")
    parts = [large[:16 * 1024 * 1024], large[16 * 1024 * 1024:]]
    joined = b"".join(crc32c(p).to_bytes(4, "big") for p in parts)
    assert head["ChecksumCRC32C"] == base64.b64encode(crc32c(joined).to_bytes(4, "big")).decode() + "-2"
    assert s3.get_object(Bucket=bucket, Key="large.bin")["Body"].read() == large


def test_s3_checksum_md5_sends_content_md5_instead(seaweedfs, tmp_path, bucket):
    """For S3 stores that refuse `x-amz-checksum-*` headers: `--s3_checksum md5`."""
    server = OssftpServer(tmp_path / "srv", [], extra_args=[
        "--provider", "s3", "--endpoint", seaweedfs.endpoint, "--region", seaweedfs.region,
        "--s3_checksum", "md5"])
    server.start()
    try:
        admin = seaweedfs.admin
        client = connect(server, f"{admin.access_key}/{bucket}", admin.secret_key)
        small = os.urandom(1024 * 1024 + 3)
        large = os.urandom(16 * 1024 * 1024 + 5)
        client.storbinary("STOR small.bin", io.BytesIO(small))
        client.storbinary("STOR large.bin", io.BytesIO(large))
        client.quit()
    finally:
        server.stop()
    s3 = seaweedfs.client()
    for key, body in (("small.bin", small), ("large.bin", large)):
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        assert "ChecksumCRC32C" not in head, head
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    # A single PUT's ETag is the MD5 the store checked the body against.
    assert s3.head_object(Bucket=bucket, Key="small.bin")["ETag"].strip('"') == hashlib.md5(small).hexdigest()


def test_an_unknown_s3_checksum_is_refused(seaweedfs, tmp_path):
    result = subprocess.run(
        [str(ossftp_binary()), "serve", "--provider", "s3", "--endpoint", seaweedfs.endpoint, "--s3_checksum", "sha1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "s3_checksum must be crc32c or md5, got sha1" in result.stderr


@pytest.mark.parametrize("etag_damaged", [False, True])
def test_a_store_that_ignores_crc32c_gets_the_md5_checked_instead(seaweedfs, tmp_path, bucket, etag_damaged):
    """A store that answers without `x-amz-checksum-crc32c` did not check it: the upload is then
    checked against the ETag by MD5, as before CRC-32C. Here a proxy drops the header from the
    store's answers, and in the second case also damages the ETag, as a store that kept other
    bytes would report: that upload must fail, not get 226."""

    def answer(headers):
        kept = [(name, value) for name, value in headers if name.lower() != "x-amz-checksum-crc32c"]
        if etag_damaged:
            kept = [(name, '"00000000000000000000000000000000"' if name.lower() == "etag" else value)
                    for name, value in kept]
        return kept

    proxy = HoldingProxy(seaweedfs.endpoint, hold_key="\0", answer_headers=answer)
    server = OssftpServer(tmp_path / "srv", [], extra_args=[
        "--provider", "s3", "--endpoint", proxy.endpoint, "--region", seaweedfs.region])
    server.start()
    try:
        admin = seaweedfs.admin
        client = connect(server, f"{admin.access_key}/{bucket}", admin.secret_key)
        for name, size in (("small.bin", 1024 * 1024 + 3), ("large.bin", 16 * 1024 * 1024 + 5)):
            body = os.urandom(size)
            if etag_damaged:
                with pytest.raises(ftplib.error_temp, match="^451"):
                    client.storbinary(f"STOR {name}", io.BytesIO(body))
                assert name not in client.nlst()
            else:
                assert client.storbinary(f"STOR {name}", io.BytesIO(body)).startswith("226")
                assert seaweedfs.client().get_object(Bucket=bucket, Key=name)["Body"].read() == body
        client.quit()
    finally:
        server.stop()
        proxy.close()


def test_a_file_deleted_while_it_is_downloaded_ends_with_451(seaweedfs, bucket, tmp_path):
    """RFC 959 §5.4: after its 150 a RETR ends 226, 425, 426 or 451. A file deleted while it was
    read (its next ranged GET found nothing) ended with 550, a refusal, after part of it."""
    body = os.urandom(40 * 1024 * 1024)
    seaweedfs.client().put_object(Bucket=bucket, Key="gone.bin", Body=body)
    server = s3_server(tmp_path, seaweedfs.endpoint, seaweedfs.region, "--read_ahead_mb", "1")
    try:
        admin = seaweedfs.admin
        reader = connect(server, f"{admin.access_key}/{bucket}", admin.secret_key)
        reader.voidcmd("TYPE I")
        data = reader.transfercmd("RETR gone.bin")
        received = data.recv(1024 * 1024)
        deleter = connect(server, f"{admin.access_key}/{bucket}", admin.secret_key)
        deleter.delete("gone.bin")
        deleter.quit()
        while chunk := data.recv(1024 * 1024):
            received += chunk
        data.close()
        with pytest.raises(ftplib.error_temp, match="^451"):
            reader.voidresp()
        assert len(received) < len(body) and body.startswith(received)
        reader.quit()
    finally:
        server.stop()


def test_a_file_deleted_elsewhere_while_cached_is_forgotten_at_the_first_failed_read(seaweedfs, s3ftp, bucket):
    """Another program deletes a file whose entry the session has cached: the RETR's GET finds
    nothing, and the entry stayed, so SIZE went on answering 213 and RETR 451 (try again)
    until the cache's TTL ran out."""
    store = seaweedfs.client()
    store.put_object(Bucket=bucket, Key="cached.bin", Body=b"x" * 1000)
    admin = seaweedfs.admin
    ftp = connect(s3ftp, f"{admin.access_key}/{bucket}", admin.secret_key)
    assert ftp.size("cached.bin") == 1000
    store.delete_object(Bucket=bucket, Key="cached.bin")
    with pytest.raises(ftplib.Error, match="^(451|550)"):
        ftp.retrbinary("RETR cached.bin", lambda chunk: None)
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.size("cached.bin")
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.retrbinary("RETR cached.bin", lambda chunk: None)
    ftp.quit()


def test_a_folder_whose_last_file_is_deleted_is_no_longer_listed(seaweedfs, s3ftp, bucket):
    """SEMANTICS: a prefix-only folder disappears from listings with its last object. SeaweedFS's
    filer keeps listing the folder for seconds after (its empty-folder cleanup runs later): it
    stayed in LIST. Deleted through ossftp, it stays, empty, for whoever goes into it (a client
    deleting a tree, a camera replacing its picture) until RMD."""
    client = seaweedfs.client()
    client.put_object(Bucket=bucket, Key="only/f", Body=b"1")
    client.put_object(Bucket=bucket, Key="tree/sub/g", Body=b"2")
    admin = seaweedfs.admin
    ftp = connect(s3ftp, f"{admin.access_key}/{bucket}", admin.secret_key)
    assert sorted(ftp.nlst()) == ["only", "tree"]
    ftp.delete("only/f")
    ftp.delete("tree/sub/g")
    # The store itself still lists them.
    listed = client.list_objects_v2(Bucket=bucket, Delimiter="/").get("CommonPrefixes", [])
    assert {p["Prefix"] for p in listed} == {"only/", "tree/"}
    assert ftp.nlst() == []
    assert ftp.cwd("only").startswith("250") and ftp.nlst() == []
    ftp.cwd("/")
    assert ftp.sendcmd("RMD tree/sub").startswith("250") and ftp.sendcmd("RMD only").startswith("250")
    for gone in ("only", "tree/sub"):
        with pytest.raises(ftplib.error_perm, match="^550"):
            ftp.cwd(gone)
        with pytest.raises(ftplib.error_perm, match="^550"):
            ftp.storbinary(f"STOR {gone}/again", io.BytesIO(b"3"))
    # A file put there again by another program brings it back.
    client.put_object(Bucket=bucket, Key="only/again", Body=b"3")
    assert ftp.nlst() == ["only"]
    assert ftp.nlst("only") == ["again"]
    ftp.quit()


def test_a_folder_rename_that_cannot_be_undone_says_where_its_copies_are(seaweedfs, bucket, tmp_path):
    """A folder renamed by copying fails partway, and the store refuses the deletes that would
    undo it too: the copies made stayed, and nothing said so (a later rename onto the name
    then got "not empty")."""
    client = seaweedfs.client()
    for index in range(12):
        client.put_object(Bucket=bucket, Key=f"src/f{index:02}", Body=b"x")
    copies = []
    deletes_refused = [False]

    def refuse(method, path, headers):
        if method == "PUT" and headers.get("x-amz-copy-source"):
            copies.append(path)
            return len(copies) > 5
        return deletes_refused[0] and method == "POST" and "delete" in path

    proxy = HoldingProxy(seaweedfs.endpoint, hold_key="\0", refuse=refuse)
    server = s3_server(tmp_path, proxy.endpoint, seaweedfs.region, "--rename", "copy")
    try:
        admin = seaweedfs.admin
        ftp = connect(server, f"{admin.access_key}/{bucket}", admin.secret_key)
        # Undone, every copy goes: also those still in flight when one failed (they stayed).
        with pytest.raises(ftplib.Error):
            ftp.rename("src", "dst")
        assert "Contents" not in client.list_objects_v2(Bucket=bucket, Prefix="dst/")
        copies.clear()
        deletes_refused[0] = True
        with pytest.raises(ftplib.Error) as failure:
            ftp.rename("src", "dst")
        left = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="dst/").get("Contents", [])]
        assert left and f"and the {len(left)} copies already made under dst/ could not be removed" in str(failure.value), (left, failure.value)
        assert len(client.list_objects_v2(Bucket=bucket, Prefix="src/")["Contents"]) == 12
        ftp.quit()
    finally:
        server.stop()
        proxy.close()


def test_a_folder_rename_moves_keys_with_control_characters(seaweedfs, bucket, tmp_path):
    """Keys other tools made may hold control characters. The batch delete after a folder
    rename by copying sent a CR as it was, which XML reads as LF: no such key, the source
    stayed, and the rename said 250. A BEL made the batch malformed: 451 with every copy made.
    A CR now goes as a character reference, and keys XML cannot carry are deleted one by one."""
    client = seaweedfs.client()
    keys = ["crdir/a\rb.txt", "crdir/bell\x07.txt", "crdir/plain.txt"]
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    server = s3_server(tmp_path, seaweedfs.endpoint, seaweedfs.region, "--rename", "copy")
    try:
        admin = seaweedfs.admin
        ftp = connect(server, f"{admin.access_key}/{bucket}", admin.secret_key)
        assert ftp.rename("crdir", "moved").startswith("250")
        ftp.quit()
        listed = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))
        assert listed == sorted(key.replace("crdir/", "moved/") for key in keys)
        for key in keys:
            moved = key.replace("crdir/", "moved/")
            assert client.get_object(Bucket=bucket, Key=moved)["Body"].read() == key.encode()
    finally:
        server.stop()


def test_a_folder_whose_first_subfolder_was_emptied_is_still_a_folder(seaweedfs, s3ftp, bucket):
    """`p/d/only` deleted, `p/keep` left: the lookup of `p` lists one entry, which was the
    emptied `d/` (it sorts first), hid it, and took `p` for gone; CWD, MLST and STOR into `p`
    got 550 for a minute."""
    client = seaweedfs.client()
    client.put_object(Bucket=bucket, Key="p/keep", Body=b"1")
    client.put_object(Bucket=bucket, Key="p/d/only", Body=b"2")
    admin = seaweedfs.admin
    ftp = connect(s3ftp, f"{admin.access_key}/{bucket}", admin.secret_key)
    ftp.delete("p/d/only")
    time.sleep(6)  # past the cache's TTL: the lookup asks the store
    assert ftp.sendcmd("MLST p").startswith("250")
    assert ftp.storbinary("STOR p/new", io.BytesIO(b"3")).startswith("226")
    ftp.cwd("p")
    assert sorted(ftp.nlst()) == ["keep", "new"]
    ftp.quit()


def test_a_folder_rename_undone_leaves_no_folder_behind(seaweedfs, bucket, tmp_path):
    """A folder rename by copy that fails part way (a key that would be too long) removes the
    copies made, but SeaweedFS went on listing the destination's folders for minutes: a tree
    that was never made appeared in LIST, and RMD of it said it was not empty."""
    store = seaweedfs.client()
    deep = "/".join(letter * 200 for letter in "abcd")
    store.put_object(Bucket=bucket, Key=f"s/{deep}/f", Body=b"deep")
    store.put_object(Bucket=bucket, Key="s/near/z", Body=b"near")
    server = s3_server(tmp_path, seaweedfs.endpoint, seaweedfs.region, "--rename", "copy")
    try:
        admin = seaweedfs.admin
        ftp = connect(server, f"{admin.access_key}/{bucket}", admin.secret_key)
        target = "t" * 250
        ftp.sendcmd("RNFR s")
        with pytest.raises(ftplib.error_perm, match="^553|^550"):
            ftp.sendcmd(f"RNTO {target}")
        assert ftp.nlst() == ["s"]
        with pytest.raises(ftplib.error_perm, match="^550"):
            ftp.cwd(target)
        ftp.quit()
    finally:
        server.stop()


def test_mfmt_keeps_the_objects_standard_headers(seaweedfs, s3ftp, bucket):
    """MFMT rewrites the metadata by copying the object onto itself with REPLACE, which also
    replaces Content-Type, Cache-Control, Content-Disposition, Content-Encoding and
    Content-Language: they were dropped (`Content-Encoding: gzip` lost breaks an object served
    over HTTP)."""
    client = seaweedfs.client()
    headers = dict(ContentType="image/jpeg", CacheControl="max-age=60", ContentDisposition='attachment; filename="m.jpg"',
                   ContentEncoding="gzip", ContentLanguage="fr")
    client.put_object(Bucket=bucket, Key="m.jpg", Body=b"jpeg bytes", Metadata={"owner": "ann"}, **headers)
    admin = seaweedfs.admin
    ftp = connect(s3ftp, f"{admin.access_key}/{bucket}", admin.secret_key)
    assert ftp.sendcmd("MFMT 20200102030405 m.jpg").startswith("213")
    ftp.quit()
    head = client.head_object(Bucket=bucket, Key="m.jpg")
    assert {name: head.get(name) for name in headers} == headers
    assert head["Metadata"]["owner"] == "ann"
    assert client.get_object(Bucket=bucket, Key="m.jpg")["Body"].read() == b"jpeg bytes"


def test_mfmt_keeps_an_empty_metadata_value(seaweedfs, bucket, tmp_path):
    """MFMT sends the object's metadata back with its copy. libcurl drops a header with
    nothing after its colon, so an empty value was signed and not sent, and the store refused
    the copy (SignatureDoesNotMatch, 550). SeaweedFS keeps no empty values, so the proxy adds one
    to the object's HEAD, as OSS and S3 answer for an object stored with one."""
    client = seaweedfs.client()
    client.put_object(Bucket=bucket, Key="m.jpg", Body=b"jpeg bytes", Metadata={"owner": "ann"})

    def with_empty_value(method, path, headers, status, answer, data):
        if method == "HEAD" and path.split("?")[0].endswith("/m.jpg"):
            answer = [*answer, ("x-amz-meta-empty", "")]
        return status, answer, data

    with proxied_session(seaweedfs, tmp_path, bucket, replace_answer=with_empty_value) as ftp:
        assert ftp.sendcmd("MFMT 20200102030405 m.jpg").startswith("213")
        assert ftp.sendcmd("MDTM m.jpg") == "213 20200102030405"
        ftp.quit()
    assert client.head_object(Bucket=bucket, Key="m.jpg")["Metadata"]["owner"] == "ann"


@pytest.mark.parametrize("status, code", [(503, "SlowDown"), (500, "InternalError")])
def test_an_upload_in_parts_rides_out_a_refused_start(seaweedfs, bucket, tmp_path, status, code):
    """The request that starts an upload in parts (CreateMultipartUpload) was not retried on
    503 SlowDown or 500: one such answer failed a STOR larger than a part with 451 at once,
    where single PUTs and parts ride it out. (A 500 may have started an upload all the same,
    left empty in the store; docs/SEMANTICS.md says so.)"""
    starts: list[str] = []

    def count(method, path, headers, data):
        if method == "POST" and path.endswith("?uploads") and "/parts.bin" in path:
            starts.append(path)
        return headers, data

    def refuse_first(method, path, headers, answer_status, answer, data):
        if method == "POST" and path.endswith("?uploads") and len(starts) == 1:
            body = f"<Error><Code>{code}</Code><Message>try again</Message></Error>".encode()
            return status, [("Content-Type", "application/xml")], body
        return answer_status, answer, data

    body = os.urandom(12 * 1024 * 1024 + 5)
    with proxied_session(seaweedfs, tmp_path, bucket, "--part_size_mb", "5", rewrite=count,
                         replace_answer=refuse_first) as client:
        assert client.storbinary("STOR parts.bin", io.BytesIO(body)).startswith("226")
        client.quit()
    assert len(starts) == 2, starts
    assert seaweedfs.client().get_object(Bucket=bucket, Key="parts.bin")["Body"].read() == body


def test_a_download_rides_out_many_broken_bodies_and_a_store_failure_is_451(seaweedfs, bucket, tmp_path):
    """A range whose body broke was asked for again at most three times in a whole download,
    so a long one over a flaky link failed at its fourth break; and the failure was answered
    426 "data connection closed", as if the client's connection had broken, not the store's."""
    data = os.urandom(24 * 1024 * 1024 + 3)
    seaweedfs.client().put_object(Bucket=bucket, Key="flaky.bin", Body=data)
    # Eight breaks, each after 300 KB.
    with proxied_session(seaweedfs, tmp_path, bucket, cut_bodies_of=r"/flaky\.bin", cuts=8) as client:
        received = io.BytesIO()
        assert client.retrbinary("RETR flaky.bin", received.write).startswith("226")
        assert received.getvalue() == data
        client.quit()
    # A store whose answers break before their first byte, again and again: the store's failure.
    with proxied_session(seaweedfs, tmp_path, bucket, cut_bodies_of=r"/flaky\.bin", cut_after=0) as client:
        with pytest.raises(ftplib.error_temp, match="^451"):
            client.retrbinary("RETR flaky.bin", lambda chunk: None)
        assert client.sendcmd("NOOP").startswith("200")
        client.quit()


def test_a_resumed_upload_reads_the_kept_bytes_again_where_their_body_broke(seaweedfs, bucket, tmp_path):
    """REST then STOR reads the kept bytes of a small object back from the store; one broken
    body failed the upload (426, as if the client's connection had broken)."""
    first = os.urandom(2 * 1024 * 1024)
    seaweedfs.client().put_object(Bucket=bucket, Key="resume.bin", Body=first)
    tail = os.urandom(100_000)
    with proxied_session(seaweedfs, tmp_path, bucket, cut_bodies_of=r"/resume\.bin", cuts=2) as client:
        client.voidcmd("TYPE I")
        assert client.storbinary("STOR resume.bin", io.BytesIO(tail), rest=1_500_000).startswith("226")
        client.quit()
    stored = seaweedfs.client().get_object(Bucket=bucket, Key="resume.bin")["Body"].read()
    assert stored == first[:1_500_000] + tail


def test_an_upload_damaged_on_the_way_is_sent_again(seaweedfs, bucket, tmp_path):
    """The store refuses a body that does not match its checksum (BadDigest): damaged on the
    way, it was not sent again, and the STOR failed with 451 and a garbled message."""
    puts: list[str] = []

    def damage_first(method, path, headers, data):
        if method == "PUT" and "/damaged.bin" in path:
            puts.append(path)
            if len(puts) == 1:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
        return headers, data

    body = os.urandom(300_000)
    with proxied_session(seaweedfs, tmp_path, bucket, rewrite=damage_first) as client:
        assert client.storbinary("STOR damaged.bin", io.BytesIO(body)).startswith("226")
        client.quit()
    assert len(puts) == 2, puts
    assert seaweedfs.client().get_object(Bucket=bucket, Key="damaged.bin")["Body"].read() == body


def test_a_refusal_without_a_body_is_named_by_its_status(seaweedfs, bucket, tmp_path):
    """A HEAD's refusal carries no error document: a 503 reached the client as "HTTP503: HTTP
    503."; it is named as the status is (RFC 9110 §15.6.4)."""
    seaweedfs.client().put_object(Bucket=bucket, Key="busy.bin", Body=b"x")

    def busy(method, path, headers, status, answer, data):
        if method == "HEAD" and path.split("?")[0].endswith("/busy.bin"):
            return 503, [], b""
        return status, answer, data

    with proxied_session(seaweedfs, tmp_path, bucket, replace_answer=busy) as client:
        with pytest.raises(ftplib.error_temp, match="^451") as refused:
            client.size("busy.bin")
        assert "ServiceUnavailable: HTTP 503 Service Unavailable" in str(refused.value), refused.value
        client.quit()


def test_an_append_checks_the_object_it_reads_back(seaweedfs, bucket, tmp_path):
    """APPE to an object below the server-side copy size reads it back with a range that covers
    it whole, and a range had no checksum: a byte damaged on the way was stored, with 226. Such
    a read is now checked as a whole one (the MD5 ETag here, CRC-64 on OSS): 451, and the
    object stays as it was."""
    store = seaweedfs.client()
    first = os.urandom(100_000)
    store.put_object(Bucket=bucket, Key="log.txt", Body=first)

    def damaged(method, path, headers, status, answer, data):
        if method == "GET" and status == 206 and path.split("?")[0].endswith("/log.txt"):
            data = bytes([data[0] ^ 1]) + data[1:]
        return status, answer, data

    with proxied_session(seaweedfs, tmp_path, bucket, replace_answer=damaged) as client:
        with pytest.raises(ftplib.error_temp, match="^451"):
            client.storbinary("APPE log.txt", io.BytesIO(b"appended\n"))
        client.quit()
    assert store.get_object(Bucket=bucket, Key="log.txt")["Body"].read() == first


def test_a_request_on_a_connection_the_store_dropped_is_sent_again_whole(seaweedfs, bucket, tmp_path):
    """A store that restarts drops its kept-alive connections; the next request on one fails
    once it is under way, and libcurl sends it again on a new connection, which needs the
    body from its start. It could not rewind the body: each such part failed the upload with
    451 ("necessary data rewind wasn't possible")."""
    proxy = HoldingProxy(seaweedfs.endpoint, hold_key="\0", drop_reused=r"/dropped\.bin")
    server = s3_server(tmp_path, proxy.endpoint, seaweedfs.region, "--part_size_mb", "5", "--upload_concurrency", "1")
    try:
        admin = seaweedfs.admin
        client = connect(server, f"{admin.access_key}/{bucket}", admin.secret_key)
        body = os.urandom(18 * 1024 * 1024 + 7)
        assert client.storbinary("STOR dropped.bin", io.BytesIO(body)).startswith("226")
        assert seaweedfs.client().get_object(Bucket=bucket, Key="dropped.bin")["Body"].read() == body
        assert proxy.dropped > 0
        client.quit()
    finally:
        server.stop()
        proxy.close()


@pytest.mark.parametrize("completed", [True, False])
def test_a_completion_whose_answer_is_lost_is_checked_against_the_object(seaweedfs, bucket, tmp_path, completed):
    """The completion's answer is lost with its connection, and the store then says the upload
    no longer exists (as OSS and AWS do once an upload is completed; libcurl itself sends the
    completion again on a new connection). Completed: the client got 451 for a file that was
    stored. Not completed (the request was lost before the store), with an older object under
    the key: the client got 226 and the old bytes stayed. The object is now checked against the
    parts (size and multipart ETag)."""
    old = b"the file as it was before\n"
    seaweedfs.client().put_object(Bucket=bucket, Key="lost.bin", Body=old)
    proxy = HoldingProxy(seaweedfs.endpoint, hold_key="\0", drop_answer_to=r"/lost\.bin\?uploadId=",
                         dropped_reaches_store=completed)
    server = s3_server(tmp_path, proxy.endpoint, seaweedfs.region, "--part_size_mb", "5")
    try:
        admin = seaweedfs.admin
        client = connect(server, f"{admin.access_key}/{bucket}", admin.secret_key)
        body = os.urandom(12 * 1024 * 1024 + 3)
        if completed:
            assert client.storbinary("STOR lost.bin", io.BytesIO(body)).startswith("226")
        else:
            with pytest.raises(ftplib.error_temp, match="^451"):
                client.storbinary("STOR lost.bin", io.BytesIO(body))
        assert proxy.answers_dropped == 1
        stored = seaweedfs.client().get_object(Bucket=bucket, Key="lost.bin")["Body"].read()
        assert stored == (body if completed else old)
        client.quit()
    finally:
        server.stop()
        proxy.close()


def test_a_store_that_ignores_range_never_gives_the_wrong_bytes(seaweedfs, bucket, tmp_path):
    """A store (or proxy) that ignores Range answers 200 with the whole object: RETR after REST
    sent the whole object from the start, and a large RETR sent it once per range asked, each
    time with 226. Only an answer that is the range asked is used; anything else is 451."""

    store = seaweedfs.client()
    small, large = os.urandom(100_000), os.urandom(3 * 1024 * 1024 + 100)
    store.put_object(Bucket=bucket, Key="small.bin", Body=small)
    store.put_object(Bucket=bucket, Key="large.bin", Body=large)
    objects = {"small.bin": small, "large.bin": large}

    def whole_object(method, path, headers, status, answer, data):
        # The signature covers Range, so the store gets it and its answer is replaced.
        name = path.split("?")[0].rsplit("/", 1)[-1]
        if method != "GET" or status != 206 or name not in objects:
            return status, answer, data
        kept = [(k, v) for k, v in answer if k.lower() not in ("content-range", "content-length")]
        return 200, kept, objects[name]

    proxy = HoldingProxy(seaweedfs.endpoint, hold_key="\0", replace_answer=whole_object)
    server = s3_server(tmp_path, proxy.endpoint, seaweedfs.region)
    try:
        admin = seaweedfs.admin
        client = connect(server, f"{admin.access_key}/{bucket}", admin.secret_key)
        # The whole of a small object is what was asked: it is delivered.
        out = io.BytesIO()
        assert client.retrbinary("RETR small.bin", out.write).startswith("226")
        assert out.getvalue() == small
        for name, rest in (("small.bin", 1000), ("large.bin", None)):
            out = io.BytesIO()
            with pytest.raises(ftplib.error_temp, match="^451.*whole object"):
                client.retrbinary(f"RETR {name}", out.write, rest=rest)
            expected = (small if name == "small.bin" else large)[rest or 0:]
            assert len(out.getvalue()) <= len(expected) and expected.startswith(out.getvalue())
        client.quit()
    finally:
        server.stop()
        proxy.close()


@pytest.mark.parametrize("length_header", ["matching the cut body", "absent"])
def test_a_range_answered_short_never_ends_a_download_226(seaweedfs, bucket, tmp_path, length_header):
    """A ranged GET whose body holds less than the range its Content-Range names (a proxy cut
    it, and either made Content-Length match or sent none) was passed on as it was: the next
    range closed the hole up, and RETR of a multipart object (no checksum of the whole) ended
    226 with the middle missing. Now such an answer is refused, or counted and resumed: the
    download is whole, or ends 451 with what came before the hole."""
    store = seaweedfs.client()
    parts = [os.urandom(5 * 1024 * 1024) for _ in range(2)]
    upload = store.create_multipart_upload(Bucket=bucket, Key="spliced.bin")["UploadId"]
    etags = [store.upload_part(Bucket=bucket, Key="spliced.bin", UploadId=upload, PartNumber=n + 1, Body=part)["ETag"]
             for n, part in enumerate(parts)]
    store.complete_multipart_upload(Bucket=bucket, Key="spliced.bin", UploadId=upload, MultipartUpload={
        "Parts": [{"ETag": etag, "PartNumber": n + 1} for n, etag in enumerate(etags)]})
    whole = b"".join(parts)

    def cut(method, path, headers, status, answer, data):
        if method == "GET" and status == 206 and path.split("?")[0].endswith("/spliced.bin"):
            return status, answer, data[:len(data) // 2]
        return status, answer, data

    delimited = r"/spliced\.bin" if length_header == "absent" else None
    with proxied_session(seaweedfs, tmp_path, bucket, "--cache_ttl", "0", replace_answer=cut,
                         close_delimited=delimited) as client:
        out = io.BytesIO()
        try:
            reply = client.retrbinary("RETR spliced.bin", out.write)
        except ftplib.error_temp as error:
            assert str(error).startswith("451"), error
            assert whole.startswith(out.getvalue()) and len(out.getvalue()) < len(whole)
        else:
            assert reply.startswith("226") and out.getvalue() == whole
        client.quit()


@pytest.mark.parametrize("checksum", ["crc32c", "md5"])
def test_objects_encrypted_with_a_kms_key_are_read_and_written(seaweedfs, bucket, tmp_path, checksum):
    """AWS S3 gives objects encrypted with a KMS key (or the customer's) ETags that are not
    their MD5. ossftp took every 32-hex ETag of a single PUT for the MD5: such a download
    failed its check (451), HASH gave the ETag as the MD5, and with Content-MD5 (`--s3_checksum
    md5`) every upload was refused and deleted. The proxy plays such a bucket: it answers with
    a KMS header and another ETag, and serves If-Match on that ETag."""
    store = seaweedfs.client()
    kept = os.urandom(300_000)
    store.put_object(Bucket=bucket, Key="kept.bin", Body=kept)
    fake = {}

    def kms(method, path, headers, status, answer, data):
        name = urllib.parse.unquote(path.split("?")[0]).split(f"/{bucket}/", 1)[-1]
        if "?" in path or not name.endswith(".bin"):
            return status, answer, data
        asked = {k.lower(): v for k, v in headers.items()}
        if method == "GET" and status == 412 and asked.get("if-match") == fake.get(name):
            # The signature covers If-Match: the store got this bucket's ETag, and the proxy
            # asks again for the bytes.
            ranged = {"Range": asked["range"]} if "range" in asked else {}
            got = store.get_object(Bucket=bucket, Key=name, **ranged)
            status = got["ResponseMetadata"]["HTTPStatusCode"]
            answer = list(got["ResponseMetadata"]["HTTPHeaders"].items())
            data = got["Body"].read()
        if status in (200, 206):
            etag = dict((k.lower(), v) for k, v in answer).get("etag")
            if etag:
                fake.setdefault(name, '"' + hashlib.md5(b"kms" + etag.encode()).hexdigest() + '"')
                answer = [(k, v) for k, v in answer if k.lower() != "etag"]
                answer += [("ETag", fake[name]), ("x-amz-server-side-encryption", "aws:kms"),
                           ("x-amz-server-side-encryption-aws-kms-key-id", "arn:aws:kms:us-east-1:1:key/k")]
        return status, answer, data

    with proxied_session(seaweedfs, tmp_path, bucket, "--s3_checksum", checksum, replace_answer=kms) as client:
        out = io.BytesIO()
        assert client.retrbinary("RETR kept.bin", out.write).startswith("226")
        assert out.getvalue() == kept
        with pytest.raises(ftplib.error_perm, match="^504.*KMS"):
            client.sendcmd("HASH kept.bin")
        sent = os.urandom(200_000)
        assert client.storbinary("STOR sent.bin", io.BytesIO(sent)).startswith("226")
        assert store.get_object(Bucket=bucket, Key="sent.bin")["Body"].read() == sent
        client.quit()


def test_a_file_stored_while_a_rename_by_copy_moves_its_name_is_kept(seaweedfs, bucket, tmp_path):
    """With rename by copy, RNTO copied the file (or the folder's files) and then deleted the old
    names whatever they held by then: a file another client stored there in between, its 226
    sent, was deleted with them and its bytes lost for good. It is a file made after the
    rename, and stays."""
    store = seaweedfs.client()
    store.put_object(Bucket=bucket, Key="f.txt", Body=b"old f")
    store.put_object(Bucket=bucket, Key="d/a.txt", Body=b"old a")
    store.put_object(Bucket=bucket, Key="d/b.txt", Body=b"old b")

    def meanwhile(method, path, headers, status, answer, data):
        # Once a copy is made, and before the old name goes, another client stores.
        target = urllib.parse.unquote(path.split("?")[0])
        if method == "PUT" and headers.get("x-amz-copy-source"):
            if target.endswith("/g.txt"):
                store.put_object(Bucket=bucket, Key="f.txt", Body=b"new f")
            if target.endswith("/e/a.txt"):
                store.put_object(Bucket=bucket, Key="d/a.txt", Body=b"new a")
                store.put_object(Bucket=bucket, Key="d/c.txt", Body=b"new c")
        return status, answer, data

    with proxied_session(seaweedfs, tmp_path, bucket, "--rename", "copy", replace_answer=meanwhile) as client:
        assert client.rename("f.txt", "g.txt").startswith("250")
        assert client.rename("d", "e").startswith("250")
        # The files kept show where they are, at once.
        assert (sorted(client.nlst()), sorted(client.nlst("d"))) == (["d", "e", "f.txt", "g.txt"], ["a.txt", "c.txt"])
        client.quit()

    def body(key):
        return store.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert (body("g.txt"), body("f.txt")) == (b"old f", b"new f")
    assert (body("e/a.txt"), body("e/b.txt")) == (b"old a", b"old b")
    assert (body("d/a.txt"), body("d/c.txt")) == (b"new a", b"new c")
    assert [o["Key"] for o in store.list_objects_v2(Bucket=bucket, Prefix="d/").get("Contents", [])] == ["d/a.txt", "d/c.txt"]


def test_two_deletes_or_renames_of_one_file_at_once_succeed_once(seaweedfs, bucket, tmp_path):
    """A store's delete succeeds whether or not the object is there, and ossftp looked for the
    file first: two DELEs of one file at once both got 250, and two renames by copy of one file
    both copied it, both got 250, and left it under both new names. The second now waits for
    the first, and finds the file gone (550)."""
    store = seaweedfs.client()

    def slowly(method, path, headers, status, answer, data):
        # Each copy and delete takes a while, as over a slow link: the second command comes meanwhile.
        if method == "DELETE" or headers.get("x-amz-copy-source"):
            time.sleep(1)
        return status, answer, data

    proxy = HoldingProxy(seaweedfs.endpoint, hold_key="\0", replace_answer=slowly)
    server = s3_server(tmp_path, proxy.endpoint, seaweedfs.region, "--rename", "copy")
    try:
        admin = seaweedfs.admin
        clients = [connect(server, f"{admin.access_key}/{bucket}", admin.secret_key) for _ in range(2)]
        for verb, name in (("DELE", "d.txt"), ("RNTO", "r.txt")):
            store.put_object(Bucket=bucket, Key=name, Body=b"f")
            replies: list[str] = []

            def change(client, index):
                try:
                    if verb == "DELE":
                        replies.append(client.delete(name))
                    else:
                        replies.append(client.rename(name, f"moved-{index}.txt"))
                except ftplib.error_perm as refused:
                    replies.append(str(refused))
            threads = [threading.Thread(target=change, args=(client, index)) for index, client in enumerate(clients)]
            for thread in threads:
                thread.start()
                time.sleep(0.2)
            for thread in threads:
                thread.join()
            assert sorted(reply[:3] for reply in replies) == ["250", "550"], (verb, replies)
        keys = [o["Key"] for o in store.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert len([key for key in keys if key.startswith("moved-")]) == 1, keys
        for client in clients:
            client.quit()
    finally:
        server.stop()
        proxy.close()


def test_an_rmd_that_meets_a_folder_made_inside_meanwhile_is_refused(seaweedfs, bucket, tmp_path):
    """RMD looked at the folder, found it empty, and removed its marker: a folder another
    client made in it meanwhile (257 sent) then stayed, without its parent's marker, and the
    RMD still said 250. As if the MKD came first, the RMD now gets 550 (not empty) and the
    folder keeps its marker."""
    store = seaweedfs.client()
    store.put_object(Bucket=bucket, Key="d/", Body=b"")

    def meanwhile(method, path, headers, status, answer, data):
        if method == "DELETE" and urllib.parse.unquote(path.split("?")[0]).endswith("/d/"):
            store.put_object(Bucket=bucket, Key="d/sub/", Body=b"")
        return status, answer, data

    with proxied_session(seaweedfs, tmp_path, bucket, replace_answer=meanwhile) as client:
        with pytest.raises(ftplib.error_perm, match="^550.*not empty"):
            client.rmd("d")
        assert client.nlst("d") == ["sub"]
        client.quit()
    assert "d/" in [o["Key"] for o in store.list_objects_v2(Bucket=bucket, Prefix="d/").get("Contents", [])]


@pytest.mark.parametrize("clock_ahead", [0, 600])
def test_a_put_stored_with_every_answer_lost_is_reported_stored(seaweedfs, bucket, tmp_path, clock_ahead):
    """A gateway that answers 502 after the store kept the bytes (or a frozen store whose
    answers never come): the single PUT was reported failed (451, "try again") with the
    object stored, and the APPE the client then sent again doubled its bytes. The object's
    Last-Modified was compared with this machine's clock: 10 minutes ahead of the store's, the
    stored PUT was taken for an older object and reported failed."""
    clock = WallClock(tmp_path)
    clock.set(clock_ahead)
    store = seaweedfs.client()
    store.put_object(Bucket=bucket, Key="log.txt", Body=b"A" * 10)

    def lost(method, path, headers, status, answer, data):
        if method == "PUT" and path.split("?")[0].endswith(("/log.txt", "/new.txt")):
            return 502, [("Content-Type", "text/html")], b"<html>Bad Gateway</html>"
        return status, answer, data

    with proxied_session(seaweedfs, tmp_path, bucket, clock=clock, replace_answer=lost) as client:
        assert client.storbinary("APPE log.txt", io.BytesIO(b"B" * 5)).startswith("226")
        assert store.get_object(Bucket=bucket, Key="log.txt")["Body"].read() == b"A" * 10 + b"B" * 5
        assert client.storbinary("STOR new.txt", io.BytesIO(b"new")).startswith("226")
        assert store.get_object(Bucket=bucket, Key="new.txt")["Body"].read() == b"new"
        client.quit()


def test_a_listing_that_does_not_move_on_ends_with_451(seaweedfs, bucket, tmp_path):
    """A listing page that says it is truncated and names as the next position the one just
    asked for: LIST asked for the same page forever (thousands of requests a minute, never
    answered, going on after the client left)."""
    seaweedfs.client().put_object(Bucket=bucket, Key="a.txt", Body=b"a")

    def stuck(method, path, headers, status, answer, data):
        if method == "GET" and "list-type=2" in path and b"<ListBucketResult" in data:
            data = data.replace(b"<IsTruncated>false</IsTruncated>",
                                b"<IsTruncated>true</IsTruncated><NextContinuationToken>again</NextContinuationToken>")
        return status, answer, data

    with proxied_session(seaweedfs, tmp_path, bucket, replace_answer=stuck) as client:
        with pytest.raises(ftplib.error_temp, match="^451.*truncated"):
            client.retrlines("LIST")
        assert client.voidcmd("NOOP").startswith("200")
        client.quit()


@pytest.mark.parametrize("size", [6, 6 * 1024 * 1024])
def test_appe_continues_the_object_as_stored_not_as_cached(seaweedfs, s3ftp, bucket, size):
    """APPE kept as many bytes as a cached size said: after another client grew the object,
    the growth was cut out of it, with 226. Small objects are read back, large ones copied
    server-side; both must start from the object as it is now."""
    admin = seaweedfs.admin
    store = seaweedfs.client()
    first = os.urandom(size)
    store.put_object(Bucket=bucket, Key="log.txt", Body=first)
    client = connect(s3ftp, f"{admin.access_key}/{bucket}", admin.secret_key)
    assert client.size("log.txt") == size  # now cached
    grown = first + b"written by another client\n"
    store.put_object(Bucket=bucket, Key="log.txt", Body=grown)
    client.storbinary("APPE log.txt", io.BytesIO(b"appended\n"))
    assert store.get_object(Bucket=bucket, Key="log.txt")["Body"].read() == grown + b"appended\n"
    client.quit()


def test_abor_ends_a_download_from_a_store_that_froze(seaweedfs, bucket, tmp_path):
    """A store that stops sending in the middle of a download: ABOR's replies waited for
    libcurl's low-speed limit and the retries after it, about a minute, and the session
    answered nothing else meanwhile."""
    data = os.urandom(8 * 1024 * 1024)
    seaweedfs.client().put_object(Bucket=bucket, Key="frozen.bin", Body=data)
    seaweedfs.client().put_object(Bucket=bucket, Key="fine.txt", Body=b"fine")
    proxy = HoldingProxy(seaweedfs.endpoint, hold_key="\0", stall_reads_of=r"/frozen\.bin")
    server = s3_server(tmp_path, proxy.endpoint, seaweedfs.region)
    try:
        admin = seaweedfs.admin
        client = connect(server, f"{admin.access_key}/{bucket}", admin.secret_key)
        conn = client.transfercmd("RETR frozen.bin")
        deadline = time.monotonic() + 10
        while proxy.stalled == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proxy.stalled >= 1
        started = time.monotonic()
        client.sock.sendall(b"ABOR\r\n")
        replies = [client.getline() for _ in range(2)]
        took = time.monotonic() - started
        conn.close()
        assert replies[0].startswith("426") and replies[1].startswith("226"), replies
        assert took < 5, took
        # The session goes on, and so do reads of other objects through the same store.
        out = io.BytesIO()
        client.retrbinary("RETR fine.txt", out.write)
        assert out.getvalue() == b"fine"
        client.quit()
    finally:
        server.stop()
        proxy.close()


@pytest.mark.parametrize("size", [None, 0, 6, 10 * 1024 * 1024])
def test_appe_fails_when_another_client_changes_the_object_meanwhile(seaweedfs, s3ftp, bucket, size):
    """The object an APPE continues was checked only when its bytes were taken in, at the
    upload's start: another client's upload that landed while the APPE's bytes still came
    was replaced at the commit, with 226 (the base missing, empty, read back, or copied
    server-side alike). Now the commit finds the change: 450, and the other upload stays."""
    admin = seaweedfs.admin
    store = seaweedfs.client()
    if size is not None:
        store.put_object(Bucket=bucket, Key="log.txt", Body=os.urandom(size))
    client = connect(s3ftp, f"{admin.access_key}/{bucket}", admin.secret_key)
    client.voidcmd("TYPE I")
    conn = client.transfercmd("APPE log.txt")
    conn.sendall(os.urandom(2 * 1024 * 1024))  # past the first write to the spool
    time.sleep(0.5)
    theirs = b"stored by another client meanwhile\n"
    store.put_object(Bucket=bucket, Key="log.txt", Body=theirs)
    conn.sendall(b"the end\n")
    conn.close()
    with pytest.raises(ftplib.error_temp, match="^450"):
        client.voidresp()
    assert store.get_object(Bucket=bucket, Key="log.txt")["Body"].read() == theirs
    # Sent again, the APPE continues the other client's object.
    client.storbinary("APPE log.txt", io.BytesIO(b"appended\n"))
    assert store.get_object(Bucket=bucket, Key="log.txt")["Body"].read() == theirs + b"appended\n"
    client.quit()


def test_appends_from_two_servers_at_once_all_stay(seaweedfs, bucket, tmp_path):
    """Two ossftp processes on one bucket, a client on each appending to one file as fast as
    it can: each APPE starts from the version it finds and commits over it, so one of two
    that overlap replaced the other's line, with 226 for both (a look just before the commit
    still lost 31 of 80). The store now checks the version as it writes (If-Match): the
    other gets 450 and sends again, and every line answered 226 is in the file."""
    servers = [s3_server(tmp_path / f"s{n}", seaweedfs.endpoint, seaweedfs.region) for n in (1, 2)]
    try:
        admin = seaweedfs.admin
        seaweedfs.client().put_object(Bucket=bucket, Key="shared.log", Body=b"")
        stored: list[bytes] = []
        failures: list[str] = []

        def append(server, tag):
            client = connect(server, f"{admin.access_key}/{bucket}", admin.secret_key)
            for index in range(20):
                line = b"%s%03d\n" % (tag, index)
                for _ in range(100):
                    try:
                        client.storbinary("APPE shared.log", io.BytesIO(line))
                        stored.append(line)
                        break
                    except ftplib.error_temp as error:
                        assert str(error).startswith("450"), error
                        time.sleep(0.02)
                else:
                    failures.append(line.decode())
            client.quit()

        threads = [threading.Thread(target=append, args=(server, tag)) for server, tag in zip(servers, (b"A", b"B"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not failures
        lines = seaweedfs.client().get_object(Bucket=bucket, Key="shared.log")["Body"].read().splitlines(keepends=True)
        assert sorted(lines) == sorted(stored) and len(stored) == 40
    finally:
        for server in servers:
            server.stop()


def test_a_refusal_by_the_store_names_the_file_as_the_client_knows_it(seaweedfs, bucket, tmp_path):
    """An account with a home folder whose key the store lets only read: its upload's 550 named
    the object's key (`users/alice/probe.txt`), telling the account of the bucket's layout
    above its home (the audit's finding)."""
    readonly = seaweedfs.readonly
    account = Account("alice", "a-pass-1", bucket, home_dir="users/alice", access_id=readonly.access_key,
                      access_secret=readonly.secret_key)
    seaweedfs.client().put_object(Bucket=bucket, Key="users/alice/seen.txt", Body=b"x")
    server = OssftpServer(tmp_path / "srv", [account], extra_args=[
        "--provider", "s3", "--endpoint", seaweedfs.endpoint, "--region", seaweedfs.region])
    server.start()
    try:
        client = connect(server, "alice", "a-pass-1")
        for upload in (io.BytesIO(b"small"), io.BytesIO(os.urandom(17 << 20))):
            with pytest.raises(ftplib.error_perm, match="^550") as refused:
                client.storbinary("STOR probe.txt", upload)
            assert "users/alice" not in str(refused.value) and "probe.txt" in str(refused.value), refused.value
        client.quit()
    finally:
        server.stop()


def test_an_account_whose_store_refuses_it_is_named_in_the_log_at_start(seaweedfs, bucket, tmp_path):
    """A config account whose bucket does not exist, or whose secret the store refuses, logged
    in (its password is right) and got 550 for every command, and nothing told the operator.
    The server now asks the store for each account at start and logs those it refuses; the
    account that works, and one whose key may only write (AccessDenied to a read), are not."""
    admin, readonly = seaweedfs.admin, seaweedfs.readonly
    accounts = [
        Account("nob", "n-pass-1", "no-such-bucket-zz", access_id=admin.access_key, access_secret=admin.secret_key),
        Account("badsec", "b-pass-1", bucket, access_id=admin.access_key, access_secret="wrong-" + admin.secret_key),
        Account("fine", "f-pass-1", bucket, access_id=readonly.access_key, access_secret=readonly.secret_key),
    ]
    server = OssftpServer(tmp_path / "srv", accounts, extra_args=[
        "--provider", "s3", "--endpoint", seaweedfs.endpoint, "--region", seaweedfs.region])
    server.start()
    try:
        deadline = time.monotonic() + 30
        while not ("account nob:" in server.log_tail(100_000) and "account badsec:" in server.log_tail(100_000)):
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.2)
        log = server.log_tail(100_000)
        assert "account fine:" not in log
        assert admin.secret_key not in log
        # The login itself stands (the password is right); the commands say why they fail.
        client = connect(server, "nob", "n-pass-1")
        with pytest.raises(ftplib.error_perm, match="^550"):
            client.nlst()
        client.quit()
    finally:
        server.stop()


def test_uploads_carry_a_content_type_by_extension_and_continued_files_keep_theirs(seaweedfs, tmp_path, bucket):
    """Every upload was sent as application/octet-stream (AWS and OSS keep what is sent: a page
    uploaded for a static website was downloaded, not shown), and an APPE or REST+STOR dropped
    the file's Content-Type, Cache-Control and user metadata (s3fs's mode and owner)."""
    sent = {}

    def capture(method, path, headers, body):
        if method in ("PUT", "POST") and "uploadId" not in path and "partNumber" not in path:
            lowered = {k.lower(): v for k, v in headers.items()}
            sent[path.split("?")[0].rsplit("/", 1)[-1]] = lowered.get("content-type")
        return headers, body

    client = seaweedfs.client()
    # Parts of 5 MiB: the 11 MiB continuation goes up as a multipart upload.
    with proxied_session(seaweedfs, tmp_path, bucket, "--part_size_mb", "5", rewrite=capture) as ftp:
        ftp.storbinary("STOR index.html", io.BytesIO(b"<p>hi</p>"))
        ftp.storbinary("STOR photo.JPG", io.BytesIO(b"\xff\xd8"))
        ftp.storbinary("STOR data.bin", io.BytesIO(b"\0"))
        assert sent == {"index.html": "text/html; charset=utf-8", "photo.JPG": "image/jpeg",
                        "data.bin": "application/octet-stream"}
        headers = dict(ContentType="application/x-custom", CacheControl="max-age=7",
                       ContentDisposition="attachment", Metadata={"owner": "bob", "mode": "33261"})
        for name in ("log.txt", "big.txt"):
            client.put_object(Bucket=bucket, Key=name, Body=b"0123456789", **headers)
        ftp.storbinary("APPE log.txt", io.BytesIO(b"tail"))
        ftp.storbinary("STOR big.txt", io.BytesIO(os.urandom(11 << 20)), rest=5)
        for name in ("log.txt", "big.txt"):
            head = client.head_object(Bucket=bucket, Key=name)
            assert head["ContentType"] == "application/x-custom", name
            assert head["CacheControl"] == "max-age=7" and head["ContentDisposition"] == "attachment", name
            assert head["Metadata"] == {"owner": "bob", "mode": "33261"}, name
        assert client.get_object(Bucket=bucket, Key="log.txt")["Body"].read() == b"0123456789tail"


def test_mfmt_through_a_folder_leaves_the_file_it_hides(seaweedfs, s3ftp, bucket):
    """Keys `x` and `x/y` show one folder `x` (MLST, MDTM and SIZE say so), yet MFMT of `x` got
    213 and copied the hidden file `x` onto itself with a new time."""
    client = seaweedfs.client()
    client.put_object(Bucket=bucket, Key="x", Body=b"hidden")
    client.put_object(Bucket=bucket, Key="x/y", Body=b"inside")
    before = client.head_object(Bucket=bucket, Key="x")
    admin = seaweedfs.admin
    ftp = connect(s3ftp, f"{admin.access_key}/{bucket}", admin.secret_key)
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.sendcmd("MFMT 20100101000000 x")
    after = client.head_object(Bucket=bucket, Key="x")
    assert after["Metadata"] == before["Metadata"] == {} and after["ETag"] == before["ETag"]
    ftp.quit()


def test_exact_times_let_rclone_find_nothing_to_send_on_its_second_run(seaweedfs, tmp_path, bucket):
    """rclone sets each file's time with MFMT and reads it back from MLSD, which showed the
    store's Last-Modified: every run sent every file again. With --exact_times listings show
    each file's own time, and a second run sends nothing."""
    from test_interop import rclone_env

    server = s3_server(tmp_path, seaweedfs.endpoint, seaweedfs.region, "--exact_times")
    try:
        source = tmp_path / "source"
        source.mkdir()
        for i in range(20):
            (source / f"f{i:02d}.txt").write_text("x" * (i + 1))
            os.utime(source / f"f{i:02d}.txt", (1_000_000_000 + i * 1000, 1_000_000_000 + i * 1000))
        admin = seaweedfs.admin
        env = rclone_env(server, f"{admin.access_key}/{bucket}", admin.secret_key, tmp_path)
        rclone = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "rclone")
        runs = [subprocess.run([rclone, "copy", str(source), "oss:/d", "-v", "--inplace"], env=env,
                               capture_output=True, text=True, timeout=120) for _ in range(2)]
        assert all(run.returncode == 0 for run in runs), runs
        assert (runs[0].stderr.count("Copied (new)"), runs[1].stderr.count("Copied")) == (20, 0), runs[1].stderr
        ftp = connect(server, f"{admin.access_key}/{bucket}", admin.secret_key)
        facts = dict(ftp.mlsd("d", ["modify"]))
        assert facts["f03.txt"]["modify"] == "20010909023640"  # 1,000,003,000 s
        ftp.quit()
    finally:
        server.stop()


def test_a_store_without_conditional_writes_is_found_out_once_per_process(seaweedfs, tmp_path, bucket):
    """A store is made per login: each FTP session sent its first conditional write, got 501,
    and logged the fallback again. It is found out once per process and bucket; MKD, and STOU
    of a free name, still refuse a name that exists."""
    proxy = HoldingProxy(seaweedfs.endpoint, hold_key="\0", refuse_conditions=True)
    server = s3_server(tmp_path, proxy.endpoint, seaweedfs.region)
    try:
        admin = seaweedfs.admin
        sessions = [connect(server, f"{admin.access_key}/{bucket}", admin.secret_key) for _ in range(3)]
        for number, ftp in enumerate(sessions):
            assert ftp.mkd(f"d{number}") == f"/d{number}"
        assert proxy.conditions_refused == 1
        with pytest.raises(ftplib.error_perm, match="^550"):
            sessions[2].mkd("d0")
        assert server.log_tail().count("no conditional writes") == 1
        for ftp in sessions:
            ftp.quit()
    finally:
        server.stop()
        proxy.close()


def test_an_object_with_more_metadata_than_libcurl_takes_is_not_worth_another_try(seaweedfs, s3ftp, bucket):
    """An object another tool stored with 120 KB of metadata (SeaweedFS keeps it) cannot be
    read: libcurl refuses its answer. The reply said "Storage unavailable, try again"; it says
    what is wrong, which trying again does not mend."""
    client = seaweedfs.client()
    client.put_object(Bucket=bucket, Key="heavy.bin", Body=b"x", Metadata={"big": "w" * 120_000})
    admin = seaweedfs.admin
    ftp = connect(s3ftp, f"{admin.access_key}/{bucket}", admin.secret_key)
    with pytest.raises(ftplib.error_temp) as refused:
        ftp.size("heavy.bin")
    assert "larger than it may be" in str(refused.value) and "try again" not in str(refused.value)
    ftp.quit()


def test_rmd_of_a_folder_holding_only_unnameable_keys_says_why(seaweedfs, s3ftp, bucket):
    """A folder whose only keys hold a CR or LF lists empty (such names cannot be shown), and
    RMD said just "directory not empty"."""
    client = seaweedfs.client()
    client.put_object(Bucket=bucket, Key="k5/cr\rname", Body=b"x")
    admin = seaweedfs.admin
    ftp = connect(s3ftp, f"{admin.access_key}/{bucket}", admin.secret_key)
    assert ftp.nlst("k5") == []
    with pytest.raises(ftplib.error_perm, match="^550") as refused:
        ftp.rmd("k5")
    assert "no path can name" in str(refused.value)
    client.put_object(Bucket=bucket, Key="k5/plain", Body=b"x")
    with pytest.raises(ftplib.error_perm, match="^550") as refused:
        ftp.rmd("k5")
    assert "no path can name" not in str(refused.value)
    ftp.quit()



def test_downloads_left_unread_do_not_hold_up_the_servers_other_requests(seaweedfs, s3ftp, bucket):
    """Each download's ranged GETs hold one of the few threads every store request of the
    server shares while their FTP client does not read: 16 stalled clients (well within one
    address's limit) held them all, and every other session's SIZE, LIST or RETR waited for the
    stall timeout, five minutes (the audit's finding). A body left unread for a few seconds
    now ends its transfer, and the rest of its range is asked for again when the client reads
    on: the stalled downloads still end whole and right."""
    admin = seaweedfs.admin
    user, password = f"{admin.access_key}/{bucket}", admin.secret_key
    data = os.urandom(24 << 20)
    seaweedfs.client().put_object(Bucket=bucket, Key="big.bin", Body=data)
    seaweedfs.client().put_object(Bucket=bucket, Key="small.txt", Body=b"small")
    stalled = []
    for _ in range(20):
        client = connect(s3ftp, user, password)
        client.voidcmd("TYPE I")
        stalled.append(client)
    channels = []
    for client in stalled:
        host, port = ftplib.parse227(client.sendcmd("PASV"))
        data_socket = socket.socket()
        data_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        data_socket.connect((host, port))
        client.sendcmd("RETR big.bin")  # 150, then nothing is read
        channels.append(data_socket)
    time.sleep(3)
    other = connect(s3ftp, user, password)
    started = time.monotonic()
    assert other.size("small.txt") == 5
    out = io.BytesIO()
    other.retrbinary("RETR small.txt", out.write)
    assert out.getvalue() == b"small"
    assert time.monotonic() - started < 20, time.monotonic() - started
    other.quit()
    # Read on after the pause: the whole file, byte for byte, for every client.
    for client, data_socket in zip(stalled, channels):
        received = bytearray()
        while chunk := data_socket.recv(1 << 20):
            received += chunk
        data_socket.close()
        assert client.voidresp().startswith("226")
        assert hashlib.sha256(received).digest() == hashlib.sha256(data).digest()
        client.quit()


def test_a_refused_continuation_token_fails_the_listing_and_is_never_a_start_key(seaweedfs, bucket, tmp_path):
    """A store that refused a listing's continuation token (one that expired, say) with 400
    InvalidArgument was taken for a store without ListObjectsV2: the listing went on with V1,
    the token sent as the key to start after, and the client got names twice (a thousand of
    them in a folder of 2,114). The listing now fails with 451, and first pages stay on V2."""
    for key in ("a.txt", "z.txt"):
        seaweedfs.client().put_object(Bucket=bucket, Key=key, Body=b"x")
    pages: list[str] = []

    def count(method, path, headers, data):
        if method == "GET" and ("list-type=2" in path or "marker=" in path):
            pages.append(path)
        return headers, data

    def refuse_token(method, path, headers, status, answer, data):
        if method == "GET" and "continuation-token=" in path:
            body = b"<Error><Code>InvalidArgument</Code><Message>The continuation token is not valid.</Message></Error>"
            return 400, [("Content-Type", "application/xml")], body
        if method == "GET" and "list-type=2" in path and b"<ListBucketResult" in data:
            data = data.replace(b"<IsTruncated>false</IsTruncated>",
                                b"<IsTruncated>true</IsTruncated><NextContinuationToken>b.txt</NextContinuationToken>")
        return status, answer, data

    with proxied_session(seaweedfs, tmp_path, bucket, rewrite=count, replace_answer=refuse_token) as client:
        for _ in range(2):
            with pytest.raises(ftplib.error_temp, match="^451.*InvalidArgument"):
                client.nlst()
        assert client.voidcmd("NOOP").startswith("200")
        client.quit()
    assert not [path for path in pages if "marker=" in path and "list-type=2" not in path], pages
    assert sum("list-type=2" in path and "continuation-token=" not in path for path in pages) == 2, pages


def test_a_store_without_listobjectsv2_is_listed_page_by_page_with_markers(seaweedfs, bucket, tmp_path):
    """A store that refuses ListObjectsV2 is listed with V1 and its markers, over more than one
    page, every name once; the marker sent is the key itself."""
    client = seaweedfs.client()
    names = [f"k{index:05d}.txt" for index in range(1205)]
    for name in names:
        client.put_object(Bucket=bucket, Key=f"many/{name}", Body=b"")
    markers: list[str] = []

    def no_v2(method, path, headers, status, answer, data):
        if method == "GET" and "list-type=2" in path:
            body = b"<Error><Code>InvalidArgument</Code><Message>list-type is not supported</Message></Error>"
            return 400, [("Content-Type", "application/xml")], body
        if method == "GET" and "marker=" in path:
            markers.append(path)
        return status, answer, data

    with proxied_session(seaweedfs, tmp_path, bucket, replace_answer=no_v2) as ftp:
        listed = [name.rsplit("/", 1)[-1] for name in ftp.nlst("many")]
        assert sorted(listed) == names, len(listed)
        ftp.quit()
    assert markers and all("ossftp" not in path for path in markers), markers


def test_a_secret_typed_as_the_user_name_is_not_logged(seaweedfs, s3ftp, bucket):
    """An S3 secret often holds a '/', so one typed into the user field has the shape of
    `access_key/bucket`, and the failed login's log line (and the console's log) showed it
    whole. A failed login names its user only when the store has that key id."""
    secret_like = "wJalrXUtnFEMI/K7MDENG" + secrets.token_hex(8)
    known_user = f"{seaweedfs.admin.access_key}/{bucket}"
    for user in (secret_like, known_user):
        refused_login(s3ftp, user, ftplib.error_perm, "^530")
    log = s3ftp.log_tail(200_000)
    assert secret_like not in log and secret_like.split("/")[1] not in log, log
    # A key id the store has (it told a wrong secret for it) is named, as before.
    assert f"user={known_user}" in log, log


def test_a_secret_typed_as_the_user_name_is_not_logged_when_the_store_is_away(tmp_path):
    """The login line for a store that cannot be reached logged the user name as typed: a
    secret with a '/' typed into the user field, whole."""
    from netutil import free_port

    server = OssftpServer(tmp_path / "srv", [], extra_args=[
        "--provider", "s3", "--endpoint", f"http://{HOST}:{free_port()}", "--region", "us-east-1"])
    server.start()
    try:
        secret_like = "wJalrXUtnFEMI/K7MDENG" + secrets.token_hex(8)
        refused_login(server, secret_like, ftplib.error_temp, "^421")
        log = server.log_tail(200_000)
        assert "login while the account's storage cannot be reached" in log, log
        assert secret_like not in log and secret_like.split("/")[1] not in log, log
    finally:
        server.stop()


def refused_login(server: OssftpServer, user: str, error: type, reply: str) -> None:
    """A login as `user` with a wrong secret, refused with `error` matching `reply`."""
    client = ftplib.FTP()
    client.connect(HOST, server.port, timeout=60)
    with pytest.raises(error, match=reply):
        client.login(user, "not-the-secret")
    client.close()
