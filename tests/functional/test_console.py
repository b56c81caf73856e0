"""The web console's HTTP side: the JSON API, who may use it, the loopback-only default,
validated edits of config.json, SIGHUP reload, and /metrics during transfers."""

from __future__ import annotations

import ftplib
import io
import json
import os
import secrets
import signal
import socket
import stat
import subprocess
import threading
import time

import psutil
import pytest

from console_client import ConsoleClient
from netutil import HOST, free_port
from ossftp_server import Account, OssftpServer, hash_password, ossftp_binary

PASSWORD = "console-" + secrets.token_urlsafe(8)
TOKEN = "tok-" + secrets.token_urlsafe(16)


def start(tmp_path, accounts, **launcher) -> OssftpServer:
    server = OssftpServer(tmp_path / "srv", accounts, console=True, launcher_config=launcher)
    return server.start()


@pytest.fixture
def open_console(tmp_path, alice):
    """A console with no password or token: the default."""
    server = start(tmp_path, [alice])
    yield server
    server.stop()


@pytest.fixture
def protected(tmp_path, alice):
    server = start(tmp_path, [alice], password=hash_password(PASSWORD), token=TOKEN)
    yield server
    server.stop()


def metric(samples: dict[str, float], name: str, **labels) -> float:
    """The sample of `name` whose labels include `labels` (0 when absent)."""
    for key, value in samples.items():
        base, _, rest = key.partition("{")
        if base != name:
            continue
        if all(f'{k}="{v}"' in rest for k, v in labels.items()):
            return value
    return 0.0


class SlowSource(io.RawIOBase):
    """`chunks` chunks of 64 KiB, `delay` seconds apart: a transfer that lasts."""

    def __init__(self, chunks: int, delay: float):
        self.left, self.delay = chunks, delay

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.left == 0:
            return 0
        time.sleep(self.delay)
        self.left -= 1
        n = min(len(buffer), 65536)
        buffer[:n] = b"x" * n
        return n


def login(server: OssftpServer, account: Account) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect(HOST, server.port, timeout=15)
    client.login(account.username, account.password)
    return client


def test_default_console_listens_on_loopback_only_and_refuses_changes(open_console, alice):
    listening = [c.laddr for c in psutil.Process(open_console.proc.pid).net_connections(kind="tcp")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port == open_console.web_port]
    assert listening and all(address.ip == "127.0.0.1" for address in listening), listening
    client = ConsoleClient(open_console.web_port)
    status = client.get_json("/api/status")
    assert status["ftpAddress"] == f"{HOST}:{open_console.port}"
    assert status["sessions"] == 0
    # Nothing changes without a password or token, even from loopback.
    code, body = client.post_json("/api/config", {"key": "idle_timeout", "value": "120"})
    assert code == 403 and "password or token" in body["error"]
    code, _ = client.post_json("/api/reload", {})
    assert code == 403
    assert json.loads(open_console.config_path.read_text())["modules"]["ossftp"].get("idle_timeout") is None
    # The page says so, and its edit buttons are disabled.
    page = client.request("GET", "/")[2].decode()
    assert "Set a console password or token to edit settings." in page
    # A page elsewhere that points its own name at 127.0.0.1 (DNS rebinding) gets nothing:
    # only loopback names are answered.
    for host in ("rebind.attacker.example", f"rebind.attacker.example:{open_console.web_port}", "127.0.0.1.evil.example",
                 "[::ffff:10.0.0.1]", "127.1"):
        for path in ("/api/log", "/api/config", "/metrics", "/"):
            code, _, body = client.request("GET", path, headers={"Host": host})
            assert code == 403 and b"loopback" in body, (host, path, code)
    # Loopback however the browser writes it ([::ffff:7f00:1] was refused).
    for host in (f"127.0.0.1:{open_console.web_port}", f"localhost:{open_console.web_port}", "[::1]", "LOCALHOST.",
                 f"[::ffff:7f00:1]:{open_console.web_port}", "[0:0:0:0:0:0:0:1]"):
        assert client.request("GET", "/api/status", headers={"Host": host})[0] == 200, host


