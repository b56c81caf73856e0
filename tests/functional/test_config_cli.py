"""The command line around config.json: `ossftp config check`, `ossftp passwd`, and how
`ossftp serve` refuses a bad file (the field's path, what is wrong, and the exit status)."""

from __future__ import annotations

import datetime
import hashlib
import json
import socket
import subprocess
from pathlib import Path

import pytest

from netutil import HOST, free_port
from ossftp_server import Account, OssftpServer, ossftp_binary

EX_CONFIG = 78


def run(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(ossftp_binary()), *args], input=stdin, capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def write_config(tmp_path: Path, server: dict, accounts: list[dict] | None = None) -> Path:
    (tmp_path / "data" / "bkt").mkdir(parents=True, exist_ok=True)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"modules": {
        "ossftp": {"local_root": str(tmp_path / "data"), "spool_dir": str(tmp_path / "spool"), **server},
        "accounts": accounts if accounts is not None else [
            {"login_username": "alice", "login_password": "wonder", "bucket_name": "bkt", "permissions": "read-only"}],
    }}))
    return path


def test_passwd_prints_a_hash_that_pbkdf2_reproduces():
    result = run("passwd", "--iterations", "1000", stdin="correct horse\n")
    assert result.returncode == 0, result.stderr
    scheme, iterations, salt, key = result.stdout.strip().split("$")
    assert scheme == "pbkdf2-sha256" and iterations == "1000"
    assert hashlib.pbkdf2_hmac("sha256", b"correct horse", bytes.fromhex(salt), 1000, 32).hex() == key
    assert "correct horse" not in result.stdout
    empty = run("passwd", stdin="\n")
    assert empty.returncode != 0 and "empty" in empty.stderr
    # A Latin-1 password was hashed as U+FFFD, which no login can send (PASS must be UTF-8).
    latin1 = subprocess.run([str(ossftp_binary()), "passwd"], input=b"p\xe4ss\n", capture_output=True, timeout=60)
    assert latin1.returncode != 0 and b"not valid UTF-8" in latin1.stderr and latin1.stdout == b""
    crlf = run("passwd", "--iterations", "1000", stdin="p\u00e4ss\r\n")
    _, _, salt, key = crlf.stdout.strip().split("$")
    assert hashlib.pbkdf2_hmac("sha256", "p\u00e4ss".encode(), bytes.fromhex(salt), 1000, 32).hex() == key


def test_check_explains_a_valid_file_without_its_secrets(tmp_path):
    path = write_config(tmp_path, {"port": 2121}, accounts=[
        {"login_username": "alice", "login_password": "wonder", "bucket_name": "bkt", "permissions": "read-only"},
        {"login_username": "cam", "login_password": run("passwd", "--iterations", "1000", stdin="pw\n").stdout.strip(),
         "bucket_name": "bkt", "home_dir": "in", "permissions": "upload-only"}])
    result = run("config", "check", str(path))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "FTP on 127.0.0.1:2121" in out
    assert "account alice: bucket bkt, read-only, password plaintext" in out
    assert "account cam: bucket bkt, home in, upload only, password hashed" in out
    assert "warning:" in out and "plaintext" in out  # the seed's plaintext password is flagged
    # ossftp passwd is suggested; neither the password nor a hash of it is shown (the log is
    # on the console, and a hash is as good as the password to an offline guesser).
    assert "wonder" not in out and "ossftp passwd" in out and "pbkdf2-sha256$" not in out
    assert out.strip().endswith(f"{path}: valid")


