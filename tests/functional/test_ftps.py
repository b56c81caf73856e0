"""FTPS on OpenSSL: explicit (AUTH TLS) and implicit, PROT P data connections, session reuse
on demand, TLS 1.2 and newer only, and the policy replies of RFC 4217."""

from __future__ import annotations

import ftplib
import io
import os
import signal
import socket
import ssl
import subprocess
import time

import pytest

from netutil import HOST, free_port
from ossftp_server import Account, OssftpServer
from rawftp import RawFTP

MiB = 1024 * 1024


@pytest.fixture
def certificate(tls_files):
    """The session's self-signed certificate and key (conftest's tls_files)."""
    return tls_files["tls_certificate"], tls_files["tls_key"]


def tls_server(tmp_path, certificate, **policy) -> OssftpServer:
    cert, key = certificate
    implicit = free_port()
    server = OssftpServer(tmp_path / "srv", [Account("alice", "alice-pass", "bucket1")],
                          extra_args=["--implicit_tls_port", str(implicit)],
                          extra_config={"tls_certificate": str(cert), "tls_key": str(key), **policy})
    server.implicit_port = implicit
    server.start()
    return server


def client_context(**kwargs) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    for name, value in kwargs.items():
        setattr(context, name, value)
    return context


def ftps(server) -> ftplib.FTP_TLS:
    client = ftplib.FTP_TLS(context=client_context())
    client.connect(HOST, server.port, timeout=20)
    client.login("alice", "alice-pass")
    client.prot_p()
    return client


def private_data(client: ftplib.FTP_TLS, command: str, **wrap) -> ssl.SSLSocket:
    """EPSV, `command` (its 150), then the data connection's TLS, resuming the control
    connection's session."""
    port = int(client.sendcmd("EPSV").split("|")[3])
    raw = socket.create_connection((HOST, port), timeout=20)
    assert client.sendcmd(command).startswith("150")
    return client.context.wrap_socket(raw, server_hostname=HOST, session=client.sock.session, **wrap)