def test_console_beyond_loopback_without_credentials_refuses_to_start(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"modules": {"launcher": {"control_port": free_port(), "address": "0.0.0.0"},
                                              "ossftp": {"provider": "local", "local_root": str(tmp_path)}}}))
    result = subprocess.run([str(ossftp_binary()), "serve", "--config", str(config), "--port", "0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 78, result
    assert "modules.launcher.address" in result.stderr and "password" in result.stderr, result.stderr


@pytest.mark.parametrize("address, refusal", [
    # A name that reads like loopback passed a test of its text, and was then resolved as the
    # console started: any address a resolver gave it, with no password.
    ("127.0.0.1.example.invalid", '"127.0.0.1.example.invalid" is not an IP address'),
    ("127.1", '"127.1" is not an IP address'),
    ("[::1]", '"[::1]" is not an IP address (drop the brackets)'),
    ("", '"" is not an IP address'),
    # Loopback however it is written: these were refused as "beyond loopback".
    ("0:0:0:0:0:0:0:1", None), ("::ffff:127.0.0.1", None), ("127.0.0.2", None),
    ("::2", "beyond loopback"), ("::ffff:10.0.0.1", "beyond loopback"),
])
def test_the_console_address_is_an_address_judged_loopback_by_its_value(tmp_path, address, refusal):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"modules": {"launcher": {"control_port": free_port(), "address": address},
                                              "ossftp": {"provider": "local", "local_root": str(tmp_path)}}}))
    result = subprocess.run([str(ossftp_binary()), "config", "check", str(config)],
                            capture_output=True, text=True, timeout=30)
    if refusal is None:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode != 0 and refusal in result.stderr, result.stderr


def guess_in_parallel(server: OssftpServer, count: int) -> list[int]:
    """Wrong console passwords sent at once; their statuses."""
    results: list[int] = []
    guessers = [threading.Thread(target=lambda n=n: results.append(ConsoleClient(server.web_port).login(f"guess{n}")))
                for n in range(count)]
    for guesser in guessers:
        guesser.start()
    for guesser in guessers:
        guesser.join()
    return results


def login_from(server: OssftpServer, address: str, password: str) -> int:
    """A console login sent from `address` (any of 127.0.0.0/8); its status."""
    import http.client

    connection = http.client.HTTPConnection(HOST, server.web_port, timeout=60, source_address=(address, 0))
    try:
        connection.request("POST", "/login", f"password={password}".encode(),
                           {"Content-Type": "application/x-www-form-urlencoded"})
        return connection.getresponse().status
    finally:
        connection.close()


def test_protected_console_needs_login_or_token(protected):
    anonymous = ConsoleClient(protected.web_port)
    for path in ("/api/status", "/api/sessions", "/api/config", "/api/log", "/api/errors", "/metrics"):
        assert anonymous.request("GET", path)[0] == 401, path
        # HEAD is answered wherever GET is, as GET would be (RFC 9110 §9.3.2; it was 404).
        assert anonymous.request("HEAD", path)[0] == 401, path
    assert anonymous.request("HEAD", "/login")[0] == 200
    status, body = ConsoleClient(protected.web_port, token=TOKEN).request("HEAD", "/api/status")[::2]
    assert status == 200 and body == b""
    status, headers, _ = anonymous.request("GET", "/")
    assert status == 303 and headers["Location"] == "/login"
    assert anonymous.post_json("/api/config", {"key": "idle_timeout", "value": "60"})[0] == 401

    started = time.monotonic()
    assert anonymous.login("wrong") == 401
    assert time.monotonic() - started >= 0.9, "a wrong console password is answered slowly"
    assert anonymous.cookie is None
    # Guesses sent in parallel are checked one at a time, a second apart.
    started = time.monotonic()
    assert guess_in_parallel(protected, 4) == [401] * 4 and time.monotonic() - started >= 4

    browser = ConsoleClient(protected.web_port)
    assert browser.login(PASSWORD) == 303
    assert browser.cookie
    assert browser.get_json("/api/status")["version"]
    # A cookie alone is not enough to change state: the console's own header must come too.
    assert browser.post_json("/api/config", {"key": "idle_timeout", "value": "60"}, csrf=False)[0] == 403

    api = ConsoleClient(protected.web_port, token=TOKEN)
    assert api.get_json("/api/status")["sessions"] == 0
    assert ConsoleClient(protected.web_port, token=TOKEN + "x").request("GET", "/api/status")[0] == 401