@pytest.mark.parametrize("server, expected", [
    ({"port": "two thousand"}, "modules.ossftp.port: expected an integer"),
    ({"max_connections": [5]}, "modules.ossftp.max_connections"),
    ({"provider": "ftp"}, "provider must be local, oss or s3, got ftp"),
    ({"rename": "sometimes"}, "rename must be refuse, copy or native, got sometimes"),
    ({"tls_certificate": "/nonexistent/cert.pem", "tls_key": "/nonexistent/key.pem"}, "tls:"),
    ({"tls_certificate": "/nonexistent/cert.pem"}, "FTPS needs both tls_certificate and tls_key"),
    ({"spool_budget_mb": 16, "part_size_mb": 16}, "spool_budget_mb (16) must hold at least two parts"),
    # Times and sizes that overflow 64 bits once in nanoseconds or bytes: the server started,
    # then died at the first PASV (or upload).
    ({"data_connection_timeout": 10_000_000_000}, "data_connection_timeout is 10000000000; it must be 1 to 31536000 seconds (a year)"),
    ({"idle_timeout": 10_000_000_000}, "idle_timeout is 10000000000; it must be 1 to 31536000 seconds (a year)"),
    ({"ban_seconds": -5}, "ban_seconds is -5; it must be 1 to"),
    ({"ban_seconds": 0}, "ban_seconds is 0; it must be 1 to"),  # it turned the ban off
    ({"shutdown_grace_seconds": 10_000_000_000}, "shutdown_grace_seconds is 10000000000; it must be 0 to"),
    ({"spool_budget_mb": 99_999_999_999_999}, "spool_budget_mb is 99999999999999; it must be 1 to 1073741824"),
    ({"read_ahead_mb": 99_999_999_999_999}, "read_ahead_mb is 99999999999999; it must be 1 to 4096"),
    ({"cache_ttl": 1e300}, "cache_ttl must be 0 to 31536000 seconds"),
    ({"masquerade_address": "0.0.0.0"}, "masquerade_address must be an IPv4 address a client can reach"),
    ({"masquerade_address": "010.1.1.1"}, "masquerade_address must be an IPv4 address a client can reach"),
    ({"masquerade_address": "255.255.255.255"}, "masquerade_address must be an IPv4 address a client can reach"),
    ({"masquerade_address": "239.1.2.3"}, "masquerade_address must be an IPv4 address a client can reach"),
    ({"rename_max_objects": -1}, "rename_max_objects must be positive"),
    # Each named alone, with its value: the message listed spool_budget_mb, part_size_mb and
    # upload_concurrency with their ranges, whichever one was wrong.
    ({"part_size_mb": 6000}, "modules.ossftp.part_size_mb is 6000; it must be 1 to 5120"),
    ({"upload_concurrency": 0}, "upload_concurrency is 0; it must be 1 to 1024"),
    ({"read_ahead_ranges": 65}, "read_ahead_ranges is 65; it must be 1 to 64"),
    ({"max_connections_per_ip": 0}, "max_connections_per_ip is 0; it must be 1 to"),
    ({"ban_threshold": -1}, "ban_threshold is -1; it must be 0 (no bans) or more"),
    ({"transfer_stall_timeout": 0}, "transfer_stall_timeout is 0; it must be 1 to 31536000 seconds (a year)"),
    # `config check` passed these, and serve stopped with exit 1 ("UnknownHost").
    ({"address": ""}, 'modules.ossftp.address "" is not an IP address'),
    ({"address": "not-an-ip"}, 'modules.ossftp.address "not-an-ip" is not an IP address'),
    # Endpoints were taken loosely: spaces in the host, a port past 65535, a path dropped.
    ({"provider": "s3", "endpoint": "not a url"}, "endpoint: not a url: not a url is not a host name"),
    ({"provider": "s3", "endpoint": "http://127.0.0.1:99999"}, "the port must be 1 to 65535"),
    ({"provider": "s3", "endpoint": "http://127.0.0.1:9000/p?q=1"}, "a path or query is not used"),
])
def test_bad_files_are_refused_with_the_field_and_the_reason(tmp_path, server, expected):
    path = write_config(tmp_path, server)
    check = run("config", "check", str(path))
    assert check.returncode == 1, check.stdout
    assert expected in check.stderr and str(path) in check.stderr
    serve = run("serve", "--config", str(path), "--port", str(free_port()))
    assert serve.returncode == EX_CONFIG, serve.stderr
    assert expected in serve.stderr


def test_a_budget_too_small_for_s3s_smallest_parts_is_refused(tmp_path):
    # S3 raises smaller parts to 5 MiB: a budget of two 1 MiB parts took small files and gave
    # every larger one 452 with the spool idle.
    serve = run("serve", "--provider", "s3", "--endpoint", "http://127.0.0.1:9", "--spool_budget_mb", "8",
                "--part_size_mb", "1", "--port", str(free_port()), "--spool_dir", str(tmp_path / "spool"))
    assert serve.returncode == EX_CONFIG, serve.stderr
    assert "spool_budget_mb (8) must hold at least two parts of 5 MiB" in serve.stderr


@pytest.mark.parametrize("account, expected", [
    ({"bucket_name": ".."}, "bucket_name of alice must be one name"),
    ({"bucket_name": "."}, "bucket_name of alice must be one name"),
    ({"bucket_name": "../.."}, "bucket_name of alice must be one name"),
    ({"bucket_name": "bkt", "home_dir": "../../.."}, "home_dir of alice may not have '.' or '..'"),
    ({"bucket_name": "bkt", "home_dir": "in/./x"}, "home_dir of alice may not have '.' or '..'"),
])
def test_account_paths_that_leave_their_place_are_refused(tmp_path, account, expected):
    # They were "valid", and every login (bucket) or write (home) then failed.
    path = write_config(tmp_path, {}, accounts=[{"login_username": "alice", "login_password": "pw", **account}])
    check = run("config", "check", str(path))
    assert check.returncode == 1 and expected in check.stderr, check.stderr
    serve = run("serve", "--config", str(path), "--port", str(free_port()))
    assert serve.returncode == EX_CONFIG and expected in serve.stderr