def test_explicit_ftps_with_ftplib_curl_and_lftp(tmp_path, certificate, subprocess_env):
    server = tls_server(tmp_path, certificate)
    try:
        body = os.urandom(5 * MiB + 11)
        client = ftps(server)
        assert "AUTH TLS" in client.sendcmd("FEAT")
        client.storbinary("STOR secret.bin", io.BytesIO(body))
        out = io.BytesIO()
        client.retrbinary("RETR secret.bin", out.write)
        assert out.getvalue() == body
        assert client.nlst() == ["secret.bin"]
        client.quit()
        assert (server.bucket_dir() / "secret.bin").read_bytes() == body
        target = tmp_path / "curl.bin"
        base = f"alice:alice-pass@{HOST}"
        for url, flags in ((f"ftp://{base}:{server.port}/secret.bin", ["--ssl-reqd"]),
                           (f"ftps://{base}:{server.implicit_port}/secret.bin", [])):
            result = subprocess.run(["curl", "-sS", "-k", *flags, "-o", str(target), url], env=subprocess_env,
                                    capture_output=True, timeout=60)
            assert result.returncode == 0, result.stderr
            assert target.read_bytes() == body
        upload = tmp_path / "up.bin"
        upload.write_bytes(body[:1000])
        result = subprocess.run(["curl", "-sS", "-k", "--ssl-reqd", "-T", str(upload),
                                 f"ftp://{base}:{server.port}/up.bin"], env=subprocess_env, capture_output=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        script = ("set ssl:verify-certificate no; set ftp:ssl-force yes; set ftp:ssl-protect-data yes; "
                  "set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 20; "
                  f"put {upload} -o lftp.bin; get lftp.bin -o {tmp_path / 'lftp-back.bin'}; ls; bye")
        result = subprocess.run(["lftp", "-u", "alice,alice-pass", "-p", str(server.port), HOST, "-e", script],
                                env=subprocess_env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert (tmp_path / "lftp-back.bin").read_bytes() == body[:1000]
    finally:
        server.stop()


def test_session_reuse_can_be_required(tmp_path, certificate, subprocess_env):
    server = tls_server(tmp_path, certificate, tls_require_reuse=True)
    try:
        (server.bucket_dir() / "f.bin").write_bytes(b"reused")
        # curl resumes the control connection's session on its data connections.
        result = subprocess.run(["curl", "-sS", "-k", "--ssl-reqd", f"ftp://alice:alice-pass@{HOST}:{server.port}/f.bin"],
                                env=subprocess_env, capture_output=True, timeout=60)
        assert result.returncode == 0 and result.stdout == b"reused", result.stderr
        # Python's ftplib never resumes: its data connection is refused, and an upload so refused
        # stores nothing (it used to replace the file with an empty one, with 226).
        client = ftps(server)
        with pytest.raises((ftplib.Error, OSError, ssl.SSLError)):
            client.retrbinary("RETR f.bin", lambda _: None)
        client.close()
        client = ftps(server)
        with pytest.raises((ftplib.Error, OSError, ssl.SSLError)):
            client.storbinary("STOR f.bin", io.BytesIO(b"replacement"))
        client.close()
        assert (server.bucket_dir() / "f.bin").read_bytes() == b"reused"
    finally:
        server.stop()


def test_required_reuse_lets_every_transfer_of_a_session_resume(tmp_path, certificate, subprocess_env):
    """A TLS 1.3 client uses each session ticket once (RFC 8446 Appendix C.4), and data
    connections hand out none: with the handshake's two tickets spent, curl's later data
    connections on one control connection made full handshakes and were refused (curl exit 18
    for downloads, 55 for uploads). The control connection now hands a fresh ticket before
    each protected data connection."""
    server = tls_server(tmp_path, certificate, tls_require_reuse=True)
    try:
        names = [f"f{index}.bin" for index in range(4)]
        for index, name in enumerate(names):
            (server.bucket_dir() / name).write_bytes(os.urandom(100_000 + index))
        base = f"ftp://alice:alice-pass@{HOST}:{server.port}"
        outputs = [tmp_path / f"down-{name}" for name in names]
        # curl makes all four transfers on one control connection.
        command = ["curl", "-sS", "-k", "--ssl-reqd", "--tlsv1.3", "-w", "%{num_connects}\n"]
        for name, output in zip(names, outputs):
            command += [f"{base}/{name}", "-o", str(output)]
        result = subprocess.run(command, env=subprocess_env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        # The control connection and a data connection, then a data connection each.
        assert result.stdout.split() == ["2", "1", "1", "1"], result.stdout
        for name, output in zip(names, outputs):
            assert output.read_bytes() == (server.bucket_dir() / name).read_bytes()
        uploads = tmp_path / "up"
        uploads.mkdir()
        for index in range(3):
            (uploads / f"u{index}.bin").write_bytes(os.urandom(50_000 + index))
        result = subprocess.run(["curl", "-sS", "-k", "--ssl-reqd", "--tlsv1.3", "-T", f"{uploads}/{{u0,u1,u2}}.bin",
                                 f"{base}/up/", "--ftp-create-dirs"], env=subprocess_env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        for index in range(3):
            name = f"u{index}.bin"
            assert (server.bucket_dir() / "up" / name).read_bytes() == (uploads / name).read_bytes()
    finally:
        server.stop()


def test_urgent_data_on_a_tls_control_connection_leaves_the_session_working(tmp_path, certificate):
    """RFC 959 §4.1.3's abort sends the Telnet Synch's DM byte as TCP urgent data. Kept inline
    (as plain control connections need), on a TLS connection that byte landed inside the TLS
    records: the server answered with an alert and dropped the session and its transfer. Under
    TLS the kernel now takes the byte out of the stream; the IP and ABOR inside TLS work."""
    server = tls_server(tmp_path, certificate)
    try:
        (server.bucket_dir() / "big.bin").write_bytes(os.urandom(16 * MiB))
        for kind in ("explicit", "implicit"):
            if kind == "explicit":
                client = ftps(server)
            else:
                client = ftplib.FTP_TLS(context=client_context(), timeout=20)
                client.host = HOST
                raw = socket.create_connection((HOST, server.implicit_port), timeout=20)
                client.sock = client.context.wrap_socket(raw, server_hostname=HOST)
                client.af = client.sock.family
                client.file = client.sock.makefile("r", encoding="utf-8")
                client.getresp()
                ftplib.FTP.login(client, "alice", "alice-pass")
                client.prot_p()
            client.voidcmd("TYPE I")
            data = private_data(client, "RETR big.bin")
            data.recv(65536)
            client.sock.sendall(b"\xff\xf4\xff")  # IAC IP IAC, inside TLS
            with socket.socket(fileno=os.dup(client.sock.fileno())) as plain:
                plain.send(b"\xf2", socket.MSG_OOB)  # DM as urgent data, beside TLS
            client.sock.sendall(b"ABOR\r\n")
            replies = [client.getline().strip()[:3]]
            if replies[0] == "426":
                replies.append(client.getline().strip()[:3])
            assert replies[-1] in ("225", "226"), (kind, replies)
            data.close()
            assert client.sendcmd("NOOP").startswith("200"), kind
            out = io.BytesIO()
            client.retrbinary("RETR big.bin", out.write)
            assert out.getvalue() == (server.bucket_dir() / "big.bin").read_bytes()
            client.quit()
    finally:
        server.stop()


def test_only_this_connections_session_passes_the_reuse_check(tmp_path, certificate):
    """tls_require_reuse proves a data connection comes from the client holding the control
    connection: a session resumed from another connection (one that only did AUTH TLS) is no proof."""
    server = tls_server(tmp_path, certificate, tls_require_reuse=True)
    try:
        (server.bucket_dir() / "f.bin").write_bytes(b"mine")
        client = ftps(server)
        # Another connection, with the same client context (Python resumes only within one).
        stranger = ftplib.FTP_TLS(context=client.context)
        stranger.connect(HOST, server.port, timeout=20)
        stranger.auth()
        stranger.voidcmd("PBSZ 0")  # a reply read over TLS: the session (and its tickets) is there
        client.voidcmd("TYPE I")
        outcomes = {}
        for name, session in (("foreign", stranger.sock.session), ("own", client.sock.session)):
            port = int(client.sendcmd("EPSV").split("|")[3])
            raw = socket.create_connection((HOST, port), timeout=20)
            assert client.sendcmd("RETR f.bin").startswith("150")
            got = b""
            try:
                data = client.context.wrap_socket(raw, server_hostname=HOST, session=session)
                while chunk := data.recv(65536):
                    got += chunk
                data.close()
            except (OSError, ssl.SSLError):
                raw.close()
            outcomes[name] = (client.getline()[:3], got)
        # 425 with the reason, in the reply and in the log (it was a bare 426 "connection closed").
        assert outcomes["foreign"] == ("425", b"")
        assert outcomes["own"] == ("226", b"mine")
        client.quit()
        stranger.close()
        assert "did not resume the control connection's TLS session" in server.log_path.read_text()
    finally:
        server.stop()


def test_an_upload_cut_without_close_notify_is_not_stored(tmp_path, certificate):
    """A FIN anyone on the path can forge must not end a private upload as if complete."""
    server = tls_server(tmp_path, certificate)
    try:
        client = ftps(server)
        client.voidcmd("TYPE I")
        for clean in (False, True):
            data = private_data(client, "STOR cut.bin")
            data.sendall(b"x" * 100_000)
            if clean:
                data.unwrap().close()  # close_notify, then the FIN
            else:
                data.shutdown(socket.SHUT_WR)  # the FIN alone
            reply = client.getline()
            data.close()
            if clean:
                assert reply.startswith("226") and (server.bucket_dir() / "cut.bin").stat().st_size == 100_000
            else:
                assert reply.startswith("426") and not (server.bucket_dir() / "cut.bin").exists()
        client.quit()
    finally:
        server.stop()


def test_an_upload_closed_before_its_handshake_is_not_stored(tmp_path, certificate):
    """Under PROT P, a data connection closed before any TLS (a FIN alone, from the client or
    from anyone who took the passive port first) ended the upload as an empty file, with 226,
    over the file that was there."""
    server = tls_server(tmp_path, certificate)
    try:
        victim = server.bucket_dir() / "victim.bin"
        victim.write_bytes(b"v" * 8000)
        client = ftps(server)
        client.voidcmd("TYPE I")
        for closed_before_command in (False, True):
            port = int(client.sendcmd("EPSV").split("|")[3])
            raw = socket.create_connection((HOST, port), timeout=20)
            if closed_before_command:
                raw.close()
                time.sleep(0.3)
            assert client.sendcmd("STOR victim.bin").startswith("150")
            raw.close()
            reply = client.getline()
            assert reply[:3] in ("425", "426"), reply
            assert victim.read_bytes() == b"v" * 8000
        assert client.voidcmd("NOOP").startswith("200")
        assert "data connection lost: " in server.log_tail() and "before its TLS handshake" in server.log_tail()
        client.quit()
    finally:
        server.stop()


def test_a_download_to_a_client_that_stopped_reading_ends(tmp_path, certificate):
    """Under PROT P, a download to a client that no longer reads: ABOR, and the stall
    watchdog, closed the data connection only once its close_notify was sent, which never
    happened; the 426 waited for the client to go (the stall timeout for ABOR, forever for the
    watchdog), holding the session. Then ABOR still waited 5 s for the close_notify in about a
    third of tries: the kernel's buffer was full while NIO's was not. An aborted transfer's
    close no longer waits for its close_notify at all."""
    cert, key = certificate
    server = OssftpServer(tmp_path / "srv", [Account("alice", "alice-pass", "bucket1")],
                          extra_config={"tls_certificate": str(cert), "tls_key": str(key),
                                        "transfer_stall_timeout": 3})
    server.start()
    try:
        (server.bucket_dir() / "big.bin").write_bytes(os.urandom(32 * MiB))
        client = ftps(server)
        client.voidcmd("TYPE I")
        for ending in ["ABOR"] * 6 + ["stall"]:
            data = private_data(client, "RETR big.bin")
            data.recv(1000)
            time.sleep(0.5)  # the buffers between fill up
            started = time.monotonic()
            if ending == "ABOR":
                client.putcmd("ABOR")
                replies = [client.getline()[:3], client.getline()[:3]]
                assert replies == ["426", "226"], replies
            else:
                assert client.getline().startswith("426")
            # The stall watchdog takes its 3 s first.
            assert time.monotonic() - started < (2 if ending == "ABOR" else 5), ending
            data.close()
        assert client.voidcmd("NOOP").startswith("200")
        client.quit()
    finally:
        server.stop()


def test_an_empty_download_still_gets_its_handshake_and_close_notify(tmp_path, certificate):
    server = tls_server(tmp_path, certificate)
    try:
        (server.bucket_dir() / "empty").write_bytes(b"")
        (server.bucket_dir() / "two").write_bytes(b"ab")
        client = ftps(server)
        client.voidcmd("TYPE I")
        for command in ("RETR empty", "REST 2", "RETR two"):
            if command.startswith("REST"):
                client.sendcmd(command)
                continue
            # Without a handshake this raises SSLEOFError; without close_notify, recv does.
            data = private_data(client, command, suppress_ragged_eofs=False)
            assert data.recv(100) == b""
            data.close()
            assert client.voidresp().startswith("226"), command
        with pytest.raises(ftplib.error_perm, match="^501"):
            client.sendcmd("PBSZ abc")
        client.quit()
    finally:
        server.stop()


def test_policy_replies_and_plaintext_after_auth(tmp_path, certificate):
    server = tls_server(tmp_path, certificate, tls_require_login=True, tls_require_data=True)
    try:
        with RawFTP(server.port) as c:
            assert c.cmd("PBSZ 0").code == 503
            assert c.cmd("PROT P").code == 503
            assert c.cmd("USER alice").code == 530  # TLS required before login
            # Plaintext pipelined behind AUTH TLS is discarded, never obeyed: whole lines, and a
            # partial one that would otherwise prefix the first encrypted command.
            assert c.send_raw(b"AUTH TLS\r\nUSER alice\r\nDELE x").code == 234
            secure = client_context().wrap_socket(c.sock, server_hostname=HOST)
            reader = secure.makefile("rb")
            secure.sendall(b"PASS alice-pass\r\n")
            assert reader.readline().startswith(b"503")  # the USER before the handshake did not count
            for line, code in ((b"PROT P", b"503"), (b"PBSZ 0", b"200"), (b"PROT S", b"536"), (b"PROT C", b"534"),
                               (b"CCC", b"534"), (b"PROT P", b"200"), (b"USER alice", b"331"),
                               (b"PASS alice-pass", b"230")):
                secure.sendall(line + b"\r\n")
                assert reader.readline().startswith(code), line
            secure.close()
    finally:
        server.stop()


def test_prot_p_after_epsv_cannot_carry_data_in_clear(tmp_path, certificate):
    """EPSV under PROT C made a plain listener; PROT P then RETR sent the file through it in
    clear, with tls_require_data on. PROT now closes a data connection set up under the other
    level: the transfer needs a new EPSV, made under PROT P."""
    server = tls_server(tmp_path, certificate, tls_require_data=True)
    try:
        (server.bucket_dir() / "hello.txt").write_bytes(b"hello world")
        client = ftplib.FTP_TLS(context=client_context())
        client.connect(HOST, server.port, timeout=20)
        client.login("alice", "alice-pass")
        assert client.sendcmd("PBSZ 0").startswith("200")
        plain_port = int(client.sendcmd("EPSV").split("|")[3])
        assert client.sendcmd("PROT P") == "200 Data connections are private. Send PASV, EPSV, PORT or EPRT again."
        with pytest.raises(ftplib.error_temp, match="^425"):
            client.sendcmd("RETR hello.txt")
        with pytest.raises(OSError):
            socket.create_connection((HOST, plain_port), timeout=2).close()
        secure = private_data(client, "RETR hello.txt")
        assert secure.recv(100) == b"hello world"
        secure.close()
        assert client.voidresp().startswith("226")
        client.quit()
    finally:
        server.stop()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_old_tls_versions_are_refused(tmp_path, certificate):
    server = tls_server(tmp_path, certificate)
    try:
        # Positive control: TLS 1.2 gets the implicit listener's 220.
        modern = client_context()
        modern.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection((HOST, server.implicit_port), timeout=10) as raw:
            assert modern.wrap_socket(raw, server_hostname=HOST).recv(100).startswith(b"220")
        # TLS 1.1 and older, which this client is allowed to offer (security level 0), are refused.
        old = client_context()
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        with socket.create_connection((HOST, server.implicit_port), timeout=10) as raw:
            with pytest.raises(ssl.SSLError, match="(?i)protocol|version"):
                old.wrap_socket(raw, server_hostname=HOST).recv(100)
        # TLS 1.2 without forward secrecy or without AEAD (static RSA, CBC with SHA-1) is refused.
        for ciphers in ("AES128-SHA:@SECLEVEL=0", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA"):
            weak = client_context()
            weak.maximum_version = ssl.TLSVersion.TLSv1_2
            weak.set_ciphers(ciphers)
            with socket.create_connection((HOST, server.implicit_port), timeout=10) as raw:
                with pytest.raises(ssl.SSLError, match="(?i)handshake|cipher"):
                    weak.wrap_socket(raw, server_hostname=HOST).recv(100)
    finally:
        server.stop()


def test_data_connections_end_with_close_notify(tmp_path, certificate):
    # A download's end must be told apart from a cut connection: the server sends close_notify
    # (a reader that refuses ragged EOFs raises SSLEOFError otherwise).
    server = tls_server(tmp_path, certificate)
    try:
        body = os.urandom(1 * MiB + 5)
        client = ftps(server)
        client.storbinary("STOR n.bin", io.BytesIO(body))
        client.voidcmd("TYPE I")
        data = private_data(client, "RETR n.bin", suppress_ragged_eofs=False)
        got = bytearray()
        while chunk := data.recv(65536):  # b"" only after close_notify
            got += chunk
        data.close()
        assert bytes(got) == body and client.voidresp().startswith("226")
        client.quit()
    finally:
        server.stop()


def test_abor_before_the_data_handshake_is_answered_at_once(tmp_path, certificate):
    """A client that connects its data socket but never handshakes (FileZilla waiting on a
    certificate prompt), then cancels: the close that ABOR asks for is not held for a handshake."""
    server = tls_server(tmp_path, certificate)
    try:
        (server.bucket_dir() / "f.bin").write_bytes(b"x" * 1000)
        client = ftps(server)
        client.voidcmd("TYPE I")
        for command in ("RETR f.bin", "LIST", "STOR g.bin"):
            port = int(client.sendcmd("EPSV").split("|")[3])
            raw = socket.create_connection((HOST, port), timeout=20)
            assert client.sendcmd(command).startswith("150")
            started = time.monotonic()
            client.putcmd("ABOR")
            replies = [client.getline()[:3], client.getline()[:3]]
            assert time.monotonic() - started < 3, command
            assert replies[-1] == "226" and replies[0] in ("426", "226"), (command, replies)
            raw.close()
        assert not (server.bucket_dir() / "g.bin").exists()
        client.quit()
    finally:
        server.stop()


def test_a_data_connection_dropped_before_its_handshake_holds_nothing_up(tmp_path, certificate):
    # A client that dies while setting up a protected data connection (connected, never
    # handshaken): the transfer ends, and a SIGTERM afterwards stops the server at once,
    # not after the shutdown's grace period.
    server = tls_server(tmp_path, certificate)
    try:
        client = ftps(server)
        client.storbinary("STOR five.bin", io.BytesIO(os.urandom(5 * MiB)))
        client.voidcmd("TYPE I")
        port = int(client.sendcmd("EPSV").split("|")[3])
        raw = socket.create_connection((HOST, port), timeout=20)
        client.putcmd("RETR five.bin")
        assert client.getline().startswith("150")
        time.sleep(1)
        raw.close()
        client.sock.close()
        time.sleep(0.5)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=60) == 0
        assert time.monotonic() - started < 10, server.log_tail()
    finally:
        server.stop()


def test_a_data_connection_never_handshaken_ends_after_the_data_connection_timeout(tmp_path, certificate):
    # Connected and silent (no ClientHello): the transfer waited for the stall timeout (300 s),
    # not for the time a client has to set up a data connection.
    cert, key = certificate
    server = OssftpServer(tmp_path / "srv", [Account("alice", "alice-pass", "bucket1")],
                          extra_config={"tls_certificate": str(cert), "tls_key": str(key), "data_connection_timeout": 3})
    server.start()
    try:
        client = ftps(server)
        client.storbinary("STOR there.bin", io.BytesIO(b"x" * 1000))
        for command in ("STOR up.bin", "RETR there.bin"):
            client.voidcmd("TYPE I")
            port = int(client.sendcmd("EPSV").split("|")[3])
            raw = socket.create_connection((HOST, port), timeout=20)
            started = time.monotonic()
            client.putcmd(command)
            reply = client.getline()
            while reply.startswith("150"):
                reply = client.getline()
            assert reply[:1] == "4", reply
            assert time.monotonic() - started < 15, reply
            raw.close()
        assert not (server.bucket_dir() / "up.bin").exists()
        client.quit()
    finally:
        server.stop()


def test_a_client_that_leaves_before_its_handshake_is_let_go_at_once(tmp_path, certificate):
    """On the implicit port, a client that sent nothing or half a ClientHello and then its FIN
    was held 5 s (its queued 220 waited for a handshake that can no longer come), counted
    against the per-address limit: 40 such made the next client get 421. As on the explicit
    port and on plain FTP, it is let go at once."""
    server = tls_server(tmp_path, certificate)
    half_hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
    try:
        for port, before in ((server.implicit_port, b""), (server.implicit_port, half_hello),
                             (server.port, b"AUTH TLS\r\n" + half_hello)):
            with socket.create_connection((HOST, port), timeout=10) as raw:
                if port == server.port:
                    assert raw.recv(100).startswith(b"220")
                raw.sendall(before)
                if port == server.port:
                    time.sleep(0.2)  # the 234, then the half hello
                raw.shutdown(socket.SHUT_WR)
                started = time.monotonic()
                while raw.recv(4096):
                    pass
                assert time.monotonic() - started < 2, (port, before)
    finally:
        server.stop()


def test_a_handshake_that_never_comes_is_given_up_on(tmp_path, certificate):
    """A connection to the implicit port that sends nothing, or AUTH TLS and then nothing, was
    held for the idle timeout and 5 s more (its 421 could not go out before a handshake):
    with the default 300 s, 32 of them locked their address out for five minutes. A control
    connection's handshake gets the idle timeout, at most 30 s, and then the connection
    closes."""
    cert, key = certificate
    implicit = free_port()
    server = OssftpServer(tmp_path / "srv", [Account("alice", "alice-pass", "bucket1")],
                          extra_args=["--implicit_tls_port", str(implicit), "--idle_timeout", "3"],
                          extra_config={"tls_certificate": str(cert), "tls_key": str(key)})
    server.start()
    try:
        for port in (implicit, server.port):
            with socket.create_connection((HOST, port), timeout=20) as raw:
                started = time.monotonic()
                if port == server.port:
                    assert raw.recv(100).startswith(b"220")
                    raw.sendall(b"AUTH TLS\r\n")
                    assert raw.recv(100).startswith(b"234")
                while raw.recv(4096):
                    pass
                assert time.monotonic() - started < 5, port
    finally:
        server.stop()
