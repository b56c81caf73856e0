"""The VFS as FTP clients see it: rename by policy, times, machine listings, special names,
and one process's sessions seeing each other's writes at once. Local store and SeaweedFS."""

from __future__ import annotations

import ftplib
import io
import secrets
import subprocess
import time
import pytest

from netutil import HOST
from ossftp_server import Account, OssftpServer

NAMES = ["a b.txt", "#hash", "100%", "quote\"d'", "中文名.txt", "+plus+"]


def login(srv, user, password) -> ftplib.FTP:
    client = ftplib.FTP(encoding="utf-8")
    client.connect(HOST, srv.port, timeout=20)
    client.login(user, password)
    return client


def fetch(client: ftplib.FTP, name: str) -> bytes:
    out = io.BytesIO()
    client.retrbinary(f"RETR {name}", out.write)
    return out.getvalue()


def test_rename_by_copy_moves_files_and_directories(server):
    srv, user, password = server
    c = login(srv, user, password)
    c.storbinary("STOR old.txt", io.BytesIO(b"content"))
    c.rename("old.txt", "new.txt")
    assert fetch(c, "new.txt") == b"content"
    assert "old.txt" not in c.nlst()
    c.mkd("dir")
    c.storbinary("STOR dir/inner.bin", io.BytesIO(b"\x00" * 100))
    c.rename("dir", "moved")
    assert c.nlst("moved") in (["inner.bin"], ["moved/inner.bin"])
    with pytest.raises(ftplib.error_perm, match="^550"):
        c.cwd("/dir")
    # Onto a directory: an empty one is replaced, one with entries is not, nor by a file.
    c.mkd("empty")
    c.rename("moved", "empty")
    assert c.nlst("empty") in (["inner.bin"], ["empty/inner.bin"])
    c.mkd("other")
    with pytest.raises(ftplib.error_perm, match="^550 .*not empty"):
        c.rename("other", "empty")
    with pytest.raises(ftplib.error_perm, match="^550 .*is a directory"):
        c.rename("new.txt", "other")
    assert sorted(c.nlst()) == ["empty", "new.txt", "other"]
    with pytest.raises(ftplib.error_perm, match="^503"):
        c.sendcmd("RNTO x")
    # A new name too long for the store is refused as that name, and nothing moves.
    long_name = "n" * 300
    with pytest.raises(ftplib.error_perm, match=f"^553 File name too long: /{long_name}"):
        c.rename("new.txt", long_name)
    assert fetch(c, "new.txt") == b"content"
    c.quit()


def test_a_trailing_slash_names_a_folder_never_a_file(server):
    """`f/` names a folder, as in POSIX path resolution: no verb that takes a file acts on the
    file `f` when written so (DELE f/ deleted it)."""
    srv, user, password = server
    c = login(srv, user, password)
    c.storbinary("STOR f", io.BytesIO(b"kept"))
    for command in ("DELE f/", "SIZE f/", "MDTM f/", "MFMT 20200101000000 f/", "RNFR f/"):
        with pytest.raises(ftplib.error_perm, match="^550"):
            c.sendcmd(command)
    with pytest.raises(ftplib.error_perm, match="^550"):
        fetch(c, "f/")
    with pytest.raises(ftplib.error_perm, match="^553"):
        c.storbinary("STOR f/", io.BytesIO(b"lost"))
    with pytest.raises(ftplib.error_perm, match="^553"):
        c.storbinary("APPE f/", io.BytesIO(b"lost"))
    # A file renamed to a name written as a folder: ENOTDIR in rename(2).
    c.sendcmd("RNFR f")
    with pytest.raises(ftplib.error_perm, match="^550 .*not a directory"):
        c.sendcmd("RNTO g/")
    assert fetch(c, "f") == b"kept"
    assert sorted(c.nlst()) == ["f"]
    # Folders may be written with one.
    c.mkd("d/")
    c.storbinary("STOR d/inner", io.BytesIO(b"in"))
    c.sendcmd("RNFR d/")
    c.sendcmd("RNTO e/")
    assert fetch(c, "e/inner") == b"in"
    c.cwd("e/")
    c.cwd("/")
    c.delete("e/inner")
    c.rmd("e/")
    assert sorted(c.nlst()) == ["f"]
    c.quit()