@pytest.mark.parametrize("stored, reason", [
    ("pbkdf2-sha256$200000$00112233445566778899aabbccddeeff$a8", "a key of 1 bytes; it must be 32"),
    ("pbkdf2-sha256$1$00112233445566778899aabbccddeeff$" + "ab" * 32, "1 iterations; at least 1000"),
    ("pbkdf2-sha256$1000$00$" + "ab" * 32, "a salt of 1 bytes; at least 8"),
    ("pbkdf2-sha256$many$00$00", "not of the form"),
    # Another tool's hashes were taken as plaintext passwords: the hash itself logged in.
    ("pbkdf2-sha1$200000$00112233445566778899aabbccddeeff$" + "ab" * 20, "a hash of a kind ossftp does not read"),
    ("pbkdf2_sha256$260000$salt$" + "QUJD" * 11, "a hash of a kind ossftp does not read"),
    ("$6$rounds=5000$saltsalt$" + "x" * 86, "a hash of a kind ossftp does not read"),
])
def test_a_hash_that_would_let_guesses_in_is_refused(tmp_path, stored, reason):
    # A cut key would match one guess in 256; it is neither a hash nor taken as the password.
    path = write_config(tmp_path, {}, accounts=[
        {"login_username": "alice", "login_password": stored, "bucket_name": "bkt"}])
    check = run("config", "check", str(path))
    assert check.returncode == 1 and "login_password of alice is not a usable hash" in check.stderr
    assert reason in check.stderr


def test_misspelt_keys_and_look_alike_names_are_warned_of(tmp_path):
    # "permission" for "permissions" would leave bob with full rights: never silently.
    path = write_config(tmp_path, {"max_conections": 3}, accounts=[
        {"login_username": "bob", "login_password": "x", "bucket_name": "bkt", "permission": "read-only"},
        {"login_username": "Bob", "login_password": "y", "bucket_name": "bkt"},
        {"login_username": "bob ", "login_password": "z", "bucket_name": "bkt"}])
    check = run("config", "check", str(path))
    assert check.returncode == 0, check.stderr
    assert "modules.accounts[0].permission is not a setting of ossftp" in check.stdout
    assert "modules.ossftp.max_conections is not a setting of ossftp" in check.stdout
    assert "modules.accounts[1] has the login_username Bob, and modules.accounts[0] bob: they are two accounts" in check.stdout
    assert "modules.accounts[2] has spaces at the start or end of its login_username 'bob '" in check.stdout
    # The seed's own file, launcher keys included, warns of nothing unknown.
    seed = run("config", "check", str(Path(__file__).resolve().parents[2] / "config.json"))
    assert seed.returncode == 0 and "not a setting" not in seed.stdout + seed.stderr, seed.stderr


def test_an_account_named_twice_is_refused(tmp_path):
    # Only the first counted, and check listed the second (a read-only bob below a full one) as
    # if it applied.
    path = write_config(tmp_path, {}, accounts=[
        {"login_username": "bob", "login_password": "x", "bucket_name": "bkt"},
        {"login_username": "bob", "login_password": "y", "bucket_name": "bkt", "permissions": "read-only"}])
    check = run("config", "check", str(path))
    assert check.returncode == 1
    assert ("modules.accounts[1] has the login_username bob of modules.accounts[0] with other settings: "
            "one name, one account") in check.stderr
    # The same entry pasted twice: nothing to choose between, said and ignored.
    same = write_config(tmp_path, {}, accounts=[
        {"login_username": "bob", "login_password": "x", "bucket_name": "bkt"},
        {"login_username": "bob", "login_password": "x", "bucket_name": "bkt"}])
    check = run("config", "check", str(same))
    assert check.returncode == 0, check.stderr
    assert "modules.accounts[1] repeats modules.accounts[0] (bob) as it is; it is ignored" in check.stdout
    assert check.stdout.count("account bob:") == 1