def test_an_edit_refuses_keys_given_twice_in_its_body_or_in_config_json(protected):
    """A body with "key" twice was taken with the first. A config.json with a key twice (edited
    by hand since the start) was rewritten keeping the last, where ossftp had read the first:
    an unrelated edit changed an account's permissions."""
    client = ConsoleClient(protected.web_port, token=TOKEN)
    status, _, body = client.request("POST", "/api/config",
                                     b'{"key": "idle_timeout", "key": "max_connections", "value": "60"}',
                                     {"Content-Type": "application/json"})
    assert status == 400 and json.loads(body)["error"] == '"key" is given twice', body
    text = protected.config_path.read_text()
    edited = text.replace('"modules"', '"modul\\u0065s": {}, "modules"', 1)
    assert edited != text
    protected.config_path.write_text(edited)
    code, body = client.post_json("/api/config", {"key": "idle_timeout", "value": "60"})
    assert code == 422 and '"modules" is given twice' in body["error"], body
    assert protected.config_path.read_text() == edited


def test_an_edit_writes_through_a_linked_config_json(protected):
    # config.json kept elsewhere (a deployment's shared folder) behind a link: the edit lands
    # there, and the link stays a link.
    real = protected.config_path.parent / "shared" / "config.json"
    real.parent.mkdir()
    real.write_text(protected.config_path.read_text())
    protected.config_path.unlink()
    protected.config_path.symlink_to(real)
    client = ConsoleClient(protected.web_port, token=TOKEN)
    code, body = client.post_json("/api/config", {"key": "idle_timeout", "value": "77"})
    assert code == 200, body
    assert protected.config_path.is_symlink()
    assert json.loads(real.read_text())["modules"]["ossftp"]["idle_timeout"] == 77
    assert sorted(p.name for p in real.parent.iterdir()) == ["config.json"]


def test_an_edit_that_cannot_replace_config_json_changes_nothing(protected):
    """An edit whose config.json could not be replaced (a file bind-mounted into a container,
    or immutable) answered 422 and was in force all the same; and the server then took the
    deleted staging file for its config.json, so every reload and edit failed until a restart."""
    client = ConsoleClient(protected.web_port, token=TOKEN)
    config = protected.config_path
    os.chmod(config, 0o640)
    before = config.read_text()
    subprocess.run(["mount", "--bind", str(config), str(config)], check=True)
    try:
        code, body = client.post_json("/api/config", {"key": "idle_timeout", "value": "77"})
        shown = client.get_json("/api/config")
        assert {s["key"]: s["value"] for s in shown["settings"]}["idle_timeout"] != "77", shown
        assert code == 422 and "cannot replace" in body["error"] and "unchanged" in body["error"], body
        assert ".console-edit" not in json.dumps(shown)
        assert client.post_json("/api/reload", {})[0] == 200
    finally:
        subprocess.run(["umount", str(config)], check=True)
    assert config.read_text() == before
    assert sorted(p.name for p in config.parent.iterdir() if "console-edit" in p.name) == []
    # Once the file can be replaced, an edit goes through, and keeps the file's mode.
    code, body = client.post_json("/api/config", {"key": "idle_timeout", "value": "77"})
    assert code == 200, body
    assert json.loads(config.read_text())["modules"]["ossftp"]["idle_timeout"] == 77
    assert stat.S_IMODE(config.stat().st_mode) == 0o640


def test_config_edits_are_validated_written_and_applied(protected):
    client = ConsoleClient(protected.web_port, token=TOKEN)
    before = protected.config_path.read_text()
    code, body = client.post_json("/api/config", {"key": "idle_timeout", "value": "soon"})
    assert code == 422 and "idle_timeout" in body["error"], body
    assert body["error"].startswith(str(protected.config_path)) and ".console-edit" not in body["error"], body
    code, body = client.post_json("/api/config", {"key": "idle_timeout", "value": "-5"})
    assert code == 422 and "idle_timeout" in body["error"], body
    code, body = client.post_json("/api/config", {"key": "provider", "value": "s3"})
    assert code == 422 and "cannot be edited" in body["error"], body
    assert protected.config_path.read_text() == before, "a refused edit leaves config.json alone"

    code, body = client.post_json("/api/config", {"key": "idle_timeout", "value": "2"})
    assert code == 200, body
    assert {s["key"]: s["value"] for s in body["settings"]}["idle_timeout"] == "2"
    assert json.loads(protected.config_path.read_text())["modules"]["ossftp"]["idle_timeout"] == 2
    # In force for the next session: it is closed after 2 idle seconds.
    ftp = login(protected, protected.accounts[0])
    time.sleep(4)
    with pytest.raises((ftplib.error_temp, EOFError, OSError)):
        ftp.voidcmd("NOOP")