def test_names_with_spaces_hashes_percents_quotes_and_chinese(server):
    srv, user, password = server
    c = login(srv, user, password)
    for name in NAMES:
        c.storbinary(f"STOR {name}", io.BytesIO(name.encode()))
    assert sorted(c.nlst()) == sorted(NAMES)
    for name in NAMES:
        assert fetch(c, name) == name.encode()
        assert c.size(name) == len(name.encode())
    listed = {name: facts for name, facts in c.mlsd()}
    assert set(listed) == set(NAMES)
    c.quit()


def test_control_characters_in_stored_names(server, seaweedfs):
    """Keys written by other programs (S3, the mount) with control characters: with a line feed
    the key is not listed (it would forge a line); with ESC or a backspace, LIST and NLST show
    '?' in its place, as vsftpd does, where it sent escape sequences to the lister's terminal;
    MLSD keeps the exact name, and the key can be fetched by it (docs/SEMANTICS.md)."""
    srv, user, password = server
    forged = "evil\n-rw-r--r-- 1 owner group 1 Jan 01  2020 fake"
    escaped = "red\x1b[31m\x08\u009b0m\u202e.txt"
    for name in (forged, escaped):
        if srv.accounts:
            (srv.bucket_dir() / name).write_bytes(b"x")
        else:
            seaweedfs.client().put_object(Bucket=user.split("/", 1)[1], Key=name, Body=b"x")
    c = login(srv, user, password)
    c.storbinary("STOR plain.txt", io.BytesIO(b"p"))
    shown = "red?[31m??0m?.txt"
    assert sorted(c.nlst()) == sorted([shown, "plain.txt"])
    lines = []
    c.retrlines("LIST", lines.append)
    assert len(lines) == 2 and any(line.endswith(" " + shown) for line in lines)
    assert sorted(name for name, _ in c.mlsd()) == sorted([escaped, "plain.txt"])
    assert fetch(c, escaped) == b"x"
    # The stand-in names nothing: asked for, it is not found.
    with pytest.raises(ftplib.error_perm, match="^550"):
        c.size(shown)
    c.quit()


def test_times_and_machine_listings(server):
    srv, user, password = server
    c = login(srv, user, password)
    c.storbinary("STOR t.bin", io.BytesIO(b"12345"))
    c.mkd("sub")
    assert c.sendcmd("MFMT 20200102030405 t.bin").startswith("213 Modify=20200102030405")
    assert c.sendcmd("MDTM t.bin") == "213 20200102030405"
    facts = dict(c.mlsd())
    assert facts["t.bin"]["type"] == "file" and facts["t.bin"]["size"] == "5"
    if srv.accounts:
        # The local store keeps the time as the file's own mtime, so listings show it too.
        assert facts["t.bin"]["modify"] == "20200102030405"
    else:
        # Object listings carry Last-Modified only; the mtime metadata shows in MDTM and MLST
        # (docs/SEMANTICS.md, modification times).
        assert facts["t.bin"]["modify"] != "20200102030405"
        assert "modify=20200102030405;" in c.sendcmd("MLST t.bin")
    assert facts["sub"]["type"] == "dir"
    mlst = c.sendcmd("MLST t.bin")
    assert mlst.startswith("250-") and "type=file;size=5;" in mlst
    # unique (RFC 3659 §7.5.7): the same for the same entry, however it is listed; perm: what
    # this account may do (these servers rename by copy: f).
    assert f"unique={facts['t.bin']['unique']};" in mlst
    assert facts["t.bin"]["unique"] != facts["sub"]["unique"]
    assert facts["t.bin"]["perm"] == "adfrw" and facts["sub"]["perm"] == "cdeflmp"
    assert "unique*;" in c.sendcmd("FEAT")
    with pytest.raises(ftplib.error_perm, match="^501"):
        list(c.mlsd("t.bin"))
    with pytest.raises(ftplib.error_perm, match="^501"):
        c.sendcmd("MFMT 2020 t.bin")
    c.quit()