def test_a_read_only_account_cannot_be_given_renames(tmp_path):
    # It got 250 for RNFR/RNTO and could move any file away from where others look.
    path = write_config(tmp_path, {}, accounts=[
        {"login_username": "ro", "login_password": "x", "bucket_name": "bkt", "permissions": "read-only",
         "allow_rename": True}])
    check = run("config", "check", str(path))
    assert check.returncode == 1
    assert "modules.accounts[0].allow_rename cannot be true for a read-only account" in check.stderr
    allowed = write_config(tmp_path, {}, accounts=[
        {"login_username": "nd", "login_password": "x", "bucket_name": "bkt", "permissions": "no-delete",
         "allow_rename": True}])
    check = run("config", "check", str(allowed))
    assert check.returncode == 0 and "account nd: bucket bkt" in check.stdout, check.stderr


@pytest.mark.parametrize("token, expected", [
    ("   ", "modules.launcher.token is blank"),
    ("a", "modules.launcher.token has 1 characters; give it at least 16"),
])
def test_a_blank_console_token_is_refused_and_a_short_one_warned_of(tmp_path, token, expected):
    path = write_config(tmp_path, {})
    config = json.loads(path.read_text())
    config["modules"]["launcher"] = {"control_port": 8192, "token": token}
    path.write_text(json.dumps(config))
    check = run("config", "check", str(path))
    assert expected in check.stdout + check.stderr
    assert check.returncode == (1 if token.isspace() else 0)


def test_the_seed_tools_own_keys_are_known_and_its_ftp_switch_is_followed(tmp_path):
    """The seed's keys were warned of as misspelt (buff_size, enable, launcher.oss_protocol,
    the osssftp section), and enable: 0, which kept its FTP server from starting, was ignored."""
    path = write_config(tmp_path, {"buff_size": 10, "enable": True}, accounts=[
        {"login_username": "alice", "login_password": "x", "bucket_name": "bkt"},
        {"login_username": "", "login_password": "forgot-the-name", "bucket_name": "bkt"}])
    config = json.loads(path.read_text())
    config["modules"]["launcher"] = {"oss_protocol": "http", "control_port": 8192}
    config["modules"]["osssftp"] = {"enable": 1, "address": "127.0.0.1", "port": 50000, "buff_size": 10}
    path.write_text(json.dumps(config))
    check = run("config", "check", str(path))
    assert check.returncode == 0, check.stderr
    assert "not a setting" not in check.stdout + check.stderr
    assert "modules.osssftp is the seed tool's SFTP server, which ossftp does not have" in check.stdout
    assert "oss_protocol http is ignored: ossftp reaches OSS over HTTPS" in check.stdout
    assert "modules.accounts[1] has no login_username" in check.stdout
    config["modules"]["ossftp"]["enable"] = 0
    path.write_text(json.dumps(config))
    check = run("config", "check", str(path))
    assert check.returncode == 1 and "modules.ossftp.enable is 0" in check.stderr
    config["modules"]["ossftp"]["enable"] = "false"  # as the seed's page may write it
    path.write_text(json.dumps(config))
    assert "modules.ossftp.enable is false" in run("config", "check", str(path)).stderr
    served = run("serve", "--config", str(path))
    assert served.returncode != 0 and "modules.ossftp.enable is false" in served.stderr


def test_an_account_without_a_bucket_is_named(tmp_path):
    path = write_config(tmp_path, {}, accounts=[{"login_username": "bob", "login_password": "x"}])
    check = run("config", "check", str(path))
    assert check.returncode == 1
    assert "modules.accounts[0].bucket_name is missing for bob" in check.stderr


