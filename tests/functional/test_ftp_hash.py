"""HASH, XMD5 and XCRC answer from checksums the store keeps, and say plainly when it keeps none."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os

from netutil import HOST

MiB = 1024 * 1024


def login(server, user, password) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect(HOST, server.port, timeout=30)
    client.login(user, password)
    return client


def test_hash_feat_and_opts(server):
    # FEAT offers HASH only for checksums the store keeps: the MD5 of S3 ETags (SeaweedFS),
    # nothing on the local store; CRC-64 only where OSS is a provider.
    srv, user, password = server
    with login(srv, user, password) as client:
        feat = client.sendcmd("FEAT")
        assert "CRC64" not in feat
        assert _refused(client, "OPTS HASH CRC64").startswith("504")
        assert _refused(client, "OPTS HASH SHA-512").startswith("504")
        if "/" in user:  # SeaweedFS
            assert " HASH MD5*" in feat
            assert client.sendcmd("OPTS HASH MD5") == "200 MD5"
            assert client.sendcmd("OPTS HASH") == "200 MD5"
        else:
            assert "HASH" not in feat
            assert _refused(client, "OPTS HASH MD5") == "504 No store here keeps checksums."


def test_hash_of_single_put_is_its_md5_on_s3_and_refused_elsewhere(server):
    srv, user, password = server
    small = os.urandom(200_000)
    big = os.urandom(40 * MiB)  # above the part size: uploaded in parts, its ETag is no MD5
    with login(srv, user, password) as client:
        client.storbinary("STOR small.bin", io.BytesIO(small))
        client.storbinary("STOR big.bin", io.BytesIO(big))
        client.mkd("folder")
        if "/" in user:  # SeaweedFS
            md5 = hashlib.md5(small).hexdigest()
            assert client.sendcmd("HASH small.bin") == f"213 MD5 0-{len(small)} {md5} /small.bin"
            assert client.sendcmd("XMD5 small.bin") == f"250 {md5.upper()}"
        else:
            reply = _refused(client, "HASH small.bin")
            assert reply.startswith("504") and "local store" in reply
        assert "uploaded in parts" in _refused(client, "HASH big.bin")
        assert _refused(client, "XCRC small.bin").startswith("504 No store keeps a CRC-32")
        assert _refused(client, "HASH missing.bin").startswith("550")
        assert _refused(client, "HASH folder").startswith("550")


def _refused(client: ftplib.FTP, command: str) -> str:
    try:
        reply = client.sendcmd(command)
    except ftplib.error_perm as error:
        return str(error)
    raise AssertionError(f"{command} answered {reply}")