def test_an_edit_of_a_key_a_flag_sets_is_refused_and_a_number_is_taken(tmp_path, alice):
    """A key given on the command line wins over config.json: editing it answered 200 and
    logged "set" while nothing changed. A number sent as a JSON number was refused with a
    message that said the body was no JSON object."""
    server = OssftpServer(tmp_path / "srv", [alice], console=True,
                          launcher_config={"password": hash_password(PASSWORD), "token": TOKEN},
                          extra_args=["--max_connections_per_ip", "2"])
    server.start()
    try:
        client = ConsoleClient(server.web_port, token=TOKEN)
        before = server.config_path.read_text()
        code, body = client.post_json("/api/config", {"key": "max_connections_per_ip", "value": "5"})
        assert code == 422 and "--max_connections_per_ip" in body["error"], body
        assert server.config_path.read_text() == before
        code, body = client.post_json("/api/config", {"key": "max_connections", "value": 100})
        assert code == 200, body
        assert json.loads(server.config_path.read_text())["modules"]["ossftp"]["max_connections"] == 100
    finally:
        server.stop()


def test_config_shown_with_secrets_masked(tmp_path, alice):
    bob = Account("bob", "b-" + secrets.token_urlsafe(8), "bucket2", hashed=False)
    # Passwords take no env: or file: reference: these are the passwords themselves, and were
    # shown as they are.
    carol = Account("carol", "env:C-" + secrets.token_urlsafe(8), "bucket3", hashed=False)
    dave = Account("dave", "file:D-" + secrets.token_urlsafe(8), "bucket4", hashed=False)
    server = start(tmp_path, [alice, bob, carol, dave], password=hash_password(PASSWORD), token=TOKEN)
    try:
        assert login(server, carol) and login(server, dave)
        config = ConsoleClient(server.web_port, token=TOKEN).get_json("/api/config")
        text = config["masked"]
        assert bob.password not in text and TOKEN not in text and "pbkdf2-sha256$" not in text
        assert carol.password not in text and dave.password not in text
        assert text.count("********") >= 6  # four passwords, the console's password and token
        assert '"login_username" : "bob"' in text or '"login_username": "bob"' in text
    finally:
        server.stop()


def test_metrics_move_during_a_transfer(protected, alice):
    client = ConsoleClient(protected.web_port, token=TOKEN)
    before = client.metrics()
    with pytest.raises(ftplib.error_perm):
        login(protected, Account(alice.username, "wrong", alice.bucket))
    ftp = login(protected, alice)
    done = threading.Event()
    errors = []

    def upload():
        try:
            ftp.storbinary("STOR slow.bin", io.BufferedReader(SlowSource(60, 0.05), 65536))
        except Exception as error:  # reported below
            errors.append(error)
        done.set()

    threading.Thread(target=upload, daemon=True).start()
    time.sleep(1.0)
    during = client.metrics()
    transfers = client.get_json("/api/transfers")
    time.sleep(0.8)
    later = client.metrics()
    assert done.wait(30) and not errors, errors
    after = client.metrics()
    ftp.quit()

    assert metric(during, "ossftp_ftp_sessions") >= 1
    moved_during = metric(during, "ossftp_ftp_bytes_total", direction="in")
    assert 0 < moved_during < 60 * 65536, "bytes counted while the upload runs"
    assert metric(later, "ossftp_ftp_bytes_total", direction="in") > moved_during
    assert metric(after, "ossftp_ftp_bytes_total", direction="in") - metric(before, "ossftp_ftp_bytes_total",
                                                                             direction="in") == 60 * 65536
    assert transfers and transfers[0]["transfer"]["direction"] == "upload"
    assert transfers[0]["transfer"]["path"] == "/slow.bin" and transfers[0]["user"] == alice.username
    assert metric(after, "ossftp_ftp_transfers_total", direction="upload", outcome="completed") \
        == metric(before, "ossftp_ftp_transfers_total", direction="upload", outcome="completed") + 1
    assert metric(after, "ossftp_ftp_logins_total", outcome="success") \
        == metric(before, "ossftp_ftp_logins_total", outcome="success") + 1
    assert metric(after, "ossftp_ftp_logins_total", outcome="failure") \
        == metric(before, "ossftp_ftp_logins_total", outcome="failure") + 1
    assert metric(after, "ossftp_spool_budget_bytes") == 1024 << 20