def test_sessions_of_one_process_see_each_others_writes_at_once(server):
    srv, user, password = server
    alice, bob = login(srv, user, password), login(srv, user, password)
    assert "fresh.txt" not in alice.nlst()
    with pytest.raises(ftplib.error_perm, match="^550"):
        alice.size("fresh.txt")
    bob.storbinary("STOR fresh.txt", io.BytesIO(b"new"))
    assert alice.size("fresh.txt") == 3
    assert "fresh.txt" in alice.nlst()
    bob.delete("fresh.txt")
    with pytest.raises(ftplib.error_perm, match="^550"):
        alice.size("fresh.txt")
    alice.quit()
    bob.quit()


def test_rename_is_refused_by_default(ossftp, ftp):
    ftp.storbinary("STOR keep.txt", io.BytesIO(b"k"))
    # Refused at RNFR, before the client sends RNTO too (it was 350, then 550 at RNTO).
    with pytest.raises(ftplib.error_perm, match="^550.*rename is off"):
        ftp.sendcmd("RNFR keep.txt")
    with pytest.raises(ftplib.error_perm, match="^503"):
        ftp.sendcmd("RNTO other.txt")
    assert fetch(ftp, "keep.txt") == b"k"
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.sendcmd("RNFR missing.txt")


def test_wildcards_in_the_last_name_of_list_and_nlst(server):
    # Windows' and BSD's ftp send `mget *.bin` and `mdelete *.bin` as NLST with the pattern.
    srv, user, password = server
    c = login(srv, user, password)
    c.mkd("w")
    for name in ("g1.bin", "g2.bin", "g10.bin", "other.txt", "star*.bin"):
        c.storbinary(f"STOR w/{name}", io.BytesIO(name.encode()))
    c.cwd("w")
    assert sorted(c.nlst("*.bin")) == ["g1.bin", "g10.bin", "g2.bin", "star*.bin"]
    assert sorted(c.nlst("g?.bin")) == ["g1.bin", "g2.bin"]
    assert c.nlst("star*.bin") == ["star*.bin"]  # a name holding a real `*` is itself
    lines: list[str] = []
    c.retrlines("LIST /w/g1*", lines.append)
    assert [line.split()[-1] for line in lines] == ["g1.bin", "g10.bin"]
    assert c.nlst("*.none") == []
    # A pattern in a folder: the names as the client can RETR them from where it is.
    c.cwd("/")
    assert sorted(c.nlst("w/g?.bin")) == ["w/g1.bin", "w/g2.bin"]
    assert c.size("w/g1.bin") == len("g1.bin")
    # Windows clients separate with `\`: the names come back as written (they were bare).
    assert sorted(c.nlst("w\\g?.bin")) == ["w\\g1.bin", "w\\g2.bin"]
    # So is a file named, whatever the way to it (`mget w/g1.bin` would RETR another file from
    # a bare name), and a name holding a real `*`; a folder's entries come bare.
    assert c.nlst("w/g1.bin") == ["w/g1.bin"]
    # Written with a trailing `/`, the path names a folder: a file there is not one (`ls f/`).
    with pytest.raises(ftplib.error_perm, match="^550.*not a directory"):
        c.nlst("/w/g1.bin/")
    assert c.nlst("w/../w/star*.bin") == ["w/../w/star*.bin"]
    assert "g1.bin" in c.nlst("/w")
    assert c.size("w\\g1.bin") == len("g1.bin")
    # STAT with a path is LIST over the control connection, patterns included.
    status = c.sendcmd("STAT w/g?.bin").splitlines()
    assert status[0].startswith("212") and [line.split()[-1] for line in status[1:-1]] == ["g1.bin", "g2.bin"]
    assert len(c.sendcmd("STAT w/*.none").splitlines()) == 2  # no match: as LIST, an empty listing
    with pytest.raises(ftplib.error_perm, match="^550"):
        c.nlst("missing/*.bin")  # only the last name may hold wildcards
    c.quit()