def test_not_json_and_missing_files(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"modules": {')
    result = run("config", "check", str(broken))
    assert result.returncode == 1 and str(broken) in result.stderr
    # Where a hand edit broke it, as serve and check both say (it was "The given data was
    # not valid JSON." with no place).
    config = json.dumps({"modules": {"ossftp": {"port": 2121, "address": "127.0.0.1"}}}, indent=2)
    broken.write_text(config.replace('"port": 2121,', '"port": 2121,  // the FTP port'))
    expected = f"{broken}: line 4, column 22: comments are not JSON"
    for args in (("config", "check", str(broken)), ("serve", "--config", str(broken), "--web_port", "0")):
        result = run(*args)
        assert result.returncode != 0 and expected in result.stderr, result.stderr
    missing = run("config", "check", str(tmp_path / "absent.json"))
    assert missing.returncode == 1 and "cannot be read: No such file or directory" in missing.stderr


def test_switches_written_as_the_seed_writes_them(tmp_path):
    """The seed tool writes its switches as 1 and 0; `"write_back": 1` was refused ("expected
    true or false")."""
    path = write_config(tmp_path, {"write_back": 1, "exact_times": "0", "local_fsync": 0})
    check = run("config", "check", str(path))
    assert check.returncode == 0, check.stderr
    path = write_config(tmp_path, {"write_back": 2})
    check = run("config", "check", str(path))
    assert check.returncode != 0 and "write_back" in check.stderr and "expected true or false (or 1 or 0)" in check.stderr


def assert_serve_refuses_port(tmp_path: Path, port: int) -> None:
    path = write_config(tmp_path, {})
    result = run("serve", "--config", str(path), "--port", str(port), "--web_port", "0")
    assert result.returncode == 1
    # Named, with the setting that moves it (it was NIO's `bind(...): Address already in use)
    # (errno: 98)`, a stray parenthesis and no hint).
    assert f"cannot serve: the FTP address 127.0.0.1:{port} is in use by another program; " \
        "choose another port with --port (port in config.json)" in result.stderr, result.stderr


def test_a_port_in_use_stops_serve_with_a_clear_message(tmp_path):
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        assert_serve_refuses_port(tmp_path, taken.getsockname()[1])


def test_a_port_held_with_reuseport_is_not_shared(tmp_path):
    # ossftp itself listens with SO_REUSEPORT (one socket per event loop). A port held by another
    # socket that allows sharing, as a running ossftp's does, must still refuse a second server.
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind((HOST, 0))
        taken.listen()
        assert_serve_refuses_port(tmp_path, taken.getsockname()[1])


def test_a_second_server_on_the_same_port_is_refused(tmp_path):
    first = OssftpServer(tmp_path / "first", [Account("alice", "pw-alice", "bucket")])
    first.start()
    try:
        assert_serve_refuses_port(tmp_path, first.port)
        # The first server still answers every connection (nothing was split off to the other).
        for _ in range(20):
            with socket.create_connection((HOST, first.port), timeout=5) as client:
                assert client.recv(100).startswith(b"220")
    finally:
        first.stop()


def test_a_negative_number_flag_is_said_to_be_out_of_range(tmp_path):
    # Not "missing value": the value is taken, and refused for what it is.
    for flag, said in (("--port", "-1 is out of range"), ("--web_port", "-1 is out of range"),
                       ("--passive_ports_start", "need 1 <= passive_ports_start"),
                       ("--idle_timeout", "the command line: --idle_timeout is -1; it must be 1 to"), ("--cache_ttl", "cache_ttl")):
        result = run("serve", flag, "-1", cwd=tmp_path)
        assert result.returncode == EX_CONFIG and said in result.stderr, (flag, result.stderr)


def test_a_bad_flag_is_a_usage_error():
    result = run("serve", "--port", "many")
    assert result.returncode == 64
    assert "--port" in result.stderr


def test_help_of_an_unknown_subcommand_is_a_usage_error():
    result = run("help", "mout")
    assert result.returncode == 64
    assert "no subcommand 'mout'" in result.stderr and "mount" in result.stderr
    known = run("help", "mount")
    assert known.returncode == 0 and "MOUNTPOINT" in known.stdout.upper()


def test_a_passive_range_of_ossftps_own_ports_alone_is_refused(tmp_path, tls_files):
    # Every PASV would find its port taken by one of ossftp's own listeners (425).
    path = write_config(tmp_path, {"port": 21999, "passive_ports_start": 21999, "passive_ports_end": 21999})
    check = run("config", "check", str(path))
    assert check.returncode == 1 and "passive ports 21999 to 21999 are all ossftp's own listening ports" in check.stderr, \
        check.stderr
    # The implicit FTPS port and the console's were not looked at.
    path = write_config(tmp_path, {"port": 21999, "implicit_tls_port": 21997, "passive_ports_start": 21997,
                                   "passive_ports_end": 21998, **tls_files})
    serve = run("serve", "--config", str(path), "--web_port", "21998")
    assert serve.returncode == EX_CONFIG and "passive ports 21997 to 21998 are all ossftp's own" in serve.stderr, \
        serve.stderr
    # In a larger range they are skipped, as any port in use is.
    path = write_config(tmp_path, {"port": 21999, "implicit_tls_port": 21997, "passive_ports_start": 21997,
                                   "passive_ports_end": 22001, **tls_files})
    assert run("config", "check", str(path)).returncode == 0
    # The implicit FTPS port on the FTP port: it was "in use by another program".
    path = write_config(tmp_path, {"port": 21999, "implicit_tls_port": 21999, **tls_files})
    check = run("config", "check", str(path))
    assert check.returncode == 1 and "implicit_tls_port and the FTP port are both 21999" in check.stderr, check.stderr


def test_a_key_given_twice_in_one_object_is_refused(tmp_path):
    """Foundation keeps the first of two equal keys, Python's json and jq the last: an account
    with "permissions" twice was full for ossftp and read-only for the tool that edited it."""
    (tmp_path / "data" / "bkt").mkdir(parents=True)
    path = tmp_path / "config.json"
    path.write_text('{"modules": {"ossftp": {"local_root": "data"},\n'
                    ' "accounts": [{"login_username": "a", "login_password": "p", "bucket_name": "bkt",\n'
                    '               "permissions": "full", "note": "say \\"permissions\\"",\n'
                    '               "permissions": "read-only"}]}}\n')
    check = run("config", "check", str(path))
    assert check.returncode == 1 and 'line 4: "permissions" is given twice' in check.stderr, check.stderr
    # Written with an escape, it is the same key to every decoder (it passed as another).
    path.write_text('{"modules": {"ossftp": {"local_root": "data"},\n'
                    ' "accounts": [{"login_username": "a", "login_password": "p", "bucket_name": "bkt",\n'
                    '               "permissions": "read-only", "permi\\u0073sions": "full"}]}}\n')
    check = run("config", "check", str(path))
    assert check.returncode == 1 and '"permissions" is given twice' in check.stderr, check.stderr
    # The same key in two objects is no repeat.
    path.write_text('{"modules": {"ossftp": {"local_root": "data"}, "accounts": ['
                    '{"login_username": "a", "login_password": "p", "bucket_name": "bkt"},'
                    '{"login_username": "b", "login_password": "q", "bucket_name": "bkt"}]}}')
    assert run("config", "check", str(path)).returncode == 0


def test_a_bad_flag_value_is_blamed_on_the_command_line_not_the_file(tmp_path):
    path = write_config(tmp_path, {})
    for flags, expected in ((["--port", "99999"], "the command line: port 99999 is out of range"),
                            (["--passive_ports_start", "60000", "--passive_ports_end", "50000"],
                             "the command line: passive ports"),
                            (["--idle_timeout", "0"], "the command line: --idle_timeout is 0; it must be 1 to")):
        serve = run("serve", "--config", str(path), *flags)
        assert serve.returncode == EX_CONFIG and expected in serve.stderr, serve.stderr
        assert str(path) not in serve.stderr
    # The file's own bad value still names the file.
    path = write_config(tmp_path, {"port": 99999})
    serve = run("serve", "--config", str(path))
    assert serve.returncode == EX_CONFIG and f"{path}: modules.ossftp.port 99999 is out of range" in serve.stderr, serve.stderr


def test_an_encrypted_tls_key_is_refused_without_asking_for_its_passphrase(tmp_path):
    # OpenSSL asked for the passphrase on the terminal, and the server waited there.
    key, cert = tmp_path / "enc-key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-passout", "pass:secret", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    key.chmod(0o600)
    path = write_config(tmp_path, {"tls_certificate": str(cert), "tls_key": str(key)})
    command = f"{ossftp_binary()} serve --config {path} --port {free_port()} --web_port 0"
    # Under a terminal of its own (script), where OpenSSL's default callback would prompt.
    result = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, text=True, timeout=30,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == EX_CONFIG, result.stdout
    assert f"the private key {key} is encrypted" in result.stdout
    assert "pass phrase" not in result.stdout.lower()


def _certificate(folder: Path, not_before: datetime.datetime, not_after: datetime.datetime) -> tuple[Path, Path]:
    """A self-signed certificate valid from `not_before` to `not_after`, and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(not_before)
                   .not_valid_after(not_after).sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.mark.parametrize("valid, expected", [
    ((-400, -30), "expired on"),
    ((30, 400), "is not valid before"),
    ((-30, 5), "expires on"),
    ((-30, 400), None),
])
def test_a_certificate_clients_would_refuse_by_its_dates_is_warned_of(tmp_path, valid, expected):
    # Every client that checks certificates failed its handshakes, and nothing said why.
    now = datetime.datetime.now(datetime.timezone.utc)
    cert, key = _certificate(tmp_path, now + datetime.timedelta(days=valid[0]), now + datetime.timedelta(days=valid[1]))
    check = run("config", "check", str(write_config(tmp_path, {"tls_certificate": str(cert), "tls_key": str(key)})))
    assert check.returncode == 0, check.stderr
    if expected:
        assert f"tls_certificate {cert} {expected}" in check.stdout, check.stdout
    else:
        assert "tls_certificate" not in check.stdout.replace("FTPS:", ""), check.stdout


def test_empty_tls_file_keys_leave_ftps_off(tmp_path):
    # A template's "" was read as the config folder: "cannot load the certificate <folder>".
    check = run("config", "check", str(write_config(tmp_path, {"tls_certificate": "", "tls_key": ""})))
    assert check.returncode == 0, check.stderr
    assert "FTPS: off" in check.stdout


def test_the_seed_tools_config_files_and_flags_serve_oss(tmp_path):
    """The seed tool's config.json names no provider: it always meant OSS. Taken as the local
    default, its accounts were served from empty local folders and their keys ignored, and its
    own default file (one blank account) started and refused every login."""
    path = tmp_path / "seed.json"
    seed_account = {"access_id": "LTAI-seed", "access_secret": "seed-secret", "bucket_name": "photos", "home_dir": "",
                    "login_username": "cam", "login_password": "pw"}
    blank_account = {key: "" for key in seed_account}
    for accounts, ossftp, mark in [
            ([seed_account], {"address": "127.0.0.1", "port": 2048}, "modules.accounts[0].access_id"),
            ([blank_account], {"address": "127.0.0.1", "port": 2048, "bucket_endpoints": "", "log_level": "INFO",
                               "passive_ports_start": 51000, "passive_ports_end": 53000}, "modules.ossftp.bucket_endpoints"),
            ([], {"internal": "True"}, "modules.ossftp.internal")]:
        path.write_text(json.dumps({"modules": {"ossftp": ossftp, "accounts": accounts,
                                                "launcher": {"control_port": 8192, "popup_webui": 1}}}))
        check = run("config", "check", str(path))
        assert check.returncode == 0, check.stderr
        assert "store: oss" in check.stdout, check.stdout
        assert f"no provider is named, and {mark} is the seed tool's, which always served OSS" in check.stdout
    # Named, either way, it is taken as said.
    config = {"modules": {"ossftp": {"provider": "local", "bucket_endpoints": "", "local_root": str(tmp_path),
                                     "spool_dir": str(tmp_path / "spool")}, "accounts": [blank_account]}}
    path.write_text(json.dumps(config))
    check = run("config", "check", str(path))
    assert check.returncode == 0 and "store: local" in check.stdout and "always served OSS" not in check.stdout
    # Nothing of the seed's OSS: the local default, as before.
    path.write_text(json.dumps({"modules": {"ossftp": {"local_root": str(tmp_path), "spool_dir": str(tmp_path / "spool")}}}))
    assert "store: local" in run("config", "check", str(path)).stdout
    # The seed's launcher passed its unset options empty (`--bucket_endpoints=`): taken as unset,
    # where they stopped the server with "Missing value"; with a value, they mean OSS as well.
    empty = serve_briefly(path, "--bucket_endpoints=", "--internal=", "--masquerade_address=")
    assert "FTP server listening" in empty and "always served OSS" not in empty, empty
    flagged = serve_briefly(path, "--bucket_endpoints=photos.oss-cn-qingdao.aliyuncs.com")
    assert "no provider is named, and --bucket_endpoints is the seed tool's" in flagged, flagged
    bad = serve_briefly(path, "--bucket_endpoints=photos.oss-cn-qingdao.aliyuncs.com,b2")
    assert ('the command line: bucket_endpoints: "b2" is not bucket.endpoint (like mybucket.oss-cn-qingdao.aliyuncs.com)'
            in bad), bad


def serve_briefly(config: Path, *flags: str) -> str:
    """What `ossftp serve` with `flags` says until it listens (then it is stopped) or exits."""
    process = subprocess.Popen([str(ossftp_binary()), "serve", "--config", str(config), "--listen_address", HOST,
                                "--port", str(free_port()), "--web_port", "0", *flags],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    said = []
    try:
        for line in process.stdout:
            said.append(line)
            if "FTP server listening" in line:
                break
    finally:
        process.terminate()
        process.wait(timeout=30)
    return "".join(said)


def test_files_every_user_could_change_are_refused(tmp_path):
    # A world-writable config.json let any local user add accounts (applied at SIGHUP), and a
    # world-writable key let them swap it; both were taken without a word.
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    path = write_config(tmp_path, {"tls_certificate": str(cert), "tls_key": str(key)})
    assert run("config", "check", str(path)).returncode == 0
    path.chmod(0o666)
    check = run("config", "check", str(path))
    assert check.returncode == 1 and f"the config file {path} is writable by every user" in check.stderr
    path.chmod(0o644)
    key.chmod(0o666)
    serve = run("serve", "--config", str(path), "--port", str(free_port()))
    assert serve.returncode == EX_CONFIG and f"tls_key {key} is writable by every user" in serve.stderr
    # Readable by all (Docker secrets are 0444): taken, with a warning.
    key.chmod(0o444)
    check = run("config", "check", str(path))
    assert check.returncode == 0 and f"tls_key {key} is readable by every user" in check.stdout + check.stderr


@pytest.mark.parametrize("flags, expected", [
    (["--web_port", "99999"], "the command line: --web_port 99999 is out of range"),
    (["--spool_budget_mb", "16", "--part_size_mb", "16"], "the command line: spool_budget_mb (16) must hold"),
    (["--web_address", "0.0.0.0"], "the command line: --web_address: the console listens on 0.0.0.0"),
])
def test_a_bad_flag_is_blamed_on_the_command_line_not_the_file(tmp_path, flags, expected):
    # With a config file loaded, these named the file's keys for the flags' values.
    path = write_config(tmp_path, {})
    serve = run("serve", "--config", str(path), "--port", str(free_port()), *flags)
    assert serve.returncode == EX_CONFIG and expected in serve.stderr, serve.stderr


def test_secrets_in_a_file_every_user_can_read_are_warned_of(tmp_path):
    """A config.json holding a secret itself (a plaintext password here) and readable by every
    user, as a copied seed config.json usually is, passed without a word."""
    path = write_config(tmp_path, {})
    path.chmod(0o644)
    check = run("config", "check", str(path))
    assert check.returncode == 0
    assert f"{path} holds secrets" in check.stdout + check.stderr and f"chmod 600 {path}" in check.stdout + check.stderr
    path.chmod(0o600)
    assert "holds secrets" not in (lambda r: r.stdout + r.stderr)(run("config", "check", str(path)))
    # A password written as `env:NAME` is that very text (passwords take no reference).
    path = write_config(tmp_path, {}, accounts=[
        {"login_username": "alice", "login_password": "env:FTP_PW", "bucket_name": "bkt"}])
    path.chmod(0o644)
    assert f"{path} holds secrets" in (lambda r: r.stdout + r.stderr)(run("config", "check", str(path)))


def test_the_shipped_config_json_serves_from_a_fresh_checkout(tmp_path):
    """README: `ossftp serve --config config.json`. The shipped file's spool_dir is data/spool,
    and data/ is not in a fresh checkout: serve stopped at once (78, cannot create the spool
    folder), though `config check` called the file valid."""
    import shutil
    import time

    from netutil import free_port_range, stop_process, wait_for_banner

    shutil.copy(Path(__file__).resolve().parents[2] / "config.json", tmp_path / "config.json")
    (tmp_path / "config.json").chmod(0o600)
    port = free_port()
    low, high = free_port_range(10, exclude=(port,))
    proc = subprocess.Popen([str(ossftp_binary()), "serve", "--config", "config.json", "--port", str(port),
                             "--web_port", "0", "--passive_ports_start", str(low), "--passive_ports_end", str(high)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert wait_for_banner(port, time.monotonic() + 30, proc).startswith("220")
        assert (tmp_path / "data" / "spool").is_dir()
        assert (tmp_path / "data" / "spool").stat().st_mode & 0o077 == 0
    finally:
        stop_process(proc)


def test_the_console_and_ftp_on_one_port_are_refused_by_check(tmp_path):
    """`config check` called it valid; serve then failed to bind the second listener."""
    path = write_config(tmp_path, {"port": 8192})
    check = run("config", "check", str(path))
    assert check.returncode == 1
    assert "the console's port (modules.launcher.control_port) and the FTP port are both 8192" in check.stderr


def test_mount_reads_the_seed_tools_config_as_serve_does(tmp_path):
    """`serve` took the seed's config.json for OSS, `mount --config --account` for the local
    store: with the local folder missing it said so, and with one there it would have mounted
    an empty folder. It now says the same warning, and uses the file's bucket_endpoints."""
    config = tmp_path / "seed.json"
    config.write_text(json.dumps({"modules": {
        "accounts": [{"access_id": "LTAIseedkey123456", "access_secret": "seed-secret", "bucket_name": "photos",
                      "home_dir": "", "login_username": "cam", "login_password": "pw"}],
        "ossftp": {"address": "127.0.0.1", "port": 2048, "bucket_endpoints": f"photos.127.0.0.1:{free_port()}"}}}))
    config.chmod(0o600)
    (tmp_path / "mnt").mkdir()
    for detached in (False, True):
        result = run("mount", "--config", str(config), "--account", "cam", str(tmp_path / "mnt"),
                     *([] if detached else ["--foreground"]), "--spool_dir", str(tmp_path / "spool"), cwd=tmp_path)
        assert result.returncode == 69, result.stderr
        # Said on the terminal once, also when the mount detaches (it went to mount.log alone).
        assert result.stderr.count("no provider is named, and modules.ossftp.bucket_endpoints is the seed tool's") == 1
        # The bucket's endpoint from the file: nothing listens there.
        assert "cannot use oss bucket photos: Input/output error (cannot connect to the store)" in result.stderr, result.stderr