def test_console_shows_the_name_stou_chose(protected, alice):
    client = ConsoleClient(protected.web_port, token=TOKEN)
    ftp = login(protected, alice)
    ftp.storbinary("STOR taken.bin", io.BytesIO(b"first"))
    done = threading.Event()
    replies = []

    def upload():
        replies.append(ftp.storbinary("STOU taken.bin", io.BufferedReader(SlowSource(30, 0.05), 65536)))
        done.set()

    threading.Thread(target=upload, daemon=True).start()
    time.sleep(1.0)
    transfers = client.get_json("/api/transfers")
    assert done.wait(30) and replies[0].startswith("226"), replies
    names = ftp.nlst()
    ftp.quit()
    assert transfers and transfers[0]["transfer"]["path"] == "/taken.bin.1", transfers
    assert sorted(names) == ["taken.bin", "taken.bin.1"]


def reload_with(server: OssftpServer, change) -> None:
    config = json.loads(server.config_path.read_text())
    change(config)
    server.config_path.write_text(json.dumps(config))
    before = server.log_tail().count("configuration reloaded")
    os.kill(server.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while server.log_tail().count("configuration reloaded") == before and time.monotonic() < deadline:
        time.sleep(0.1)


class SettingsFromFileServer(OssftpServer):
    """The harness's server without its --loglevel and --port flags, which would win over the
    file (which names the same)."""

    def command(self) -> list[str]:
        command = super().command()
        for flag in ("--loglevel", "--port"):
            index = command.index(flag)
            command = command[:index] + command[index + 2:]
        return command


def test_a_reload_applies_the_log_level_and_names_the_port_still_bound(tmp_path, alice):
    """A reload with a new log_level said "configuration reloaded" and kept the old level; and
    a port changed and changed back was said to be "still on" the port of the first change,
    which was never bound."""
    server = SettingsFromFileServer(tmp_path / "srv", [alice]).start()
    try:
        port = server.port
        reload_with(server, lambda c: c["modules"]["ossftp"].update(log_level="DEBUG"))
        ftp = login(server, alice)
        ftp.voidcmd("NOOP")
        ftp.quit()
        assert " debug " in server.log_tail()
        reload_with(server, lambda c: c["modules"]["ossftp"].update(port=port + 1))
        reload_with(server, lambda c: c["modules"]["ossftp"].update(port=port + 2))
        assert server.log_tail().count(f"still on 127.0.0.1:{port}\n") == 2
    finally:
        server.stop()


def test_ten_wrong_passwords_from_one_address_lock_it_out(protected):
    # Past ten failures in ten minutes, even the right password is refused from there (429).
    assert guess_in_parallel(protected, 10) == [401] * 10
    assert ConsoleClient(protected.web_port).login(PASSWORD) == 429
    # The token still works: scripts are not locked out by a guesser's failures.
    assert ConsoleClient(protected.web_port, token=TOKEN).request("GET", "/api/status")[0] == 200


def test_guesses_spread_over_loopback_addresses_lock_out_passwords_not_the_token(protected):
    """Ten guesses from each of 127.0.0.0/8's addresses went unchecked: a local user could guess
    on without end. Past a hundred failures from all addresses in ten minutes, password logins
    are refused everywhere (429); the token still gets in."""
    results: list[int] = []
    guessers = [threading.Thread(target=lambda a=f"127.0.1.{n}": results.extend(
                    login_from(protected, a, "guess") for _ in range(5))) for n in range(1, 21)]
    for guesser in guessers:
        guesser.start()
    for guesser in guessers:
        guesser.join()
    assert results == [401] * 100  # five from each of twenty addresses: under each one's limit
    assert login_from(protected, "127.0.2.1", "guess") == 429
    assert login_from(protected, "127.0.0.1", PASSWORD) == 429
    assert ConsoleClient(protected.web_port, token=TOKEN).request("GET", "/api/status")[0] == 200


def test_a_rotated_console_password_or_token_applies_at_reload(protected):
    # A leaked credential is rotated by editing config.json and SIGHUP: at once, not after a
    # restart; and the logins made with the old password end.
    browser = ConsoleClient(protected.web_port)
    assert browser.login(PASSWORD) == 303
    assert browser.request("GET", "/api/status")[0] == 200
    reload_with(protected, lambda c: c["modules"]["launcher"].update(
        password=hash_password("new-" + PASSWORD), token="new-" + TOKEN))
    assert browser.request("GET", "/api/status")[0] == 401
    assert ConsoleClient(protected.web_port).login(PASSWORD) == 401
    assert ConsoleClient(protected.web_port).login("new-" + PASSWORD) == 303
    assert ConsoleClient(protected.web_port, token=TOKEN).request("GET", "/api/status")[0] == 401
    assert ConsoleClient(protected.web_port, token="new-" + TOKEN).request("GET", "/api/status")[0] == 200


def test_sighup_reloads_accounts_without_dropping_sessions(protected, alice):
    client = ConsoleClient(protected.web_port, token=TOKEN)
    ftp = login(protected, alice)
    ftp.cwd("/")
    carol = Account("carol", "c-" + secrets.token_urlsafe(8), alice.bucket)
    config = json.loads(protected.config_path.read_text())
    config["modules"]["accounts"].append(carol.config_entry())
    protected.config_path.write_text(json.dumps(config))
    os.kill(protected.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "configuration reloaded" not in protected.log_tail() and time.monotonic() < deadline:
        time.sleep(0.1)
    login(protected, carol).quit()
    ftp.voidcmd("NOOP")  # the session from before the reload goes on
    sessions = client.get_json("/api/sessions")
    assert any(s["user"] == alice.username for s in sessions)

    # A broken file on SIGHUP: refused, logged, and the running configuration stays.
    protected.config_path.write_text('{"modules": {"ossftp": {"provider": "nowhere"}}}')
    os.kill(protected.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "reload refused" not in protected.log_tail() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "reload refused" in protected.log_tail() and "provider" in protected.log_tail()
    login(protected, carol).quit()
    errors = client.get_json("/api/errors")
    assert any("reload refused" in e["message"] for e in errors)
    ftp.quit()


def test_store_metrics_and_errors_with_request_ids(tmp_path, seaweedfs):
    bucket = "metrics-" + secrets.token_hex(4)
    seaweedfs.client().create_bucket(Bucket=bucket)
    server = OssftpServer(tmp_path / "srv", [], console=True, launcher_config={"token": TOKEN},
                          extra_args=["--provider", "s3", "--endpoint", seaweedfs.endpoint, "--loglevel", "DEBUG"])
    server.start()
    try:
        client = ConsoleClient(server.web_port, token=TOKEN)
        ftp = ftplib.FTP()
        ftp.connect(HOST, server.port, timeout=30)
        ftp.login(f"{seaweedfs.admin.access_key}/{bucket}", seaweedfs.admin.secret_key)
        ftp.storbinary("STOR a.bin", io.BytesIO(b"a" * 100_000))
        with pytest.raises(ftplib.error_perm):
            ftp.size("missing.bin")
        ftp.retrbinary("RETR a.bin", lambda _: None)
        ftp.quit()
        # A wrong secret: the store refuses, and the console lists the refusal with its request id.
        with pytest.raises(ftplib.error_perm):
            wrong = ftplib.FTP()
            wrong.connect(HOST, server.port, timeout=30)
            wrong.login(f"{seaweedfs.admin.access_key}/{bucket}", "not-the-secret")
        samples = client.metrics()
        assert metric(samples, "ossftp_store_requests_total", operation="PutObject", outcome="ok") >= 1
        assert metric(samples, "ossftp_store_requests_total", operation="GetObject", outcome="ok") >= 1
        assert metric(samples, "ossftp_store_request_duration_seconds_count", operation="PutObject") >= 1
        assert metric(samples, "ossftp_store_errors_total", code="SignatureDoesNotMatch") >= 1
        assert metric(samples, "ossftp_cache_lookups_total", result="miss") >= 1
        errors = client.get_json("/api/errors")
        refused = [e for e in errors if e["metadata"].get("code") == "SignatureDoesNotMatch"]
        assert refused and refused[-1]["metadata"].get("request_id") not in (None, "", "-"), errors
        assert seaweedfs.admin.secret_key not in json.dumps(client.get_json("/api/log"))
        # One line per event: the store's lines name the FTP session they served and the
        # store's request id; no secret is ever written.
        log = server.log_path.read_text()
        store_lines = [line for line in log.splitlines() if "store request operation=PutObject" in line
                       or ("store request" in line and "operation=PutObject" in line)]
        assert store_lines, log[-3000:]
        assert all("session=" in line and "request_id=" in line and "request_id=-" not in line
                   for line in store_lines), store_lines
        assert seaweedfs.admin.secret_key not in log and "not-the-secret" not in log
    finally:
        server.stop()


def test_console_port_in_use_stops_the_server_with_a_message(tmp_path):
    import socket
    taken = socket.socket()
    taken.bind((HOST, 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"modules": {"ossftp": {"provider": "local", "local_root": str(tmp_path)}}}))
        result = subprocess.run([str(ossftp_binary()), "serve", "--config", str(config), "--port", "0",
                                 "--web_port", str(port)], capture_output=True, text=True, timeout=30)
    finally:
        taken.close()
    assert result.returncode == 1, result
    # Named with the setting that moves it (it showed `bind(descriptor:ptr:bytes:)`, a function's signature).
    assert f"the web console address 127.0.0.1:{port} is in use by another program; choose another port with " \
        "--web_port (control_port in config.json's launcher), or 0 to turn the console off" in result.stderr, result.stderr


def test_sighup_reloads_the_tls_certificate_for_new_sessions(tmp_path, alice, tls_files):
    import ssl

    server = OssftpServer(tmp_path / "srv", [alice], extra_config=dict(tls_files)).start()
    try:
        def connect() -> tuple[ftplib.FTP_TLS, bytes]:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            client = ftplib.FTP_TLS(context=context)
            client.connect(HOST, server.port, timeout=15)
            client.auth()
            client.login(alice.username, alice.password)
            return client, client.sock.getpeercert(binary_form=True)

        def der(path: str) -> bytes:
            return ssl.PEM_cert_to_DER_cert(open(path).read())

        before, certificate = connect()
        assert certificate == der(tls_files["tls_certificate"])
        folder = tmp_path / "renewed"
        folder.mkdir()
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=renewed", "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                       check=True, capture_output=True)
        config = json.loads(server.config_path.read_text())
        config["modules"]["ossftp"].update(tls_certificate=str(folder / "cert.pem"), tls_key=str(folder / "key.pem"))
        server.config_path.write_text(json.dumps(config))
        os.kill(server.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "configuration reloaded" not in server.log_tail() and time.monotonic() < deadline:
            time.sleep(0.1)
        after, renewed = connect()
        assert renewed == der(str(folder / "cert.pem"))
        # The session from before keeps its TLS connection, and transfers over it.
        before.prot_p()
        before.storbinary("STOR kept.txt", io.BytesIO(b"still here"))
        after.quit()
        before.quit()
    finally:
        server.stop()


def test_idle_console_connections_are_bounded_and_leave_ftp_alone(open_console, alice):
    """Idle connections to the console were never closed nor capped: enough of them used up
    the process's descriptors, and FTP logins failed with them. At most 64 are served at once
    (more wait in the listen backlog), and an idle one is closed after 30 s."""
    import socket

    process = psutil.Process(open_console.proc.pid)
    before = process.num_fds()
    idle = [socket.create_connection((HOST, open_console.web_port), timeout=5) for _ in range(300)]
    try:
        time.sleep(1)
        assert process.num_fds() - before <= 64 + 4, process.num_fds() - before
        ftp = ftplib.FTP()
        ftp.connect(HOST, open_console.port, timeout=10)
        ftp.login(alice.username, alice.password)
        ftp.quit()
        # The first ones served are closed once idle for 30 s; those waiting then get their turn.
        idle[0].settimeout(40)
        assert idle[0].recv(1) == b""
    finally:
        for connection in idle:
            connection.close()
    status, _, _ = ConsoleClient(open_console.web_port).request("GET", "/api/status")
    assert status == 200


def test_guesses_from_other_addresses_do_not_hold_up_the_right_password(protected):
    """Checks were one at a time for everyone, a wrong one holding the next for a second, so a
    few addresses guessing under their ban limit held the administrator's right password for
    as long as they went on (35 s for 36 guesses). They are one at a time per address now."""
    results: list[int] = []
    guessers = [threading.Thread(target=lambda a=address: results.append(login_from(protected, a, "guess")))
                for address in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5") for _ in range(8)]
    for guesser in guessers:
        guesser.start()
    time.sleep(0.5)
    started = time.monotonic()
    assert login_from(protected, "127.0.0.1", PASSWORD) == 303
    assert time.monotonic() - started < 3
    for guesser in guessers:
        guesser.join()
    assert results == [401] * 32


def test_a_password_removed_at_reload_says_the_console_stays_locked(protected):
    # The console stays protected until a restart; its login page said "no password is set:
    # read-only on loopback, open the status page", which then answered 401.
    reload_with(protected, lambda c: c["modules"]["launcher"].pop("password"))
    anonymous = ConsoleClient(protected.web_port)
    status, _, body = anonymous.request("GET", "/login")
    assert status == 200 and b"stays protected until ossftp restarts" in body
    assert b"read-only on loopback" not in body
    assert anonymous.request("GET", "/api/status")[0] == 401
    assert ConsoleClient(protected.web_port, token=TOKEN).request("GET", "/api/status")[0] == 200


def test_the_bearer_scheme_is_taken_in_any_case_and_a_bad_value_is_named(protected):
    """`Authorization: bearer …` was refused (RFC 9110 §11.1: the scheme is case-insensitive);
    a value of 120.5 or null got "expected a JSON object"."""
    anonymous = ConsoleClient(protected.web_port)
    for scheme in ("bearer", "BEARER"):
        status, _, _ = anonymous.request("GET", "/api/status", headers={"Authorization": f"{scheme} {TOKEN}"})
        assert status == 200, scheme
    client = ConsoleClient(protected.web_port, token=TOKEN)
    for value in (120.5, None):
        code, body = client.post_json("/api/config", {"key": "idle_timeout", "value": value})
        assert code == 400 and body["error"] == '"value" must be a whole number or text', body


def test_a_clean_stop_logs_no_error(tmp_path, alice):
    """Each SIGTERM logged "Waiting on child channel: CancellationError()" as an error (the
    console's server was cancelled, not shut down), and the console listed it among the
    recent errors of a server that had none. A browser's idle keep-alive connection does not
    hold the stop up."""
    server = start(tmp_path, [alice])
    try:
        console = ConsoleClient(server.web_port)
        assert console.get_json("/api/status") is not None
        idle = socket.create_connection((HOST, server.web_port))
        idle.sendall(b"GET /api/status HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert idle.recv(65536).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert server.stop() == 0
        assert time.monotonic() - started < 10
        idle.close()
        errors = [line for line in server.log_tail(100_000).splitlines() if " error " in line]
        assert errors == [], errors
    finally:
        server.stop()


def test_the_log_level_is_set_from_the_console_as_the_seeds_was(tmp_path, alice):
    """The seed's console set the log level; here a reload applied it from config.json, but the
    console refused to edit it."""
    server = OssftpServer(tmp_path / "srv", [alice], console=True, launcher_config={"token": TOKEN}, loglevel=None)
    server.start()
    try:
        client = ConsoleClient(server.web_port, token=TOKEN)
        shown = {s["key"]: s["value"] for s in client.get_json("/api/config")["settings"]}
        assert shown["log_level"] == "INFO"
        code, body = client.post_json("/api/config", {"key": "log_level", "value": "LOUD"})
        assert code == 422 and "modules.ossftp.log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL" in body["error"], body
        assert "debug" not in server.log_tail()
        code, body = client.post_json("/api/config", {"key": "log_level", "value": "DEBUG"})
        assert code == 200, body
        assert json.loads(server.config_path.read_text())["modules"]["ossftp"]["log_level"] == "DEBUG"
        session = ftplib.FTP()
        session.connect(HOST, server.port, timeout=15)
        session.login(alice.username, alice.password)
        session.nlst()
        session.quit()
        assert " debug ossftp:" in server.log_tail()
    finally:
        server.stop()


def test_wrong_tokens_are_logged_once_a_minute_with_their_count(protected):
    """A wrong bearer token got 401 and no log line, and tokens are checked at once (no delay):
    guessing one went unseen. The first is said, then one line a minute with the count."""
    wrong = ConsoleClient(protected.web_port, token="tok-" + secrets.token_urlsafe(16))
    for _ in range(5):
        assert wrong.request("GET", "/api/status")[0] == 401
    log = protected.log_tail()
    assert log.count("console: wrong token") == 1 and "refused=1 since the last such line" in log, log
    assert wrong.token not in log