def test_of_clients_making_the_same_folder_at_once_one_succeeds_and_the_others_hear_it_exists(server):
    """rclone copies files in parallel and makes each one's parent folder first: two MKDs of
    one folder at once on the local store, and the second got 451 (EEXIST from the marker's
    exclusive create, taken as a store failure) and failed its file's copy. Then every one of
    them got 257 (both had looked before either wrote): only the one that made the folder does
    now, as a moment later (rclone takes 550 for a folder that exists)."""
    import threading

    srv, user, password = server
    clients = [login(srv, user, password) for _ in range(8)]
    for round_number in range(3):
        replies: list[str] = []
        start = threading.Barrier(len(clients))

        def make(client):
            start.wait()
            try:
                replies.append(client.sendcmd(f"MKD race{round_number}"))
            except ftplib.all_errors as error:
                replies.append(str(error))

        threads = [threading.Thread(target=make, args=(client,)) for client in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(reply.startswith(("257", "550")) for reply in replies), replies
        assert sum(reply.startswith("257") for reply in replies) == 1, replies
        assert clients[0].nlst(f"race{round_number}") == []
    for client in clients:
        client.quit()


def _put_behind(srv, user, seaweedfs, key: str, body: bytes) -> None:
    """Stores `key` without ossftp (another tool's upload): its folders are only prefixes."""
    if "/" in user:  # the S3 login, access_key/bucket
        seaweedfs.client().put_object(Bucket=user.split("/", 1)[1], Key=key, Body=body)
    else:
        path = srv.base / "root" / "bucket3" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


def test_lftp_removes_a_tree_of_folders_that_are_only_prefixes(server, seaweedfs, subprocess_env):
    """A folder went away with its last object: lftp's `rm -r`, back in the parent it had
    emptied, got 550 on CWD and exited 1 (rclone's purge likewise), with every object gone."""
    srv, user, password = server
    for key in ("T/x/a.txt", "T/x/y/z.txt", "T/keep.txt"):
        _put_behind(srv, user, seaweedfs, key, b"data\n")
    result = subprocess.run(["lftp", "-u", f"{user},{password}", "-p", str(srv.port), HOST, "-e",
                             "set ftp:ssl-allow no; set cmd:fail-exit yes; rm -r /T/x; exit"],
                            env=subprocess_env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    client = login(srv, user, password)
    assert [name for name, _ in client.mlsd("/T")] == ["keep.txt"]
    # Removed, as asked: not there for the grace a folder emptied of its objects keeps.
    for gone in ("/T/x", "/T/x/y"):
        with pytest.raises(ftplib.error_perm, match="^550"):
            client.cwd(gone)
    client.quit()


def test_a_session_stays_in_a_folder_it_emptied(server, seaweedfs):
    """A camera's `CWD cam; DELE old.jpg; STOR new.jpg` got 550 once the folder, only a prefix,
    went with its last picture; CDUP from such a folder got 550 too."""
    srv, user, password = server
    _put_behind(srv, user, seaweedfs, "cam/day/old.jpg", b"old")
    client = login(srv, user, password)
    client.cwd("/cam/day")
    client.delete("old.jpg")
    client.storbinary("STOR new.jpg", io.BytesIO(b"new"))
    assert fetch(client, "/cam/day/new.jpg") == b"new"
    client.delete("new.jpg")
    assert client.sendcmd("CDUP").startswith("250")
    assert client.pwd() == "/cam"
    assert client.nlst() == [] or client.nlst() == ["day"]
    client.cwd("day")
    client.cwd("/")
    assert client.sendcmd("RMD /cam/day").startswith("250")
    with pytest.raises(ftplib.error_perm, match="^550"):
        client.cwd("/cam/day")
    # An RMD of the folder above takes the emptied folders below it too.
    _put_behind(srv, user, seaweedfs, "a/b/c/f.txt", b"f")
    client.delete("/a/b/c/f.txt")
    assert client.sendcmd("RMD /a").startswith("250")
    for gone in ("/a", "/a/b", "/a/b/c"):
        with pytest.raises(ftplib.error_perm, match="^550"):
            client.cwd(gone)
    client.quit()


def test_an_emptied_folder_is_kept_by_mkd_moved_by_rename_and_gone_with_its_parent(server, seaweedfs):
    """A folder ossftp emptied stays for a while: MKD of it said it existed and it then went
    away; a rename of it answered 250 and made nothing; a folder removed and made again
    brought back the emptied folders it had held."""
    srv, user, password = server
    for key in ("cam/old.jpg", "tree/sub/f", "a/c/f"):
        _put_behind(srv, user, seaweedfs, key, b"x")
    client = login(srv, user, password)
    client.delete("/cam/old.jpg")
    assert client.sendcmd("MKD /cam").startswith("257")
    assert "cam" in [name for name, _ in client.mlsd("/")]  # its marker keeps it now
    client.delete("/tree/sub/f")
    assert client.sendcmd("RNFR /tree").startswith("350") and client.sendcmd("RNTO /moved").startswith("250")
    assert client.cwd("/moved").startswith("250") and client.nlst() == []
    for gone in ("/tree", "/tree/sub"):
        with pytest.raises(ftplib.error_perm, match="^550"):
            client.cwd(gone)
    client.delete("/a/c/f")
    assert client.sendcmd("RMD /a").startswith("250")
    assert client.sendcmd("MKD /a").startswith("257")
    with pytest.raises(ftplib.error_perm, match="^550"):
        client.cwd("/a/c")
    client.quit()


def test_a_folder_rename_by_copy_keeps_the_bytes_of_a_marker_that_holds_some(tmp_path):
    """A folder marker that another tool wrote bytes into (`dir/` with a body, on a store
    that keeps it): RMD refuses to drop such a marker, but a rename by copy wrote every marker
    anew, empty, and then deleted the old one with its bytes."""
    account = Account("carol", "c-" + secrets.token_urlsafe(10), "bucket3")
    srv = OssftpServer(tmp_path / "srv", [account], extra_args=["--rename", "copy"])
    srv.start()
    try:
        c = login(srv, account.username, account.password)
        c.mkd("md")
        c.mkd("md/sub")
        c.mkd("md/empty")
        c.storbinary("STOR md/f.txt", io.BytesIO(b"f"))
        marker = srv.bucket_dir() / "md" / "sub" / ".ossftp-dir"
        marker.write_bytes(b"bytes another tool put in the marker")
        c.rename("md", "md2")
        assert (srv.bucket_dir() / "md2" / "sub" / ".ossftp-dir").read_bytes() == b"bytes another tool put in the marker"
        assert (srv.bucket_dir() / "md2" / "empty" / ".ossftp-dir").read_bytes() == b""
        assert fetch(c, "md2/f.txt") == b"f"
        assert not (srv.bucket_dir() / "md").exists()
        c.quit()
    finally:
        srv.stop()


def test_a_file_another_process_stored_where_a_folder_was_emptied_here_is_a_file(tmp_path):
    """A process that deleted the last file of `a/sub` keeps `a/sub` (and `a`) as folders for a
    while, as on a disk; another process then removed `a` and stored a file named `a`. The first
    showed `a` as an empty folder for minutes (SIZE 550 "is a directory", STOR under it 550),
    long past its cache TTL, while RETR gave the file: the file wins."""
    account = Account("pa", "pa-pass", "shared")
    first = OssftpServer(tmp_path / "one", [account], extra_args=["--cache_ttl", "1"])
    second = OssftpServer(tmp_path / "two", [account],
                          extra_args=["--cache_ttl", "1", "--local_root", str((tmp_path / "one" / "root").resolve())])
    first.start()
    second.start()
    try:
        a, b = login(first, "pa", "pa-pass"), login(second, "pa", "pa-pass")
        a.mkd("a")
        (first.bucket_dir() / "a" / "sub").mkdir(parents=True)
        (first.bucket_dir() / "a" / "sub" / "x").write_bytes(b"x")
        a.delete("a/sub/x")
        a.cwd("/a/sub")  # kept, empty, for this process
        a.cwd("/")
        b.rmd("a")
        b.storbinary("STOR a", io.BytesIO(b"file-a"))
        time.sleep(2.5)  # past both cache TTLs
        assert a.size("a") == 6
        assert fetch(a, "a") == b"file-a"
        with pytest.raises(ftplib.error_perm, match="^550"):
            a.cwd("/a/sub")
        with pytest.raises(ftplib.error_perm, match="^550"):
            a.storbinary("STOR a/sub/y", io.BytesIO(b"yy"))
        assert sorted(p.name for p in first.bucket_dir().iterdir() if not p.name.startswith(".ossftp-")) == ["a"]
        assert (first.bucket_dir() / "a").read_bytes() == b"file-a"
        a.quit()
        b.quit()
    finally:
        first.stop()
        second.stop()
