"""`ossftp mount`: a real FUSE mount over the local store and over SeaweedFS, driven by the
shell tools people use on it, and the errno of everything object storage cannot do."""

from __future__ import annotations

import ctypes
import errno
import json
import hashlib
import decimal
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from fuse_mount import FuseMount, is_mounted
from ossftp_server import ossftp_binary
from seaweedfs import SeaweedFS
from test_interop import make_tree

MiB = 1024 * 1024


class Mounted:
    def __init__(self, root: Path, store_path, mount: FuseMount, kind: str, store_read=None, store_write=None,
                 store_mtime_ns=None):
        self.root = root  # the mount point
        self.kind = kind  # "local" or "s3"
        self.store_path = store_path  # key -> whether the store holds it
        self.store_read = store_read  # key -> the stored bytes
        self.store_write = store_write  # (key, bytes): an object put by another program
        self.store_mtime_ns = store_mtime_ns  # key -> the time the store keeps, in nanoseconds
        self.mount = mount


def _mount(kind: str, tmp_path: Path, seaweedfs, rename: str = "refuse", extra: list[str] | None = None):
    if kind == "local":
        (tmp_path / "data" / "bkt").mkdir(parents=True)
        args = ["--bucket", "bkt", "--local_root", str(tmp_path / "data")]
        env = None
        store_has = lambda key: (tmp_path / "data" / "bkt" / key).exists()  # noqa: E731
        store_read = lambda key: (tmp_path / "data" / "bkt" / key).read_bytes()  # noqa: E731

        def store_write(key: str, body: bytes) -> None:
            (tmp_path / "data" / "bkt" / key).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "data" / "bkt" / key).write_bytes(body)

        def store_mtime_ns(key: str) -> int:
            return (tmp_path / "data" / "bkt" / key).stat().st_mtime_ns
    else:
        bucket = "fuse-" + secrets.token_hex(4)
        client = seaweedfs.client()
        client.create_bucket(Bucket=bucket)
        args = ["--provider", "s3", "--endpoint", seaweedfs.endpoint, "--region", seaweedfs.region, "--bucket", bucket]
        env = {**os.environ, "AWS_ACCESS_KEY_ID": seaweedfs.admin.access_key,
               "AWS_SECRET_ACCESS_KEY": seaweedfs.admin.secret_key}

        def store_has(key: str) -> bool:
            return client.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0) > 0

        def store_read(key: str) -> bytes:
            return client.get_object(Bucket=bucket, Key=key)["Body"].read()

        def store_write(key: str, body: bytes) -> None:
            client.put_object(Bucket=bucket, Key=key, Body=body)

        def store_mtime_ns(key: str) -> int:
            return int(decimal.Decimal(client.head_object(Bucket=bucket, Key=key)["Metadata"]["mtime"]) * 10**9)
    args += ["--rename", rename, "--spool_dir", str(tmp_path / "spool"), *(extra or [])]
    mount = FuseMount(tmp_path / "mnt", args, env=env).start()
    return Mounted(tmp_path / "mnt", store_has, mount, kind, store_read, store_write, store_mtime_ns)


@pytest.fixture(params=["local", "s3"])
def mounted(request, tmp_path, seaweedfs):
    m = _mount(request.param, tmp_path, seaweedfs)
    try:
        yield m
    finally:
        m.mount.stop()
        print(m.mount.log_tail())


def sh(command: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_shell_tools(mounted):
    root = mounted.root
    assert sh("echo hello > a.txt && cat a.txt", root).stdout == "hello\n"
    assert mounted.store_path("a.txt")
    assert sh("mkdir -p d/e && cp /etc/services d/e/ && cmp /etc/services d/e/services", root).returncode == 0
    listing = sh("ls -l d/e", root).stdout
    assert "services" in listing and str(os.path.getsize("/etc/services")) in listing
    assert sh("echo more >> a.txt && cat a.txt", root).stdout == "hello\nmore\n"
    assert sh("rm a.txt && ls", root).stdout.split() == ["d"]
    assert not mounted.store_path("a.txt")
    removal = sh("rmdir d/e", root)
    assert removal.returncode != 0 and "not empty" in removal.stderr
    assert sh("rm d/e/services && rmdir d/e && rmdir d && ls -A", root).stdout == ""
    assert sh("ls -a", root).stdout.split() == [".", ".."]
    # A file where a folder was just removed is a file (it was shown as the folder: EIO).
    assert sh("mkdir h && rmdir h && echo x > h && cat h && mv h g && cat g", root).stdout == "x\nx\n"
    assert sh("rm g && ls -a", root).stdout.split() == [".", ".."]
    assert "Ignoring invalid" not in mounted.mount.log_tail()  # libfuse's complaint at each mount
    assert os.stat(root).st_mtime > time.time() - 3600  # directories show the mount's time, not 1970
    assert os.statvfs(root).f_bsize == 4096


def _local_folder(tmp_path: Path, folder: str, names: list[str], body: bytes) -> list[str]:
    """Files `names` holding `body` put straight into the local store's folder `folder`."""
    path = tmp_path / "data" / "bkt" / folder
    path.mkdir()
    for name in names:
        (path / name).write_bytes(body)
    return names


def test_a_large_directory_is_listed_in_full_and_in_order(tmp_path, seaweedfs):
    m = _mount("local", tmp_path, seaweedfs)
    try:
        names = _local_folder(tmp_path, "many", [f"n{index:05d}" for index in range(3000)], b"xy")
        # Many kernel buffers' worth: each readdir call resumes at the offset of the last.
        assert os.listdir(m.root / "many") == names
        lines = sh("ls -l many", m.root).stdout.splitlines()[1:]
        assert len(lines) == 3000 and all(line.split()[4] == "2" for line in lines)
    finally:
        m.mount.stop()


def _read_directory(path: Path, buffer_size: int, after_first=None) -> list[str]:
    """The names getdents64 gives with a buffer of `buffer_size` bytes (musl's readdir asks for
    2 KiB); `after_first` runs once the first buffer is read."""
    import struct

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    getdents64 = 217  # x86-64
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    names: list[str] = []
    try:
        buffer = ctypes.create_string_buffer(buffer_size)
        while True:
            count = libc.syscall(getdents64, descriptor, buffer, buffer_size)
            assert count >= 0, os.strerror(ctypes.get_errno())
            if count == 0:
                return names
            raw, offset = buffer.raw[:count], 0
            while offset < count:
                length = struct.unpack_from("<H", raw, offset + 16)[0]
                names.append(raw[offset + 19:offset + length].split(b"\0", 1)[0].decode())
                offset += length
            if after_first is not None:
                after_first()
                after_first = None
    finally:
        os.close(descriptor)


def test_a_directory_read_with_a_small_buffer_loses_and_repeats_nothing(tmp_path, seaweedfs):
    """A reader whose buffer is smaller than the kernel's page (musl's readdir, 2 KiB) takes
    part of each FUSE reply, and the kernel asks again from within it: the folder was listed
    again from its start and skipped into by count, so files deleted before the reader's
    position made it lose others, and the reads cost the square of the folder's size."""
    m = _mount("local", tmp_path, seaweedfs)
    try:
        names = _local_folder(tmp_path, "many", [f"name-{index:05d}" for index in range(2000)], b"x")
        assert _read_directory(m.root / "many", 2048) == [".", ".."] + names

        def delete_early_names():
            for name in names[:300]:
                os.unlink(m.root / "many" / name)

        seen = _read_directory(m.root / "many", 2048, after_first=delete_early_names)
        untouched = names[300:]
        assert [name for name in seen if name in set(untouched)] == untouched
        assert len(seen) == len(set(seen))
    finally:
        m.mount.stop()


def test_rm_r_of_folders_that_are_only_prefixes(mounted):
    """Folders no one made with mkdir exist only as the prefix of their files, and go away
    with the last of them: `rm -r` unlinked the files and then got ENOENT from rmdir of each
    such folder, exiting 1 though everything was removed."""
    for key in ("tree/x/1", "tree/x/2", "tree/y/deeper/3", "tree/4"):
        mounted.store_write(key, b"data")
    result = sh("rm -r tree", mounted.root)
    assert result.returncode == 0, result.stderr
    assert not (mounted.root / "tree").exists()
    assert not mounted.store_path("tree/")
    # A folder that never was is still missing.
    assert sh("rmdir never-there", mounted.root).returncode != 0


def test_a_folder_made_beside_the_mount_is_shown_and_kept(tmp_path, seaweedfs):
    """On the local store, a folder made in the bucket's folder by another program (no marker,
    nothing in it) was missing from `ls` and gave ENOENT. It is a folder, and stays one once
    a file written into it is removed; rmdir removes it from the disk."""
    m = _mount("local", tmp_path, seaweedfs)
    try:
        (tmp_path / "data" / "bkt" / "drop").mkdir()
        assert sh("ls", m.root).stdout.split() == ["drop"]
        assert sh("echo x > drop/f && rm drop/f && ls -A drop && ls", m.root).stdout.split() == ["drop"]
        assert sh("rmdir drop", m.root).returncode == 0
        assert not (tmp_path / "data" / "bkt" / "drop").exists()
    finally:
        m.mount.stop()


def test_a_shell_writing_into_a_full_local_store_hears_enospc(tmp_path, seaweedfs):
    """With the local store's disk full, `echo hello > f` on the mount said nothing and exited
    0, leaving f empty: the bytes waited in the spool's buffer and failed at the commit, and
    bash closes a builtin's redirection with dup2, whose error the kernel drops. The first
    write of an upload now asks the store's disk for room, as a write to that disk would."""
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(small)], check=True)
    mount = None
    try:
        (small / "data" / "bkt").mkdir(parents=True)
        mount = FuseMount(tmp_path / "mnt", ["--bucket", "bkt", "--local_root", str(small / "data"),
                                             "--spool_dir", str(tmp_path / "spool")]).start()
        root = tmp_path / "mnt"
        assert sh("echo kept > kept.txt", root).returncode == 0
        filler = small / "filler"
        sh(f"dd if=/dev/zero of={filler} bs=64k 2>/dev/null", tmp_path)  # until the disk is full
        for command in ("echo hello > new.txt", "printf abc > other.txt", "{ echo a; echo b; } > third.txt"):
            result = sh(command, root)
            assert result.returncode != 0 and "No space left on device" in result.stderr, (command, result)
        assert sh("cat kept.txt", root).stdout == "kept\n"
        filler.unlink()
        assert sh("echo hello > new.txt && cat new.txt", root).stdout == "hello\n"
        assert (small / "data" / "bkt" / "new.txt").read_bytes() == b"hello\n"
    finally:
        if mount:
            mount.stop()
        subprocess.run(["umount", str(small)], check=False)


def test_a_read_past_the_end_through_a_read_write_descriptor_is_the_end(mounted):
    """pread(2) at or past the end gives 0 bytes. Through a read-write descriptor of a stored
    file it gave EINVAL: such a descriptor opens its reader at the offset asked, and the store
    refused a range past the object's end."""
    path = mounted.root / "short.txt"
    path.write_bytes(b"abc")
    for flags in (os.O_RDONLY, os.O_RDWR):
        fd = os.open(path, flags)
        try:
            assert os.pread(fd, 4, 100) == b"" and os.pread(fd, 4, 3) == b"" and os.pread(fd, 4, 1) == b"bc"
        finally:
            os.close(fd)
    fd = os.open(path, os.O_RDWR)
    try:
        os.ftruncate(fd, 0)
        assert os.pread(fd, 1, 100) == b""
    finally:
        os.close(fd)
    assert path.read_bytes() == b""


def _second_mount(first: Mounted, tmp_path: Path) -> FuseMount:
    """Another mount of `first`'s bucket, on tmp_path/mnt2 with a spool of its own."""
    args = [*first.mount.args]
    args[args.index("--spool_dir") + 1] = str(tmp_path / "spool2")
    return FuseMount(tmp_path / "mnt2", args, env=first.mount.env).start()


@pytest.mark.parametrize("kind", ["local", "s3"])
@pytest.mark.parametrize("mode", [os.O_APPEND, os.O_EXCL], ids=["append", "exclusive"])
def test_two_mounts_creating_a_file_only_where_none_is_lose_no_acknowledged_line(kind, mode, tmp_path, seaweedfs):
    """Two mounts of one bucket each create `log.txt` to append to (O_APPEND|O_CREAT), or
    exclusively (O_EXCL: a lock file), and write a line; the second to close stored its line
    over the first's, and both closes answered 0: two holders of one lock. Such a file is
    stored only where none was made meanwhile: the later close gets EBUSY, and the line
    stored first stays."""
    first = _mount(kind, tmp_path, seaweedfs)
    second = None
    try:
        second = _second_mount(first, tmp_path)
        flags = os.O_WRONLY | mode | os.O_CREAT
        one = os.open(first.root / "log.txt", flags, 0o644)
        two = os.open(tmp_path / "mnt2" / "log.txt", flags, 0o644)
        assert os.write(one, b"one\n") == 4 and os.write(two, b"two\n") == 4
        os.close(two)
        with pytest.raises(OSError) as refused:
            os.close(one)
        assert refused.value.errno == errno.EBUSY
        assert first.store_read("log.txt") == b"two\n"
    finally:
        if second:
            second.stop()
        first.mount.stop()


def _append_lines(folder: str, tag: str, count: int, results) -> None:
    """Appends `count` lines to folder/log, each by its own open, write and close; puts the
    lines whose close returned 0 into `results`."""
    acknowledged = []
    for index in range(count):
        line = f"{tag}{index:04d}\n".encode()
        try:
            with open(f"{folder}/log", "ab") as handle:
                handle.write(line)
            acknowledged.append(line)
        except OSError as error:
            assert error.errno == errno.EBUSY, error
    results.put(acknowledged)


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_two_mounts_appending_to_one_file_lose_no_acknowledged_line(kind, tmp_path, seaweedfs):
    """Two mounts of one bucket each append lines to one file, a close per line. A line whose
    close returned 0 is in the file; one that met the other's change gets EBUSY. On the local
    store the check of the version continued and the rename that stores were two steps, and
    the other mount's line stored between them was replaced: a quarter of the acknowledged
    lines went missing."""
    import multiprocessing

    first = _mount(kind, tmp_path, seaweedfs)
    second = None
    try:
        second = _second_mount(first, tmp_path)
        (first.root / "log").write_bytes(b"")
        results = multiprocessing.get_context("fork").Queue()
        writers = [multiprocessing.get_context("fork").Process(target=_append_lines, args=(str(root), tag, 100, results))
                   for root, tag in ((first.root, "a"), (tmp_path / "mnt2", "b"))]
        for writer in writers:
            writer.start()
        acknowledged = [line for _ in writers for line in results.get(timeout=300)]
        for writer in writers:
            writer.join(timeout=60)
            assert writer.exitcode == 0
        stored = set(first.store_read("log").splitlines(keepends=True))
        missing = [line for line in acknowledged if line not in stored]
        assert acknowledged and not missing, f"{len(missing)} of {len(acknowledged)} acknowledged lines missing"
    finally:
        if second:
            second.stop()
        first.mount.stop()


def _mount_through(proxy, tmp_path: Path, seaweedfs, *extra: str):
    """A mount of a new SeaweedFS bucket through `proxy`: the mount, a client of the store, the
    bucket, and a function that reads a key from it."""
    bucket = "fuse-" + secrets.token_hex(4)
    client = seaweedfs.client()
    client.create_bucket(Bucket=bucket)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": seaweedfs.admin.access_key,
           "AWS_SECRET_ACCESS_KEY": seaweedfs.admin.secret_key}
    mount = FuseMount(tmp_path / "mnt", ["--provider", "s3", "--endpoint", proxy.endpoint, "--region", seaweedfs.region,
                                         "--bucket", bucket, "--spool_dir", str(tmp_path / "spool"), *extra],
                      env=env).start()
    return mount, client, bucket, lambda key: client.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_a_shell_redirection_stores_the_file_once(tmp_path, seaweedfs):
    """`echo $i > f` stored every file twice: the close of the descriptor bash duplicated onto
    1 committed it empty, then the output was stored again at the end, with a fresh look at the
    name between (eight requests a file where four do; 1,000 small files took longer than with
    s3fs). That close no longer commits when the file has no other open file; with one (a second
    open(2), which /proc cannot tell from a duplicate) it still does, so close returns only once
    the file is stored."""
    from holding_proxy import HoldingProxy

    puts: list[str] = []

    def count(method, path, headers, body):
        if method == "PUT":
            puts.append(path.split("?")[0])
        return headers, body

    proxy = HoldingProxy(seaweedfs.endpoint, hold_key="\0", rewrite=count)
    mount, client, bucket, read = _mount_through(proxy, tmp_path, seaweedfs)
    root = tmp_path / "mnt"
    try:
        result = sh("for i in 1 2 3; do echo $i > f$i; done; seq 3 > g; { echo a; /bin/echo b; } > h", root)
        assert result.returncode == 0, result.stderr
        assert [read(f"f{i}") for i in (1, 2, 3)] == [b"1\n", b"2\n", b"3\n"]
        assert read("g") == b"1\n2\n3\n" and read("h") == b"a\nb\n"
        assert sorted(puts) == sorted(f"/{bucket}/{name}" for name in ("f1", "f2", "f3", "g", "h")), puts
        # A duplicate: stored at the last close, not at the first.
        descriptor = os.open(root / "dup", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        copy = os.dup(descriptor)
        os.write(copy, b"via the copy\n")
        os.close(descriptor)
        assert f"/{bucket}/dup" not in puts
        os.close(copy)
        assert read("dup") == b"via the copy\n"
        # A second open of the path besides: each close of the writer commits, as before.
        writer = os.open(root / "two", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        reader = os.open(root / "two", os.O_RDONLY)
        os.write(writer, b"two opens\n")
        os.close(writer)
        assert read("two") == b"two opens\n"
        os.close(reader)
    finally:
        mount.stop()
        proxy.close()


def test_a_rename_that_must_not_replace_survives_its_copys_lost_answer(tmp_path, seaweedfs):
    """A rename with RENAME_NOREPLACE (`mv`'s first try) copies only where nothing is. When the
    store made the copy and its answer was lost, the retry met that copy and the rename failed
    as if the name were taken, leaving the file under both names. The copy is recognised as
    this rename's own now."""
    from holding_proxy import HoldingProxy

    proxy = HoldingProxy(seaweedfs.endpoint, hold_key="\0", lose_first_answer_to=lambda method, path, headers: (
        method == "PUT" and any(name.lower() == "x-amz-copy-source" for name in headers.keys())))
    mount, client, bucket, read = _mount_through(proxy, tmp_path, seaweedfs, "--rename", "copy")
    root = tmp_path / "mnt"
    try:
        (root / "a.txt").write_bytes(b"moved once")
        # renameat2 itself (mv falls back to a plain rename on EEXIST, which hid the failure).
        libc = ctypes.CDLL(None, use_errno=True)
        noreplace = 1
        status = libc.renameat2(-100, str(root / "a.txt").encode(), -100, str(root / "b.txt").encode(), noreplace)
        assert status == 0, os.strerror(ctypes.get_errno())
        assert proxy.first_answer_lost
        assert read("b.txt") == b"moved once"
        assert "Contents" not in client.list_objects_v2(Bucket=bucket, Prefix="a.txt")
    finally:
        mount.stop()
        proxy.close()


def test_a_store_without_conditional_writes_still_takes_exclusive_and_append_creates(tmp_path, seaweedfs):
    """On an S3 store that answers conditional writes (If-None-Match, If-Match) with 501
    NotImplemented, every O_EXCL create failed with EIO at close: lock files, and mkstemp's
    temporaries (rsync, `sed -i`). The condition is now checked by a HEAD just before the write:
    such files are stored, and one made meanwhile by another writer still wins (EBUSY)."""
    from holding_proxy import HoldingProxy

    proxy = HoldingProxy(seaweedfs.endpoint, hold_key="\0", refuse_conditions=True)
    mount, client, bucket, read = _mount_through(proxy, tmp_path, seaweedfs)
    root = tmp_path / "mnt"
    try:
        fd, name = tempfile.mkstemp(dir=root)
        assert os.write(fd, b"temporary\n") == 10
        os.close(fd)
        assert read(Path(name).name) == b"temporary\n"
        # Refused once, not sent again and again (501 is no answer to retry).
        assert proxy.conditions_refused == 1
        os.mkdir(root / "folder")
        assert (root / "folder").is_dir()
        with open(root / "folder" / "log.txt", "a") as log:
            log.write("first\n")
        with open(root / "folder" / "log.txt", "a") as log:
            log.write("second\n")
        assert read("folder/log.txt") == b"first\nsecond\n"
        for mode, theirs, mine in ((os.O_EXCL, b"theirs\n", b"mine\n"), (os.O_APPEND, b"theirs\n", b"mine\n"),
                                   (os.O_EXCL, b"", b"")):
            name = f"lock{mode}-{len(mine)}"
            fd = os.open(root / name, os.O_WRONLY | os.O_CREAT | mode, 0o644)
            client.put_object(Bucket=bucket, Key=name, Body=theirs, Metadata={"by": "them"})
            assert os.write(fd, mine) == len(mine)
            # Two empty lock files: the store's (made since the open) is not taken for this
            # close's own write whose answer was lost.
            with pytest.raises(OSError) as refused:
                os.close(fd)
            assert refused.value.errno == errno.EBUSY
            assert read(name) == theirs
            assert client.head_object(Bucket=bucket, Key=name)["Metadata"] == {"by": "them"}
    finally:
        mount.stop()
        proxy.close()


def test_file_times_are_stored_as_other_tools_read_them(tmp_path, seaweedfs):
    """A fractional time was stored as the shortest decimal ("1614834367.5"), which s3fs reads
    as 5 ns past the second: it is stored with nine fraction digits, as rclone and s3fs write.
    Setting the time a file already has (cp -p, rsync run again) copied the object onto itself,
    a new Last-Modified for every other client; and a time past the year 9999 crashed the mount."""
    m = _mount("s3", tmp_path, seaweedfs, extra=["--exact_times"])
    try:
        bucket = m.mount.args[m.mount.args.index("--bucket") + 1]
        client = seaweedfs.client()
        (m.root / "f").write_bytes(b"x")
        os.utime(m.root / "f", ns=(0, 1_614_834_367_500_000_000))
        head = client.head_object(Bucket=bucket, Key="f")
        assert head["Metadata"]["mtime"] == "1614834367.500000000"
        time.sleep(1.1)  # Last-Modified has whole seconds
        os.utime(m.root / "f", ns=(0, 1_614_834_367_500_000_000))
        assert client.head_object(Bucket=bucket, Key="f")["LastModified"] == head["LastModified"]
        assert os.stat(m.root / "f").st_mtime_ns == 1_614_834_367_500_000_000
        with pytest.raises(OSError) as refused:
            os.utime(m.root / "f", (0, 2**63 - 1))
        assert refused.value.errno in (errno.EINVAL, errno.EOVERFLOW)
        assert (m.root / "f").read_bytes() == b"x"
    finally:
        m.mount.stop()


def test_files_changed_in_place_keep_their_headers_and_metadata(tmp_path, seaweedfs):
    """An append (>>) or a patch in place (r+) stored the file again as application/octet-stream,
    without its Cache-Control or user metadata: s3fs then showed an executable of uid 1000 as
    root's -rw-r-----. They are the same file and keep them; a new file gets a type by its
    extension."""
    m = _mount("s3", tmp_path, seaweedfs)
    try:
        bucket = m.mount.args[m.mount.args.index("--bucket") + 1]
        client = seaweedfs.client()
        for name in ("appended.txt", "patched.txt"):
            # rclone's md5chksum would be wrong for the changed bytes: it goes.
            client.put_object(Bucket=bucket, Key=name, Body=b"0123456789", ContentType="application/x-custom",
                              CacheControl="max-age=7",
                              Metadata={"mode": "33261", "uid": "1000", "md5chksum": "eB5eJF1ptWaXm4bijSPyxw=="})
        with open(m.root / "appended.txt", "ab") as out:
            out.write(b"tail")
        with open(m.root / "patched.txt", "r+b") as out:
            out.seek(3)
            out.write(b"J")
        (m.root / "new.css").write_text("p {}")
        assert client.get_object(Bucket=bucket, Key="appended.txt")["Body"].read() == b"0123456789tail"
        assert client.get_object(Bucket=bucket, Key="patched.txt")["Body"].read() == b"012J456789"
        for name in ("appended.txt", "patched.txt"):
            head = client.head_object(Bucket=bucket, Key=name)
            assert (head["ContentType"], head["CacheControl"]) == ("application/x-custom", "max-age=7"), name
            assert head["Metadata"] == {"mode": "33261", "uid": "1000"}, name
        assert client.head_object(Bucket=bucket, Key="new.css")["ContentType"].startswith("text/css")
    finally:
        m.mount.stop()


def test_kernel_read_ahead_is_raised(mounted):
    # The kernel offers FUSE 128 KiB of read-ahead; the mount asks for 1 MiB (as root).
    device = os.stat(mounted.root).st_dev
    path = f"/sys/class/bdi/{os.major(device)}:{os.minor(device)}/read_ahead_kb"
    deadline = time.monotonic() + 5
    while open(path).read().strip() != "1024" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open(path).read().strip() == "1024"


def test_tree_in_and_out_is_identical(mounted, tmp_path):
    source, back = tmp_path / "source", tmp_path / "back"
    make_tree(source)
    (source / "empty-folder").rmdir()  # a prefix without objects is not kept without a marker
    assert sh(f"cp -r {source} tree && cp -r tree {back}", mounted.root).returncode == 0
    result = subprocess.run(["diff", "-r", str(source), str(back)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_mv_with_rename_refused_copies_then_deletes(mounted):
    root = mounted.root
    (root / "f").write_bytes(b"x" * 1000)
    with pytest.raises(OSError) as refused:
        os.rename(root / "f", root / "g")
    assert refused.value.errno == errno.EXDEV
    assert sh("mv f g && ls", root).stdout.split() == ["g"]
    assert (root / "g").read_bytes() == b"x" * 1000
    (root / "dir").mkdir()
    (root / "dir" / "in").write_bytes(b"y")
    assert sh("mv dir moved && ls moved", root).stdout.split() == ["in"]
    assert not (root / "dir").exists()


@pytest.mark.parametrize("kind,rename", [("local", "copy"), ("s3", "copy"), ("local", "native")])
def test_mv_with_rename_by_copy_or_natively(kind, rename, tmp_path, seaweedfs):
    m = _mount(kind, tmp_path, seaweedfs, rename=rename)
    try:
        (m.root / "f").write_bytes(b"z" * 5000)
        os.rename(m.root / "f", m.root / "g")
        assert (m.root / "g").read_bytes() == b"z" * 5000 and not (m.root / "f").exists()
        (m.root / "dir" / "sub").mkdir(parents=True)
        (m.root / "dir" / "sub" / "x").write_bytes(b"1")
        assert sh("mv dir moved && cat moved/sub/x", m.root).stdout == "1"
        assert m.store_path("moved/sub/x") and not m.store_path("dir/sub/x")
        # Onto directories, as rename(2): an empty one is replaced, one with entries is not.
        (m.root / "empty").mkdir()
        assert sh("mv -T moved empty && cat empty/sub/x", m.root).stdout == "1"
        assert sorted(os.listdir(m.root)) == ["empty", "g"]
        (m.root / "other").mkdir()
        with pytest.raises(OSError) as failure:
            os.rename(m.root / "other", m.root / "empty")
        assert failure.value.errno == errno.ENOTEMPTY
        with pytest.raises(OSError) as failure:
            os.rename(m.root / "g", m.root / "other")
        assert failure.value.errno == errno.EISDIR
        assert sorted(os.listdir(m.root)) == ["empty", "g", "other"]
        # A descriptor whose file was stored (fsync) and then renamed: open files go by name
        # here, so it writes and reads ENOENT (the write was EINVAL), and the file is intact.
        descriptor = os.open(m.root / "synced", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(descriptor, b"abc")
        os.fsync(descriptor)
        os.rename(m.root / "synced", m.root / "renamed")
        for call in (lambda: os.write(descriptor, b"d"), lambda: os.pread(descriptor, 3, 0)):
            with pytest.raises(OSError) as failure:
                call()
            assert failure.value.errno == errno.ENOENT
        os.close(descriptor)
        assert (m.root / "renamed").read_bytes() == b"abc"
        # The same for a file stored empty: it was made again under the old name.
        descriptor = os.open(m.root / "void", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        os.fsync(descriptor)
        os.rename(m.root / "void", m.root / "moved-void")
        with pytest.raises(OSError) as failure:
            os.write(descriptor, b"d")
        assert failure.value.errno == errno.ENOENT
        os.close(descriptor)
        assert not (m.root / "void").exists() and (m.root / "moved-void").read_bytes() == b""
    finally:
        m.mount.stop()


def test_one_gib_with_dd_and_concurrent_readers(mounted, tmp_path):
    source = tmp_path / "big.bin"
    subprocess.run(["dd", "if=/dev/urandom", f"of={source}", "bs=1M", "count=1024", "status=none"], check=True)
    expected = hashlib.sha256(source.read_bytes()).hexdigest()
    assert sh(f"dd if={source} of=big.bin bs=1M status=none", mounted.root).returncode == 0
    assert os.path.getsize(mounted.root / "big.bin") == 1024 * MiB
    digests: list[str] = []

    def read(path: Path) -> None:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(4 * MiB):
                digest.update(chunk)
        digests.append(digest.hexdigest())

    readers = [threading.Thread(target=read, args=(mounted.root / "big.bin",)) for _ in range(4)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    assert digests == [expected] * 4
    source.unlink()


def test_an_idle_mount_gives_its_free_memory_back(tmp_path, seaweedfs):
    """After a burst of copies and reads, the mount stayed at its peak for good: malloc keeps
    freed transfer buffers for reuse, and only gave back a free top of an arena above 32 MiB
    (a stress run ended at 175 MiB, 56 MiB of it free in malloc). Once the process has been
    quiet for a while, that free memory now goes back to the system."""
    import psutil

    mounted = _mount("s3", tmp_path, seaweedfs)
    try:
        process = psutil.Process(mounted.mount.proc.pid)
        source = tmp_path / "src.bin"
        source.write_bytes(os.urandom(40 << 20))

        def copy_and_read(index: int) -> None:
            target = mounted.root / f"f{index}.bin"
            shutil.copyfile(source, target)
            with open(target, "rb") as stream:
                while stream.read(1 << 20):
                    pass

        threads = [threading.Thread(target=copy_and_read, args=(index,)) for index in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        busy = process.memory_info().rss
        # The process is looked at every 10 s: the first quiet look after a busy one trims.
        deadline = time.monotonic() + 45
        while process.memory_info().rss > busy - (20 << 20) and time.monotonic() < deadline:
            time.sleep(1)
        idle = process.memory_info().rss
        assert idle <= busy - (20 << 20), f"{busy >> 20} MiB after the copies, {idle >> 20} MiB idle"
    finally:
        mounted.mount.stop()


def test_unsupported_operations_fail_with_their_errno(mounted):
    root = mounted.root
    (root / "f").write_bytes(b"data")

    def fails(call, code):
        with pytest.raises(OSError) as failure:
            call()
        assert failure.value.errno == code, f"{call}: {failure.value}"

    fails(lambda: os.link(root / "f", root / "hard"), errno.EPERM)
    fails(lambda: os.symlink("f", root / "soft"), errno.EPERM)
    fails(lambda: os.mkfifo(root / "fifo"), errno.EPERM)
    fails(lambda: os.chmod(root / "f", 0o600), errno.EPERM)
    os.chmod(root / "f", 0o644)  # what is shown already: allowed
    fails(lambda: os.chown(root / "f", 4242, 4242), errno.EPERM)
    fails(lambda: os.setxattr(root / "f", "user.k", b"v"), errno.EOPNOTSUPP)
    fails(lambda: os.rename(root / "f", root / "g"), errno.EXDEV)
    libc = ctypes.CDLL(None, use_errno=True)
    # fallocate(2) itself (glibc's posix_fallocate falls back to writing zeros).
    with open(root / "f", "r+b") as handle:
        assert libc.fallocate(handle.fileno(), 0, ctypes.c_long(0), ctypes.c_long(1 << 20)) == -1
        assert ctypes.get_errno() == errno.EOPNOTSUPP
    assert (root / "f").read_bytes() == b"data"
    # renameat2's RENAME_WHITEOUT (an overlay's marker) was done as a plain rename.
    for flag in (4,):  # RENAME_WHITEOUT
        assert libc.renameat2(-100, str(root / "f").encode(), -100, str(root / "g").encode(), flag) == -1
        assert ctypes.get_errno() == errno.EINVAL, flag
    assert sorted(os.listdir(root)) == ["f"]


def test_ignore_chmod_lets_cp_a_through(tmp_path, seaweedfs):
    m = _mount("local", tmp_path, seaweedfs, extra=["--ignore_chmod"])
    try:
        source = tmp_path / "src"
        (source / "sub").mkdir(parents=True)
        (source / "sub" / "secret.txt").write_text("s")
        (source / "sub" / "secret.txt").chmod(0o600)
        result = sh(f"cp -a {source} copy && chmod 700 copy/sub && chown 4242 copy/sub/secret.txt && touch copy/sub",
                    m.root)
        assert result.returncode == 0, result.stderr
        # Nothing is kept: the modes and owner shown are still the mount's.
        assert os.stat(m.root / "copy" / "sub" / "secret.txt").st_mode & 0o777 == 0o644
        assert (m.root / "copy" / "sub" / "secret.txt").read_text() == "s"
    finally:
        m.mount.stop()
    plain = _mount("local", tmp_path / "plain", seaweedfs)
    try:
        (plain.root / "d").mkdir()
        touched = sh("touch d", plain.root)
        assert touched.returncode != 0 and "not supported" in touched.stderr.lower()
    finally:
        plain.mount.stop()


def test_in_place_changes_up_to_the_limit(tmp_path, seaweedfs):
    m = _mount("local", tmp_path, seaweedfs, extra=["--max_rewrite_mb", "1"])
    try:
        (m.root / "small").write_bytes(b"0123456789")
        with open(m.root / "small", "r+b") as handle:
            handle.seek(3)
            handle.write(b"xyz")
        assert (m.root / "small").read_bytes() == b"012xyz6789"
        os.truncate(m.root / "small", 4)
        assert (m.root / "small").read_bytes() == b"012x"
        os.truncate(m.root / "small", 6)
        assert (m.root / "small").read_bytes() == b"012x\0\0"
        (m.root / "large").write_bytes(b"L" * (2 * MiB))
        with pytest.raises(OSError) as failure:
            with open(m.root / "large", "r+b") as handle:
                handle.seek(5)
                handle.write(b"no")
                handle.flush()
        assert failure.value.errno == errno.EFBIG
        assert (m.root / "large").read_bytes() == b"L" * (2 * MiB)
        with open(m.root / "large", "ab") as handle:  # at the end: continued server-side
            handle.write(b"tail")
        assert (m.root / "large").read_bytes() == b"L" * (2 * MiB) + b"tail"
        # Growing stores its zeros as bytes, written while the caller waits: at most the limit
        # at once (`truncate -s 10T` of a small file wrote zeros for hours, and a kill did not
        # stop it). Stored, being written, or by a write past the end.
        with pytest.raises(OSError) as failure:
            os.truncate(m.root / "small", 10 << 40)
        assert failure.value.errno == errno.EFBIG
        assert (m.root / "small").read_bytes() == b"012x\0\0"
        with open(m.root / "new", "wb") as handle:
            handle.write(b"n")
            handle.flush()
            with pytest.raises(OSError) as failure:
                os.pwrite(handle.fileno(), b"far", 2 * MiB)
            assert failure.value.errno == errno.EFBIG
            os.ftruncate(handle.fileno(), MiB // 2)
        assert (m.root / "new").read_bytes() == b"n" + b"\0" * (MiB // 2 - 1)
        # Set to its final size first, then written in order (downloaders do): no zero is
        # stored, and no bound applies.
        body = os.urandom(3 * MiB)
        with open(m.root / "sized", "wb") as handle:
            os.ftruncate(handle.fileno(), len(body))
            handle.write(body)
        assert (m.root / "sized").read_bytes() == body
        # truncate(2) of the path, not through the writer's descriptor, is refused at once: it
        # would fail the writer's close.
        with open(m.root / "grow", "wb") as handle:
            handle.write(b"g")
            handle.flush()
            with pytest.raises(OSError) as failure:
                os.truncate(m.root / "grow", 3 * MiB)
            assert failure.value.errno == errno.EFBIG
        assert (m.root / "grow").read_bytes() == b"g"
        # Left short of the size set, it owes more zeros than the limit at its close.
        handle = open(m.root / "short", "wb")
        os.ftruncate(handle.fileno(), 3 * MiB)
        handle.write(b"s")
        with pytest.raises(OSError) as failure:
            handle.close()
        assert failure.value.errno == errno.EFBIG
        # O_RDONLY|O_TRUNC truncates, as on Linux's own file systems (it did nothing).
        os.close(os.open(m.root / "small", os.O_RDONLY | os.O_TRUNC))
        assert (m.root / "small").read_bytes() == b""
    finally:
        m.mount.stop()


def test_only_the_writers_own_close_commits(mounted):
    path = mounted.root / "shared.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"a" * MiB)
    child = os.fork()
    if child == 0:  # closes its inherited copy of the descriptor, as a forked helper would
        os.close(fd)
        os._exit(0)
    assert os.waitpid(child, 0)[1] == 0
    # A refused unmount makes the kernel flush open files too.
    assert subprocess.run(["fusermount3", "-u", str(mounted.root)], capture_output=True).returncode != 0
    assert not mounted.store_path("shared.bin")
    os.write(fd, b"b" * MiB)
    os.close(fd)
    assert path.read_bytes() == b"a" * MiB + b"b" * MiB


def test_a_length_field_rewritten_after_an_append_is_stored(mounted):
    """A write before the old end after one at the end (a header rewritten once the data is
    appended, as WAV, zip and tar -r writers do): the kept prefix of a small file is in the
    spool, where it can still change. On the local store it was copied in the store, and the
    rewrite failed with EINVAL at close, leaving the stale header stored."""
    path = mounted.root / "sized.bin"
    path.write_bytes((4).to_bytes(4, "little") + b"abcd")
    with open(path, "r+b", buffering=0) as file:
        file.seek(0, os.SEEK_END)
        file.write(b"efgh")
        file.seek(0)
        file.write((8).to_bytes(4, "little"))
    assert mounted.store_read("sized.bin") == (8).to_bytes(4, "little") + b"abcdefgh"
    # Appended with O_APPEND, then cut back.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"ijkl")
    os.ftruncate(fd, 6)
    os.close(fd)
    assert mounted.store_read("sized.bin") == (8).to_bytes(4, "little") + b"ab"


def test_a_child_that_writes_after_its_parent_closed_is_stored_when_it_exits(mounted):
    """`Popen(stdout=file)` closes the parent's copy at once; the child's writes were stored
    only at the release the kernel sends after the exit, and the parent's `wait` could return
    before: `cat` then showed the file empty."""
    for attempt in range(10):
        path = mounted.root / f"out-{attempt}.txt"
        with open(path, "w") as out:
            child = subprocess.Popen(["bash", "-c", "sleep 0.05; seq 1 5"], stdout=out)
        assert child.wait(30) == 0
        assert path.read_text() == "1\n2\n3\n4\n5\n"
        assert mounted.store_path(f"out-{attempt}.txt")
    # A shell's `exec > file` keeps a duplicate of its descriptor: its commands' exits do not
    # commit the file (each would store it again, whole), the shell's own end does.
    script = subprocess.Popen(["bash", "-c", "exec > log.txt; echo 1; /bin/echo 2; /bin/true; sleep 2; echo 3"],
                              cwd=mounted.root)
    time.sleep(1)
    # Shown (and growing) on the mount meanwhile; the close of the descriptor the shell
    # duplicated onto 1 does not store it empty first (two uploads for every `cmd > file`).
    assert (mounted.root / "log.txt").stat().st_size == 4
    assert not mounted.store_path("log.txt")
    assert script.wait(30) == 0
    assert (mounted.root / "log.txt").read_text() == "1\n2\n3\n"


def test_a_file_being_written_by_another_process(mounted):
    root = mounted.root
    writer = open(root / "grow.bin", "wb")
    writer.write(b"g" * MiB)
    writer.flush()
    assert os.stat(root / "grow.bin").st_size == MiB  # shown while written
    listed = sh("ls -l", root).stdout.splitlines()[1:]  # and listed so, as a copy in progress
    assert [(line.split()[4], line.split()[-1]) for line in listed] == [(str(MiB), "grow.bin")]
    # Read by another descriptor from the writer's spool, also as it grows, then stored.
    assert sh("md5sum < grow.bin", root).stdout.split()[0] == hashlib.md5(b"g" * MiB).hexdigest()
    other = os.open(root / "grow.bin", os.O_RDONLY)
    assert os.pread(other, 4, MiB - 2) == b"gg"
    writer.write(b"h" * 10)
    writer.flush()
    assert os.pread(other, 4, MiB - 2) == b"gghh"
    with pytest.raises(OSError) as refused:
        os.open(root / "grow.bin", os.O_WRONLY)  # changing it in place: nothing stored to start from
    assert refused.value.errno == errno.EBUSY
    assert sh("rm grow.bin && ls", root).stdout == ""
    with pytest.raises(OSError) as gone:
        os.pread(other, 4, 0)
    assert gone.value.errno == errno.ENOENT
    os.close(other)
    writer.write(b"h" * MiB)  # the writer goes on; its bytes are dropped, as for an unlinked file
    writer.close()
    assert not mounted.store_path("grow.bin") and not (root / "grow.bin").exists()

    with open(root / "kept.bin", "wb") as writer:
        writer.write(b"k" * 1000)
        writer.flush()
        reader = os.open(root / "kept.bin", os.O_RDONLY)
        assert os.pread(reader, 2000, 0) == b"k" * 1000
    assert os.pread(reader, 2000, 0) == b"k" * 1000  # stored: read from the object
    os.close(reader)


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_git_clone_into_the_mount(kind, tmp_path, seaweedfs):
    """git's index-pack writes the pack through one descriptor and reads it back through
    another: EBUSY made every clone and fetch into the mount fail."""
    source = tmp_path / "source"
    source.mkdir()
    assert sh("git init -q && git config user.email t@e.st && git config user.name t && mkdir -p d/e"
              " && head -c 300000 /dev/urandom > blob.bin && head -c 20000000 /dev/urandom > large.bin",
              source).returncode == 0
    # Six versions of 30 text files, so the pack holds deltas: index-pack resolves them in
    # threads, each opening the pack being written again, read-only.
    for version in range(6):
        for index in range(30):
            lines = [str(n) for n in range(400)]
            lines[index] = f"changed {version}"
            (source / "d" / "e" / f"t{index}.txt").write_text("\n".join(lines))
        assert sh(f"git add -A && git commit -q -m v{version}", source).returncode == 0
    mounted = _mount(kind, tmp_path, seaweedfs, rename="copy" if kind == "s3" else "native")
    try:
        cloned = sh(f"git -c pack.threads=2 clone -q file://{source} clone && cd clone && git fsck --strict"
                    " && git log --oneline", mounted.root)
        assert cloned.returncode == 0 and "v5" in cloned.stdout, cloned.stderr
        assert (mounted.root / "clone" / "blob.bin").read_bytes() == (source / "blob.bin").read_bytes()
        # The pack holds 20 MB that do not compress: larger than a part, so on S3 its first
        # part went up while index-pack still wrote and read the pack.
        assert (mounted.root / "clone" / "large.bin").read_bytes() == (source / "large.bin").read_bytes()
    finally:
        mounted.mount.stop()


def test_a_new_file_keeps_only_its_first_parts_once_sent(tmp_path, seaweedfs):
    """Sent parts stay in the spool only up to a limit: `--max_rewrite_mb` for a file opened
    to read and write, the first part for one opened only to write (where a header filled in
    last is). Past them a write or read back of bytes already sent is refused (EINVAL) and the
    upload goes on; the kept first bytes and the part being written stay open."""
    mounted = _mount("s3", tmp_path, seaweedfs, extra=["--max_rewrite_mb", "20"])
    try:
        chunk = bytes(range(256)) * (MiB // 256)
        for name, flags in (("rw", os.O_RDWR), ("wo", os.O_WRONLY)):
            descriptor = os.open(mounted.root / name, flags | os.O_CREAT | os.O_TRUNC)
            for _ in range(40):
                os.write(descriptor, chunk)
            os.pwrite(descriptor, b"head", 3)  # in the first part, kept either way
            calls = [lambda: os.pwrite(descriptor, b"x", 20 * MiB)]
            if flags == os.O_RDWR:
                calls.append(lambda: os.pread(descriptor, 1, 20 * MiB))
                assert os.pread(descriptor, 4, 3) == b"head"
            for call in calls:
                with pytest.raises(OSError) as failure:
                    call()
                assert failure.value.errno == errno.EINVAL
            os.pwrite(descriptor, b"end", 40 * MiB - 3)
            os.close(descriptor)
            expected = bytearray(chunk * 40)
            expected[3:7] = b"head"
            expected[-3:] = b"end"
            assert hashlib.sha256(mounted.store_read(name)).hexdigest() == hashlib.sha256(bytes(expected)).hexdigest()
        assert not list((tmp_path / "spool").rglob("upload-*"))
    finally:
        mounted.mount.stop()


def test_a_new_file_is_changed_and_read_while_its_bytes_are_in_the_spool(mounted):
    root = mounted.root
    descriptor = os.open(root / "seq", os.O_RDWR | os.O_CREAT | os.O_TRUNC)
    os.write(descriptor, b"a" * 10)
    assert os.pwrite(descriptor, b"bb", 5) == 2
    assert os.pwrite(descriptor, b"cccc", 8) == 4  # over the end: the rest is appended
    assert os.pread(descriptor, 100, 0) == b"aaaaabbacccc"
    os.ftruncate(descriptor, 9)  # cut back while in the spool, then written on from there
    assert os.pwrite(descriptor, b"ccc", 9) == 3
    assert os.pread(descriptor, 100, 0) == b"aaaaabbacccc"
    # Past the first 16 MiB part, once a second has begun, the first is on its way to the
    # store (S3): its file stays in the spool until the close, so a write there (a header
    # filled in last) and a read back still work; the patched part is sent again. The local
    # store keeps the whole upload in one spool file.
    tail = bytes(range(256)) * (17 * MiB // 256)
    os.lseek(descriptor, 0, os.SEEK_END)
    os.write(descriptor, tail)
    os.write(descriptor, tail)
    os.pwrite(descriptor, b"x", 3)
    os.pwrite(descriptor, b"yy", 16 * MiB - 1)  # across the first two parts
    expected = bytearray(b"aaaxabbacccc" + tail + tail)
    expected[16 * MiB - 1:16 * MiB + 1] = b"yy"
    expected = bytes(expected)
    assert os.pread(descriptor, 8, 0) == expected[:8]
    assert os.pread(descriptor, 4, 16 * MiB - 2) == expected[16 * MiB - 2:16 * MiB + 2]
    reader = os.open(root / "seq", os.O_RDONLY)  # another descriptor, as git's index-pack opens
    assert os.pread(reader, 6, 0) == expected[:6]
    os.close(reader)
    assert os.pread(descriptor, 5, len(expected) - 5) == expected[-5:]
    os.close(descriptor)
    assert hashlib.sha256((root / "seq").read_bytes()).hexdigest() == hashlib.sha256(expected).hexdigest()
    assert hashlib.sha256(mounted.store_read("seq")).hexdigest() == hashlib.sha256(expected).hexdigest()

    # vim writes its swap file's first block again as it goes.
    (root / "notes.txt").write_text("one\n")
    messages = mounted.root.parent / "vim-messages"
    result = subprocess.run(["vim", "-N", "-u", "NONE", "-i", "NONE", "-es", "-c", "set directory=.",
                             "-c", "normal! Gotwo", "-c", "preserve", "-c", "normal! othree", "-c", "preserve",
                             "-c", f"redir! > {messages}", "-c", "messages", "-c", "redir END", "-c", "wq", "notes.txt"],
                            cwd=root, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, messages.read_text()
    assert "E297" not in messages.read_text()
    assert (root / "notes.txt").read_text() == "one\ntwo\nthree\n"
    assert sorted(os.listdir(root)) == ["notes.txt", "seq"]  # the swap file is gone


def test_descriptors_changing_one_file_lose_nothing(mounted):
    root = mounted.root
    path = root / "a"
    path.write_bytes(b"base\n")
    first = os.open(path, os.O_WRONLY | os.O_APPEND)
    second = os.open(path, os.O_WRONLY | os.O_APPEND)
    os.write(first, b"A1\n")
    # The second's first change waits for the first to be stored, but gives up soon once the
    # first sits on its change: the kernel holds the file's lock through the second's write,
    # so the first could not write again meanwhile (both waited 3 s). Never zeros, never a
    # write dropped behind a success.
    started = time.monotonic()
    with pytest.raises(OSError) as failure:
        os.write(second, b"B1\n")
    assert failure.value.errno == errno.EBUSY and time.monotonic() - started < 1
    # The same, with the second's write under way while the first writes again (`dd bs=1`).
    attempt = {}

    def write_second():
        try:
            os.write(second, b"B1\n")
        except OSError as error:
            attempt["errno"] = error.errno
    other = threading.Thread(target=write_second)
    other.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert os.write(first, b"A2\n") == 3
    assert time.monotonic() - started < 1
    other.join(timeout=10)
    assert attempt.get("errno") == errno.EBUSY
    # A close while the second's write waits (`echo >>` beside `echo >>`): the write goes on
    # after the first's bytes.
    other = threading.Thread(target=write_second)
    attempt.clear()
    other.start()
    time.sleep(0.02)  # well within the wait for an idle writer (250 ms); before it, no wait at all
    os.close(first)
    other.join(timeout=10)
    assert "errno" not in attempt
    os.close(second)
    assert path.read_bytes() == b"base\nA1\nA2\nB1\n"

    # A read-write descriptor sees what another stored since (read-modify-write programs).
    (root / "rw.txt").write_bytes(b"0000000000")
    first = os.open(root / "rw.txt", os.O_RDWR)
    os.pwrite(first, b"A", 0)
    os.fsync(first)
    second = os.open(root / "rw.txt", os.O_RDWR)
    os.pwrite(second, b"B", 1)
    os.close(second)
    assert os.pread(first, 10, 0) == b"AB00000000"
    os.pwrite(first, b"C", 2)
    os.close(first)
    assert (root / "rw.txt").read_bytes() == b"ABC0000000"
    # A new file's writer going on after its fsync, once another appended and stored: on after it.
    writer = os.open(root / "n.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.write(writer, b"A0\n")
    os.fsync(writer)
    assert sh("echo B0-long-line >> n.txt", root).returncode == 0
    os.write(writer, b"A1\n")
    os.close(writer)
    assert (root / "n.txt").read_bytes() == b"A0\nB0-long-line\nA1\n"

    # Twenty appenders waiting on a busy file hold up nothing else on the mount.
    holder = os.open(root / "hold.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.write(holder, b"held\n")
    waiters = subprocess.Popen(["bash", "-c", "for i in $(seq 20); do (echo x >> hold.txt) 2>/dev/null & done; wait"],
                               cwd=root)
    time.sleep(0.5)
    started = time.monotonic()
    (root / "unrelated.txt").write_text("quick")
    os.stat(root / "unrelated.txt")
    assert time.monotonic() - started < 2.5  # well before the waiters give up (3 s)
    waiters.wait(timeout=30)
    os.close(holder)

    # Two shell loops appending to one log: each `>>` waits for the other's, every line lands.
    result = sh("for i in $(seq 40); do echo A$i >> log; done & for i in $(seq 40); do echo B$i >> log; done; wait",
                root)
    assert result.stderr == ""
    lines = (root / "log").read_text().splitlines()
    assert sorted(lines) == sorted([f"A{i}" for i in range(1, 41)] + [f"B{i}" for i in range(1, 41)])

    # A long-running appender beside a reader, whose short read of the stored bytes makes the
    # kernel think the file smaller: the appends still go to the end.
    (root / "app").write_bytes(b"old\n")
    time.sleep(1.2)
    result = sh("( echo new1; sleep 1.5; echo new2 ) >> app & sleep 0.7; cat app > /dev/null; wait", root)
    assert result.stderr == ""
    assert (root / "app").read_bytes() == b"old\nnew1\nnew2\n"


def test_long_names_and_directories_with_files_being_written(mounted):
    root = mounted.root
    # statfs says 255 bytes a name: longer ones are refused at once, not at close.
    with pytest.raises(OSError) as failure:
        open(root / ("c" * 256), "wb")
    assert failure.value.errno == errno.ENAMETOOLONG
    (root / ("c" * 255)).write_bytes(b"hi")
    assert (root / ("c" * 255)).read_bytes() == b"hi"
    # A directory holding a file being written is not empty, and cannot move from under it.
    (root / "rd").mkdir()
    with open(root / "rd" / "f", "wb") as inside:
        inside.write(b"data")
        inside.flush()
        for call, code in ((lambda: os.rmdir(root / "rd"), errno.ENOTEMPTY),
                           (lambda: os.rename(root / "rd", root / "rd2"), errno.EBUSY)):
            with pytest.raises(OSError) as failure:
                call()
            assert failure.value.errno == code
    assert (root / "rd" / "f").read_bytes() == b"data"
    assert sorted(os.listdir(root)) == ["c" * 255, "rd"]


def test_sqlite_databases_in_the_mount(mounted, tmp_path):
    # sqlite writes its database in place, reads back its journal while writing it, and in
    # TRUNCATE mode cuts the journal to nothing after each transaction.
    root = mounted.root
    statements = "".join(f"insert into t values({i});" for i in range(30))
    for mode in ("delete", "truncate", "persist"):
        result = sh(f"sqlite3 {mode}.db 'PRAGMA journal_mode={mode}; create table t(a); {statements}"
                    f" select count(*), sum(a) from t; PRAGMA integrity_check;'", root)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split()[-2:] == ["30|435", "ok"], result.stdout
    # Two processes taking turns on one database (by sqlite's locks): no transaction is lost.
    sh("sqlite3 shared.db 'create table t(x)'", root)
    result = sh("( { echo 'insert into t values(1);'; sleep 2; echo 'insert into t values(3);'; } | sqlite3 shared.db ) &"
                " sleep 1; sqlite3 shared.db 'insert into t values(2);'; wait;"
                " sqlite3 shared.db 'select group_concat(x) from (select x from t order by x)'", root)
    assert result.stdout.split() == ["1,2,3"], result.stdout + result.stderr
    # A database made elsewhere and copied in, then changed there.
    local = tmp_path / "copied.db"
    subprocess.run(["sqlite3", str(local), f"create table t(a); {statements}"], check=True)
    shutil.copy(local, root / "copied.db")
    more = "".join(f"insert into t values({i});" for i in range(30, 40))
    result = sh(f"sqlite3 copied.db '{more} select count(*) from t; PRAGMA integrity_check;'", root)
    assert result.returncode == 0 and result.stdout.split() == ["40", "ok"], result.stderr


def test_append_then_read_from_the_start(mounted):
    # Python's and C's `a+`: the stored bytes are read from the store (on S3 a base of 6 MiB
    # is copied server-side, never into the spool), the appended ones from the spool.
    root = mounted.root
    for name, size in (("small.bin", 3000), ("large.bin", 6 * MiB)):
        base = os.urandom(size)
        (root / name).write_bytes(base)
        with open(root / name, "a+b") as handle:
            handle.write(b"tail")
            handle.seek(0)
            assert handle.read() == base + b"tail"
        assert (root / name).read_bytes() == base + b"tail"
    # A kept prefix under 8 MiB is read back into the spool: patched there, it reads back
    # patched (the local store copied even small ones server-side, and a patch was EINVAL).
    descriptor = os.open(root / "small.bin", os.O_RDWR)
    os.pwrite(descriptor, b"more", 3004)
    assert os.pwrite(descriptor, b"HEAD", 0) == 4
    assert os.pread(descriptor, 6, 0)[:4] == b"HEAD"
    os.close(descriptor)
    # A larger one stays in the store: a patch before its end is EINVAL until the close.
    base = os.urandom(9 * MiB)
    (root / "huge.bin").write_bytes(base)
    descriptor = os.open(root / "huge.bin", os.O_RDWR)
    os.pwrite(descriptor, b"more", 9 * MiB)
    with pytest.raises(OSError) as failure:
        os.pwrite(descriptor, b"HEAD", 0)
    assert failure.value.errno == errno.EINVAL
    os.close(descriptor)
    assert (root / "huge.bin").read_bytes() == base + b"more"


def test_new_files_grow_with_zeros(mounted):
    root = mounted.root
    assert sh("truncate -s 5 five && stat -c %s five", root).stdout == "5\n"
    assert (root / "five").read_bytes() == bytes(5)
    with open(root / "sparse", "wb") as out:
        out.truncate(3 * MiB)  # downloaders set the final size first, then write from the start
        out.write(b"head")
        out.seek(2 * MiB)
        out.write(b"tail")
    body = (root / "sparse").read_bytes()
    assert len(body) == 3 * MiB and body[:4] == b"head" and body[2 * MiB:2 * MiB + 4] == b"tail"
    assert body.count(0) == 3 * MiB - 8


@pytest.mark.parametrize("kind,signum", [("local", signal.SIGTERM), ("s3", signal.SIGTERM), ("local", signal.SIGINT)],
                         ids=["local-sigterm", "s3-sigterm", "local-sigint"])
def test_a_signal_unmounts_and_drops_an_open_upload(kind, signum, tmp_path, seaweedfs):
    m = _mount(kind, tmp_path, seaweedfs)
    handle = open(m.root / "open.bin", "wb")
    handle.write(b"q" * (3 * MiB))
    handle.flush()
    m.mount.proc.send_signal(signum)
    assert m.mount.proc.wait(timeout=20) == 0
    assert not is_mounted(m.root)
    with pytest.raises(OSError):
        handle.write(b"more")
        handle.close()
    assert not m.store_path("open.bin")


def test_the_next_mount_clears_what_a_killed_mount_left(tmp_path, seaweedfs):
    m = _mount("s3", tmp_path, seaweedfs)
    bucket = m.mount.args[m.mount.args.index("--bucket") + 1]
    client = seaweedfs.client()
    handle = open(m.root / "big.bin", "wb")
    handle.write(b"k" * (20 * MiB))  # past the first 16 MiB part: a multipart upload is open
    handle.flush()
    deadline = time.monotonic() + 20
    while not client.list_multipart_uploads(Bucket=bucket).get("Uploads") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads")
    m.mount.proc.kill()
    m.mount.proc.wait()
    with pytest.raises(OSError):
        handle.close()
    # Mounting again before the dead mount is unmounted says what to do (it said "not a directory").
    stale = subprocess.run([str(ossftp_binary()), "mount", str(m.root), *m.mount.args], env=m.mount.env,
                           capture_output=True, text=True, timeout=30)
    assert stale.returncode != 0
    assert f"{m.root} is a mount whose process has ended; unmount it first (fusermount3 -u {m.root})" in stale.stderr
    subprocess.run(["fusermount3", "-u", "-z", str(m.root)], capture_output=True)
    spool = tmp_path / "spool"
    left = [entry.name for entry in spool.iterdir() if entry.name.startswith("mount-run-")]
    assert len(left) == 1 and any((spool / left[0]).glob("upload-*"))
    # A second mount on the same spool, running meanwhile, is not taken for a killed one.
    other = FuseMount(tmp_path / "other", m.mount.args, env=m.mount.env, log=tmp_path / "other.log").start()
    again = FuseMount(m.root, m.mount.args, env=m.mount.env).start()
    try:
        deadline = time.monotonic() + 20
        while (spool / left[0]).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not (spool / left[0]).exists()
        assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")
        assert "dropped the unfinished upload of big.bin" in again.log_tail() + other.log_tail()
        runs = [entry.name for entry in spool.iterdir() if entry.name.startswith("mount-run-")]
        assert len(runs) == 2  # the two running mounts' own
        (again.mountpoint / "still.txt").write_text("fine")
        assert (tmp_path / "other" / "still.txt").read_text() == "fine"
    finally:
        again.stop()
        other.stop()
    # A mount that ends cleanly leaves no folder behind.
    assert [entry.name for entry in spool.iterdir() if entry.name.startswith("mount-run-")] == []


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_fusermount_unmount_ends_the_process(kind, tmp_path, seaweedfs):
    m = _mount(kind, tmp_path, seaweedfs)
    (m.root / "f").write_bytes(b"kept")
    reader = open(m.root / "f", "rb")
    busy = subprocess.run(["fusermount3", "-u", str(m.root)], capture_output=True, text=True)
    assert busy.returncode != 0 and "busy" in busy.stderr.lower()
    reader.close()
    assert subprocess.run(["fusermount3", "-u", str(m.root)]).returncode == 0
    assert m.mount.proc.wait(timeout=20) == 0
    assert m.store_path("f")


def test_mount_takes_store_bucket_home_and_permissions_from_a_config_account(tmp_path, seaweedfs):
    bucket = "fuse-" + secrets.token_hex(4)
    client = seaweedfs.client()
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="photos/old.jpg", Body=b"old")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"modules": {
        "ossftp": {"provider": "s3", "endpoint": seaweedfs.endpoint, "region": seaweedfs.region},
        "accounts": [
            {"login_username": "camera", "login_password": "unused", "bucket_name": bucket, "home_dir": "photos",
             "access_id": "env:MOUNT_KEY_ID", "access_secret": "env:MOUNT_SECRET", "permissions": "no-delete"},
            {"login_username": "viewer", "login_password": "unused", "bucket_name": bucket,
             "access_id": "env:MOUNT_KEY_ID", "access_secret": "env:MOUNT_SECRET", "permissions": "read-only"},
        ]}}))
    # No AWS variables: the credentials can only come from the account.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"MOUNT_KEY_ID": seaweedfs.admin.access_key, "MOUNT_SECRET": seaweedfs.admin.secret_key}
    camera = FuseMount(tmp_path / "camera", ["--config", str(config), "--account", "camera",
                                             "--spool_dir", str(tmp_path / "spool1")], env=env).start()
    try:
        assert os.listdir(camera.mountpoint) == ["old.jpg"]  # home_dir is the root
        (camera.mountpoint / "new.jpg").write_bytes(b"new")
        assert client.get_object(Bucket=bucket, Key="photos/new.jpg")["Body"].read() == b"new"
        with pytest.raises(OSError) as failure:
            os.unlink(camera.mountpoint / "old.jpg")  # no-delete, as over FTP
        assert failure.value.errno == errno.EACCES
        # A shell's redirection: the duplicated descriptor's close stores the file empty,
        # and the output continues it (it was refused as replacing a file: EACCES, and an
        # empty file the account could not replace).
        result = sh("echo hello > shell.txt && ls / > listing.txt", camera.mountpoint)
        assert result.returncode == 0, result.stderr
        assert client.get_object(Bucket=bucket, Key="photos/shell.txt")["Body"].read() == b"hello\n"
        assert b"tmp" in client.get_object(Bucket=bucket, Key="photos/listing.txt")["Body"].read()
        # Replacing a stored file is still refused; a change in place at the write, not at the
        # close (the write was taken and the close refused).
        descriptor = os.open(camera.mountpoint / "old.jpg", os.O_RDWR)
        with pytest.raises(OSError) as failure:
            os.pwrite(descriptor, b"X", 0)
        assert failure.value.errno == errno.EACCES
        os.close(descriptor)
        replaced = sh("echo other > shell.txt", camera.mountpoint)
        assert replaced.returncode != 0
        assert client.get_object(Bucket=bucket, Key="photos/shell.txt")["Body"].read() == b"hello\n"
    finally:
        camera.stop()
    viewer = FuseMount(tmp_path / "viewer", ["--config", str(config), "--account", "viewer",
                                             "--spool_dir", str(tmp_path / "spool2")], env=env).start()
    try:
        assert (viewer.mountpoint / "photos" / "new.jpg").read_bytes() == b"new"
        with pytest.raises(OSError) as failure:
            (viewer.mountpoint / "nope").write_bytes(b"x")
        assert failure.value.errno == errno.EROFS
    finally:
        viewer.stop()
    unknown = subprocess.run([str(ossftp_binary()), "mount", str(tmp_path / "camera"), "--foreground",
                              "--config", str(config), "--account", "nobody"],
                             capture_output=True, text=True, env=env, timeout=60)
    assert unknown.returncode != 0
    assert "no account nobody" in unknown.stderr


def test_relative_paths_are_taken_from_the_folder_the_mount_ran_in(tmp_path):
    """libfuse moves the process to / as it mounts: a relative --local_root listed nothing
    and a relative --spool_dir made every change in place ENOENT."""
    (tmp_path / "root" / "b").mkdir(parents=True)
    (tmp_path / "root" / "b" / "seen.txt").write_bytes(b"abcdef")
    mount = FuseMount(tmp_path / "mnt", ["--bucket", "b", "--local_root", "root", "--spool_dir", "spool"],
                      cwd=tmp_path).start()
    try:
        assert os.listdir(tmp_path / "mnt") == ["seen.txt"]
        descriptor = os.open(tmp_path / "mnt" / "seen.txt", os.O_RDWR)
        assert os.pwrite(descriptor, b"Z", 0) == 1
        os.close(descriptor)
        assert (tmp_path / "root" / "b" / "seen.txt").read_bytes() == b"Zbcdef"
        assert any(os.scandir(tmp_path / "spool"))  # the run's folder is there
    finally:
        mount.stop()


def test_detached_mount_with_its_options(tmp_path, seaweedfs):
    """Without --foreground the command returns once mounted and the mount lives on; the
    options shown (owner, modes, read-only) and the credentials file's checks."""
    data = tmp_path / "data" / "bkt"
    data.mkdir(parents=True)
    (data / "f.txt").write_bytes(b"hello")
    root = tmp_path / "mnt"
    root.mkdir()
    result = subprocess.run([str(ossftp_binary()), "mount", str(root), "--bucket", "bkt", "--local_root",
                             str(tmp_path / "data"), "--spool_dir", str(tmp_path / "spool"), "--read_only",
                             "--uid", "4242", "--gid", "4343", "--file_mode", "600", "--dir_mode", "750",
                             "--cache_ttl", "0", "--attr_timeout", "0", "--read_ahead_mb", "4", "--read_ahead_ranges", "2",
                             "--spool_budget_mb", "64"], capture_output=True, text=True, timeout=30)
    try:
        assert result.returncode == 0, result.stderr
        assert is_mounted(root)
        status = os.stat(root / "f.txt")
        assert (status.st_uid, status.st_gid, status.st_mode & 0o777) == (4242, 4343, 0o600)
        assert os.stat(root).st_mode & 0o777 == 0o750
        assert (root / "f.txt").read_bytes() == b"hello"
        with pytest.raises(OSError) as refused:
            (root / "new.txt").write_bytes(b"x")
        assert refused.value.errno == errno.EROFS
        # --cache_ttl 0 and --attr_timeout 0: a change behind the mount's back shows at once.
        (data / "f.txt").write_bytes(b"changed!")
        assert os.stat(root / "f.txt").st_size == 8
        vfs = os.statvfs(root)
        assert vfs.f_namemax == 255 and vfs.f_blocks > 0 and vfs.f_bavail > 0
    finally:
        # The kernel refuses an unmount (EBUSY) while anything holds a passing reference to the
        # mount, as a concurrent path lookup does: seen once in a full run, with nothing left
        # holding it a moment later. A user tries again; so does this test, a few times.
        deadline = time.monotonic() + 5
        while subprocess.run(["fusermount3", "-u", str(root)], capture_output=True).returncode != 0:
            if time.monotonic() > deadline or not is_mounted(root):
                break
            time.sleep(0.2)
    deadline = time.monotonic() + 20
    while subprocess.run(["pgrep", "-f", f"mount {root}"], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "the detached mount did not exit after fusermount3 -u"
        time.sleep(0.1)
    # A detached mount that fails says why on the command's own stderr (from its log).
    failed = subprocess.run([str(ossftp_binary()), "mount", str(root), "--bucket", "missing", "--local_root",
                             str(tmp_path / "data"), "--spool_dir", str(tmp_path / "spool")],
                            capture_output=True, text=True, timeout=30)
    # A missing bucket is the store's fault as on S3 (69, no usage), not the command line's.
    assert failed.returncode == 69 and "missing does not exist" in failed.stderr and "Usage" not in failed.stderr
    assert (tmp_path / "spool" / "mount.log").exists()
    # A credentials file others can read is refused, and says why.
    secrets_file = tmp_path / "creds"
    secrets_file.write_text("AK\nSK\n")
    secrets_file.chmod(0o644)
    refused = subprocess.run([str(ossftp_binary()), "mount", str(root), "--foreground", "--provider", "s3",
                              "--endpoint", seaweedfs.endpoint, "--bucket", "b", "--credentials_file",
                              str(secrets_file)], capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0 and "--credentials_file" in refused.stderr and not is_mounted(root)
    # Values that cannot be are refused before anything is mounted (a negative size or a time
    # past 64 bits of nanoseconds used to crash the mount).
    for bad in ("--read_ahead_ranges=0", "--read_ahead_ranges=65", "--read_ahead_mb=0", "--max_rewrite_mb=-1",
                "--spool_budget_mb=99999999999999", "--cache_ttl=nan", "--attr_timeout=1e300",
                "--kernel_read_ahead_kb=-4"):
        refused = subprocess.run([str(ossftp_binary()), "mount", str(root), "--foreground", "--bucket", "bkt",
                                  "--local_root", str(tmp_path / "data"), bad], capture_output=True, text=True, timeout=30)
        flag = bad.split("=")[0]
        assert refused.returncode != 0 and flag in refused.stderr and not is_mounted(root), (bad, refused.stderr)


def test_times_and_fsync(mounted):
    root = mounted.root
    (root / "t.txt").write_bytes(b"t")
    os.utime(root / "t.txt", (1_600_000_000, 1_600_000_000))
    assert os.stat(root / "t.txt").st_mtime == 1_600_000_000
    assert sh("cp -p t.txt copy.txt && stat -c %Y copy.txt", root).stdout == "1600000000\n"
    # A time set while a file is open holds if nothing is written after it, as with cp -p; a
    # write after it sets the time to now again, as write(2) does.
    for writes_after, expected in ((False, 1_600_000_000), (True, None)):
        name = f"open-{writes_after}.txt"
        with open(root / name, "wb") as handle:
            handle.write(b"a")
            handle.flush()
            os.utime(handle.fileno(), (1_600_000_000, 1_600_000_000))
            if writes_after:
                handle.write(b"b")
        mtime = os.stat(root / name).st_mtime
        if expected:
            assert mtime == expected, name
        else:
            assert abs(mtime - time.time()) < 60, name
    # Fractions of a second come back to the microsecond and never earlier than set: .1 came
    # back as .099999904, and `cp -u` after `cp -p` copied again. The store keeps them so too:
    # 300 ns past a microsecond was stored as that microsecond, so that once the mount's cache
    # of the time expired the copy was older than its source, and make rebuilt it every time.
    for nanoseconds in (1_700_000_000_100_000_000, 1_700_000_000_123_456_789, 1_700_000_000_999_999_999,
                        1_796_000_000_000_000_300, 1_796_000_000_123_456_300, -14_182_939_999_999_700):
        os.utime(root / "t.txt", ns=(nanoseconds, nanoseconds))
        shown = os.stat(root / "t.txt").st_mtime_ns
        assert 0 <= shown - nanoseconds < 1_000, (nanoseconds, shown)
        stored = mounted.store_mtime_ns("t.txt")
        assert 0 <= stored - nanoseconds < 1_000, (nanoseconds, stored)
    # A time set to the microsecond comes back as set: 17 of 40 came back a microsecond later
    # (rsync with nanosecond times then copied them on every run), and 23:59:59.999999 as
    # midnight of the next day. On the local store the file on disk has it too (.123456001).
    rng = random.Random(7)
    for seconds, micros in [(1_578_009_599, 999_999)] + [(rng.randrange(10**9, 2 * 10**9), rng.randrange(10**6))
                                                          for _ in range(40)]:
        nanoseconds = seconds * 1_000_000_000 + micros * 1_000
        os.utime(root / "t.txt", ns=(nanoseconds, nanoseconds))
        assert os.stat(root / "t.txt").st_mtime_ns == nanoseconds, (seconds, micros)
        if mounted.kind == "local":
            assert os.stat(root.parent / "data" / "bkt" / "t.txt").st_mtime_ns == nanoseconds, (seconds, micros)
    # touch with no time (UTIME_NOW) sets now, not now cut to the whole second: a stamp file
    # touched after a source was saved looked older than it, and make rebuilt.
    for _ in range(3):
        before = time.time_ns()
        os.utime(root / "t.txt")
        shown = os.stat(root / "t.txt").st_mtime_ns
        if shown % 1_000_000_000 >= 1_000_000:
            break
    assert before - 1_000 <= shown <= time.time_ns() + 1_000, (before, shown)
    assert shown % 1_000_000_000 >= 1_000_000  # three times within the first ms of a second: never
    # fsync returns once the object is stored, before close.
    fd = os.open(root / "synced.bin", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"s" * 1000)
    os.fsync(fd)
    assert mounted.store_path("synced.bin")
    os.close(fd)


def test_a_spool_folder_someone_else_could_plant_is_refused(tmp_path):
    # The default spool folder's name under /tmp is easy to guess: the mount refuses a folder
    # that is a link, another user's, or writable by others, rather than write into it.
    (tmp_path / "data" / "bkt").mkdir(parents=True)
    (tmp_path / "mnt").mkdir()
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    foreign = tmp_path / "foreign"
    foreign.mkdir(mode=0o700)
    os.chown(foreign, 65534, 65534)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    for spool in (link, foreign, shared):
        result = subprocess.run([str(ossftp_binary()), "mount", str(tmp_path / "mnt"), "--bucket", "bkt",
                                 "--local_root", str(tmp_path / "data"), "--spool_dir", str(spool)],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode != 0 and "no one else may write" in result.stderr, (spool, result.stderr)
        assert not (real / "mount.log").exists()
        served = subprocess.run([str(ossftp_binary()), "serve", "--port", "0", "--web_port", "0", "--local_root",
                                 str(tmp_path / "data"), "--spool_dir", str(spool)],
                                capture_output=True, text=True, timeout=30)
        assert served.returncode != 0 and "no one else may write" in served.stderr, (spool, served.stderr)


def test_shell_patterns_of_a_second_pass(mounted):
    import mmap

    root = mounted.root
    # Two appenders at once: the second waits (3 s), then EBUSY; never a gap of zeros.
    (root / "log").write_text("base\n")
    first = os.open(root / "log", os.O_WRONLY | os.O_APPEND)
    os.write(first, b"one\n")
    second = sh("echo two >> log", root)
    assert second.returncode != 0 and "busy" in second.stderr.lower()
    os.close(first)
    assert sh("echo two >> log && cat log", root).stdout == "base\none\ntwo\n"
    # Several `>` of one new name at once: each succeeds, the last to close wins, whole.
    result = sh("for i in 1 2 3 4; do (head -c 3000000 /dev/zero > same || echo FAIL) & done; wait", root)
    assert "FAIL" not in result.stdout + result.stderr
    assert (root / "same").stat().st_size == 3000000
    # A reader at the end sees what is appended later (tail -f).
    reader = open(root / "log", "rb")
    assert reader.read() == b"base\none\ntwo\n"
    sh("echo three >> log", root)
    deadline = time.monotonic() + 10
    more = b""
    while not more and time.monotonic() < deadline:
        time.sleep(0.3)
        more = reader.read()
    reader.close()
    assert more == b"three\n"
    # A new file cannot be mapped before it is stored: ENODEV, not SIGBUS at the first touch.
    with open(root / "mapped", "w+b") as new:
        new.truncate(8192)
        with pytest.raises(OSError) as refused:
            mmap.mmap(new.fileno(), 8192, mmap.MAP_SHARED)
        assert refused.value.errno == errno.ENODEV
    # Names the FTP side would read another way, and bytes that are not UTF-8: EINVAL.
    for name in (b"a\\b", b"\xff\xfe"):
        with pytest.raises(OSError) as bad:
            open(os.path.join(bytes(root), name), "wb").close()
        assert bad.value.errno == errno.EINVAL


def test_truncate_of_a_large_file_is_done_in_the_store(tmp_path, seaweedfs):
    m = _mount("local", tmp_path, seaweedfs, extra=["--max_rewrite_mb", "1"])
    try:
        (m.root / "big.log").write_bytes(os.urandom(3 * MiB))
        # coreutils' truncate opens the file and ftruncates it: no copy into the spool, so the
        # rewrite limit does not apply to what is kept; it bounds the zeros a growth adds.
        assert sh("truncate -s 5 big.log && truncate -s 1M big.log", m.root).returncode == 0
        body = (m.root / "big.log").read_bytes()
        assert len(body) == MiB and body[5:] == bytes(MiB - 5)
    finally:
        m.mount.stop()


def test_a_file_replaced_while_read_never_mixes(mounted):
    root = mounted.root
    old, new = os.urandom(40 * MiB), os.urandom(40 * MiB)
    (root / "swap.bin").write_bytes(old)
    reader = open(root / "swap.bin", "rb", buffering=0)
    got = reader.read(4 * MiB)
    (root / "swap.bin").write_bytes(new)  # another descriptor replaces it meanwhile
    try:
        while chunk := reader.read(MiB):
            got += chunk
        # The read-ahead may have had it all before the replacement: then it is the old file.
        assert got == old
    except OSError as error:
        assert error.errno == errno.EIO  # replaced while read: an error, not a mix of both
    finally:
        reader.close()
    assert (root / "swap.bin").read_bytes() == new
    # A second reader of the new version meanwhile: it filled the kernel's pages of the file,
    # and the first reader was handed them (1 MiB of the old file, then the new one's bytes).
    size = 20 * MiB
    (root / "pair.bin").write_bytes(b"1" * size)
    first = open(root / "pair.bin", "rb", buffering=0)
    try:
        got = first.read(MiB)
        (root / "pair.bin").write_bytes(b"2" * size)
        assert (root / "pair.bin").read_bytes() == b"2" * size
        try:
            while chunk := first.read(MiB):
                got += chunk
        except OSError as error:
            assert error.errno == errno.EIO
        assert b"2" not in got, f"{got.count(b'2')} bytes of the new version in the old one's read"
    finally:
        first.close()
    # Replaced by a longer one: the reader came to the old one's end, and the kernel, told the
    # new size, read on from the new object (the way a file appended elsewhere is followed).
    for old_size, new_size in ((MiB, 5 * MiB), (12000, 5 * MiB)):
        (root / "grow.bin").write_bytes(b"A" * old_size)
        with open(root / "grow.bin", "rb", buffering=0) as reader:
            got = reader.read(5)
            (root / "grow.bin").write_bytes(b"B" * new_size)
            try:
                while chunk := reader.read(64 * 1024):
                    got += chunk
                assert got == b"A" * old_size
            except OSError as error:
                assert error.errno == errno.EIO
            assert b"B" not in got, (old_size, len(got), got.count(b"B"))
    # A file that really grew (appended) is still followed, as `tail -f` does.
    (root / "log.txt").write_bytes(b"line 1\n" * 20000)
    with open(root / "log.txt", "rb", buffering=0) as reader:
        got = b""
        while chunk := reader.read(64 * 1024):
            got += chunk
        with open(root / "log.txt", "ab") as appender:
            appender.write(b"line 2\n" * 100)
        time.sleep(1.5)
        while chunk := reader.read(64 * 1024):
            got += chunk
        assert got == b"line 1\n" * 20000 + b"line 2\n" * 100


def test_a_signal_ends_the_mount_soon_while_the_store_does_not_answer(tmp_path, seaweedfs):
    """SIGTERM while a writer waits on a store that takes its uploads and never answers: each
    request would run out its 20 s low-speed limit and its retries first (36 s here, over two
    minutes with a store frozen for every request, past systemd's 90 s before SIGKILL). After
    a 10 s grace the store's requests fail instead; the writer gets an error, nothing is stored."""
    from holding_proxy import HoldingProxy

    bucket = "fuse-" + secrets.token_hex(4)
    seaweedfs.client().create_bucket(Bucket=bucket)
    # The parts are held: the empty file made at create and the multipart upload's start go
    # through, the writer fills the spool budget and then waits on the store.
    proxy = HoldingProxy(seaweedfs.endpoint, hold_key="partNumber=")
    env = {**os.environ, **seaweedfs.env()}
    mount = FuseMount(tmp_path / "mnt", ["--provider", "s3", "--endpoint", proxy.endpoint, "--region",
                                         seaweedfs.region, "--bucket", bucket, "--spool_dir", str(tmp_path / "spool"),
                                         "--spool_budget_mb", "64"], env=env).start()
    try:
        writer = subprocess.Popen(["dd", "if=/dev/zero", f"of={mount.mountpoint}/stuck.bin", "bs=1M", "count=200",
                                   "status=none"], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while proxy.held < 1:
            assert time.monotonic() < deadline, mount.log_tail()
            time.sleep(0.1)
        time.sleep(1)
        started = time.monotonic()
        mount.proc.send_signal(signal.SIGTERM)
        assert mount.proc.wait(timeout=120) == 0, mount.log_tail()
        assert time.monotonic() - started < 25, mount.log_tail()
        assert writer.wait(timeout=30) != 0
        assert not is_mounted(mount.mountpoint)
    finally:
        mount.stop()
        proxy.close()
    stored = seaweedfs.client().list_objects_v2(Bucket=bucket).get("Contents", [])
    assert [o["Size"] for o in stored if o["Key"] == "stuck.bin"] in ([], [0])


def test_an_upload_the_mount_could_not_abort_is_left_for_the_next_mount(tmp_path):
    """The store was down when a write failed, so its multipart upload could not be aborted: a
    clean unmount used to delete the journal that named it, leaving it in the bucket for good."""
    with SeaweedFS() as weed:
        weed.client().create_bucket(Bucket="orphans")
        spool = tmp_path / "spool"
        args = ["--provider", "s3", "--endpoint", weed.endpoint, "--region", weed.region, "--bucket", "orphans",
                "--spool_dir", str(spool)]
        env = {**os.environ, **weed.env()}
        mount = FuseMount(tmp_path / "mnt", args, env=env).start()
        try:
            chunk = os.urandom(1024 * 1024)
            with pytest.raises(OSError):
                with open(mount.mountpoint / "big.bin", "wb") as out:
                    for index in range(60):
                        out.write(chunk)
                        out.flush()
                        if index == 40:  # past two 16 MiB parts: a multipart upload is open
                            time.sleep(1)
                            weed._stop_process()
        finally:
            mount.stop(timeout=180)
        kept = [run for run in spool.iterdir() if run.name.startswith("mount-run-")]
        assert len(kept) == 1 and list((kept[0] / "journal").iterdir()), mount.log_tail()
        weed._start()
        assert weed.client().list_multipart_uploads(Bucket="orphans").get("Uploads")
        again = FuseMount(tmp_path / "mnt", args, env=env).start()
        try:
            deadline = time.monotonic() + 60
            while weed.client().list_multipart_uploads(Bucket="orphans").get("Uploads"):
                assert time.monotonic() < deadline, again.log_tail()
                time.sleep(0.5)
            assert not kept[0].exists()
        finally:
            again.stop()


def test_a_mount_point_in_use_or_holding_files_is_refused(tmp_path):
    (tmp_path / "data" / "bkt").mkdir(parents=True)
    args = ["--bucket", "bkt", "--local_root", str(tmp_path / "data"), "--spool_dir", str(tmp_path / "spool")]

    def mount_on(root: Path, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(ossftp_binary()), "mount", str(root), *args, *extra],
                              capture_output=True, text=True, timeout=30)

    held = tmp_path / "held"
    held.mkdir()
    (held / "notes.txt").write_text("mine")
    refused = mount_on(held)
    assert refused.returncode == 64 and "is not empty" in refused.stderr and not is_mounted(held)
    # A mount point not made yet is said so (it said "is not a directory").
    absent = mount_on(tmp_path / "absent")
    assert absent.returncode == 64 and f"mount point {tmp_path / 'absent'} does not exist" in absent.stderr, absent.stderr
    first = FuseMount(tmp_path / "mnt", args).start()
    try:
        # A second mount on top would hide the first one and everything open in it.
        on_top = mount_on(tmp_path / "mnt")
        assert on_top.returncode == 64 and "already a mount point" in on_top.stderr
        allowed = mount_on(held, "--allow_non_empty")
        assert allowed.returncode == 0 and is_mounted(held), allowed.stderr
    finally:
        subprocess.run(["fusermount3", "-u", str(held)], capture_output=True)
        first.stop()
    deadline = time.monotonic() + 20
    while subprocess.run(["pgrep", "-f", f"mount {held}"], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert (held / "notes.txt").read_text() == "mine"


def test_a_read_when_the_store_goes_away_fails_with_eio_not_eagain(tmp_path):
    """EAGAIN on a blocking read reads as "no data yet" to programs (Python's read returns
    None): a copy made while the store went away ended short, as if whole, with no error."""
    with SeaweedFS() as weed:
        weed.client().create_bucket(Bucket="gone")
        body = os.urandom(100 * 1024 * 1024)
        weed.client().put_object(Bucket="gone", Key="big.bin", Body=body)
        args = ["--provider", "s3", "--endpoint", weed.endpoint, "--region", weed.region, "--bucket", "gone",
                "--spool_dir", str(tmp_path / "spool")]
        mount = FuseMount(tmp_path / "mnt", args, env={**os.environ, **weed.env()}).start()
        try:
            got = 0
            with pytest.raises(OSError) as failure:
                with open(mount.mountpoint / "big.bin", "rb", buffering=0) as source:
                    while True:
                        chunk = source.read(1024 * 1024)
                        assert chunk is not None, f"a read said 'no data yet' after {got} bytes"
                        if not chunk:
                            break
                        got += len(chunk)
                        if got == 4 * 1024 * 1024:
                            weed._stop_process()
            assert failure.value.errno == errno.EIO, failure.value
            assert got < len(body)
        finally:
            mount.stop(timeout=180)


@pytest.mark.parametrize("kind,rename", [("local", "native"), ("s3", "copy")])
def test_rename_onto_or_truncate_of_a_file_being_written(kind, rename, tmp_path, seaweedfs):
    """rename(2) onto a file being written takes the name as unlink(2) would: the writer's
    bytes are dropped at its close, never stored over the renamed file. truncate(2) of the path
    cuts what is being written, as POSIX does to the one file all descriptors share."""
    m = _mount(kind, tmp_path, seaweedfs, rename=rename)
    try:
        _rename_onto_and_truncate_being_written(m.root)
    finally:
        m.mount.stop()


def _rename_onto_and_truncate_being_written(root: Path) -> None:
    (root / "src.txt").write_bytes(b"renamed-in")
    with open(root / "dst.txt", "wb") as writer:
        writer.write(b"pending")
        writer.flush()
        os.rename(root / "src.txt", root / "dst.txt")
        assert (root / "dst.txt").read_bytes() == b"renamed-in"
        writer.write(b" more")
    assert (root / "dst.txt").read_bytes() == b"renamed-in" and not (root / "src.txt").exists()

    # A new file: truncate by path while its writer has 100 bytes in the spool.
    with open(root / "new.bin", "wb") as writer:
        writer.write(b"x" * 100)
        writer.flush()
        os.truncate(root / "new.bin", 10)
        assert os.stat(root / "new.bin").st_size == 10
    assert (root / "new.bin").read_bytes() == b"x" * 10

    # A stored file changed in place through another descriptor, then truncated by path.
    (root / "stored.txt").write_bytes(b"0123456789")
    fd = os.open(root / "stored.txt", os.O_WRONLY)
    try:
        os.pwrite(fd, b"AA", 2)
        os.truncate(root / "stored.txt", 4)
    finally:
        os.close(fd)
    assert (root / "stored.txt").read_bytes() == b"01AA"


def test_ls_shows_a_file_being_replaced_as_stat_does(mounted):
    root = mounted.root
    (root / "old.txt").write_bytes(b"7 bytes")
    with open(root / "old.txt", "wb") as writer:  # O_TRUNC: a replacement in progress
        writer.write(b"n" * 1000)
        writer.flush()
        assert os.stat(root / "old.txt").st_size == 1000
        listed = [line.split() for line in sh("ls -l", root).stdout.splitlines()[1:]]
        assert [(fields[4], fields[-1]) for fields in listed] == [("1000", "old.txt")], listed
    assert (root / "old.txt").read_bytes() == b"n" * 1000


def test_a_listing_during_an_overwrite_never_brings_back_the_old_size(mounted):
    """`ls -l` in a loop while a file is replaced: a listing fetched before the commit ended
    used to hand the kernel (readdirplus) and the attribute cache the old size after close had
    returned, and the next reader got the file cut short; `truncate -s +1` then stored it cut."""
    root = mounted.root
    (root / "d").mkdir()
    stop = threading.Event()

    def list_forever() -> None:
        while not stop.is_set():
            subprocess.run(["ls", "-l", str(root / "d")], capture_output=True)

    listers = [threading.Thread(target=list_forever) for _ in range(2)]
    for lister in listers:
        lister.start()
    wrong = []
    try:
        for attempt in range(20):
            (root / "d" / "f").write_bytes(os.urandom(100_000))
            body = os.urandom(400_000 + attempt)
            (root / "d" / "f").write_bytes(body)
            seen = len((root / "d" / "f").read_bytes()), os.stat(root / "d" / "f").st_size
            if seen != (len(body), len(body)):
                wrong.append((attempt, seen))
            os.truncate(root / "d" / "f", len(body) + 1)
            if (root / "d" / "f").read_bytes() != body + b"\0":
                wrong.append((attempt, "truncate"))
    finally:
        stop.set()
        for lister in listers:
            lister.join()
    assert wrong == []


def test_an_upload_the_store_refuses_says_eacces_to_every_later_call(tmp_path, seaweedfs):
    """With a key that may only read, a file larger than a part fails at a write (its part is
    refused): that write, the next ones and close all get EACCES (close used to say EIO)."""
    bucket = "fuse-ro-" + secrets.token_hex(4)
    seaweedfs.client().create_bucket(Bucket=bucket)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": seaweedfs.readonly.access_key,
           "AWS_SECRET_ACCESS_KEY": seaweedfs.readonly.secret_key}
    mount = FuseMount(tmp_path / "mnt", ["--provider", "s3", "--endpoint", seaweedfs.endpoint, "--region",
                                         seaweedfs.region, "--bucket", bucket, "--spool_dir", str(tmp_path / "spool")],
                      env=env).start()
    try:
        fd = os.open(tmp_path / "mnt" / "big.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        codes = []
        for _ in range(64):
            try:
                os.write(fd, b"x" * MiB)
            except OSError as error:
                codes.append(error.errno)
                if len(codes) == 2:
                    break
        with pytest.raises(OSError) as closing:
            os.close(fd)
        assert codes == [errno.EACCES, errno.EACCES] and closing.value.errno == errno.EACCES, (codes, closing.value)
        assert not seaweedfs.client().list_objects_v2(Bucket=bucket).get("Contents")
    finally:
        mount.stop()


WRITE_MANY_FILES = r"""
import errno, os, sys, time
folder, count = sys.argv[1], int(sys.argv[2])
files, failed = [], None
for index in range(count):
    fd = os.open(f"{folder}/many-{index}.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    files.append(fd)
    try:
        os.write(fd, bytes([index]) * (512 << 10))
    except OSError as error:
        failed = (index, errno.errorcode[error.errno])
        break
print("failed", failed, flush=True)
for fd in files:
    try:
        os.close(fd)
    except OSError as error:
        print("close", errno.errorcode[error.errno], flush=True)
"""


def test_one_program_writing_more_files_than_the_spool_holds_gets_enospc_not_a_hang(tmp_path, seaweedfs):
    """Each file written to S3 takes a part's worth of spool budget until its part is full, so a
    program writing more files at once than the budget holds parts of waited for itself, for
    ever, in a state kill -9 could not end, and SIGTERM could not end the mount. With nothing
    stored for 30 s the write now fails with ENOSPC; the files before it are stored whole."""
    bucket = "fuse-" + secrets.token_hex(4)
    seaweedfs.client().create_bucket(Bucket=bucket)
    env = {**os.environ, **seaweedfs.env()}
    args = ["--provider", "s3", "--endpoint", seaweedfs.endpoint, "--region", seaweedfs.region, "--bucket", bucket,
            "--spool_dir", str(tmp_path / "spool"), "--spool_budget_mb", "32"]
    mount = FuseMount(tmp_path / "mnt", args, env=env).start()
    try:
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-c", WRITE_MANY_FILES, str(mount.mountpoint), "6"],
                                capture_output=True, text=True, timeout=120)
        assert 25 < time.monotonic() - started < 60, result.stdout
        assert "failed (4, 'ENOSPC')" in result.stdout, result.stdout + mount.log_tail()
        client = seaweedfs.client()
        for index in range(4):
            body = client.get_object(Bucket=bucket, Key=f"many-{index}.bin")["Body"].read()
            assert body == bytes([index]) * (512 << 10)
        # While such a writer waits, SIGTERM still ends the mount (it waited for the writer).
        writer = subprocess.Popen([sys.executable, "-c", WRITE_MANY_FILES, str(mount.mountpoint), "6"],
                                  stdout=subprocess.PIPE, text=True)
        time.sleep(3)
        assert writer.poll() is None
        stopping = time.monotonic()
        mount.proc.send_signal(signal.SIGTERM)
        assert mount.proc.wait(timeout=60) == 0, mount.log_tail()
        assert time.monotonic() - stopping < 20, mount.log_tail()
        writer.wait(timeout=30)
        assert not is_mounted(mount.mountpoint)
    finally:
        mount.stop()


def test_a_spool_budget_below_two_parts_is_refused(tmp_path):
    # With less, almost every write to S3 or OSS failed with ENOSPC.
    result = subprocess.run([str(ossftp_binary()), "mount", str(tmp_path), "--bucket", "b", "--spool_budget_mb", "7"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "--spool_budget_mb is 7; it must be 32 to 1073741824 (two parts of 16 MiB at least)" \
        in result.stderr, result.stderr


def test_a_mount_on_a_bucket_it_cannot_use_fails_at_once(tmp_path, seaweedfs):
    """A missing bucket or a wrong secret made a mount that reported success and then failed
    every call; the bucket is now looked at before mounting."""
    base = ["--provider", "s3", "--endpoint", seaweedfs.endpoint, "--region", seaweedfs.region,
            "--spool_dir", str(tmp_path / "spool")]
    seaweedfs.client().create_bucket(Bucket="fuse-there")
    (tmp_path / "mnt").mkdir()
    # With the store's reason (a wrong secret said "Permission denied" alone).
    cases = [(["--bucket", "fuse-no-such-bucket"], seaweedfs.env(),
              "No such file or directory (the bucket fuse-no-such-bucket)"),
             (["--bucket", "fuse-there"], {**seaweedfs.env(), "AWS_SECRET_ACCESS_KEY": "wrong"},
              "Permission denied (the bucket fuse-there: SignatureDoesNotMatch)")]
    for extra, credentials, expected in cases:
        try:
            result = subprocess.run([str(ossftp_binary()), "mount", str(tmp_path / "mnt"), *base, *extra],
                                    env={**os.environ, **credentials}, capture_output=True, text=True, timeout=60)
        finally:
            # A mount that came up after all (the failure this test is for) must not outlive it.
            if is_mounted(tmp_path / "mnt"):
                subprocess.run(["fusermount3", "-u", "-z", str(tmp_path / "mnt")], capture_output=True)
        assert result.returncode == 69 and "cannot use s3 bucket" in result.stderr and expected in result.stderr, \
            result.stderr
        assert "Usage:" not in result.stderr
        assert not is_mounted(tmp_path / "mnt")
    # No endpoint for S3 is the command line's fault, said so (it was "no answer: ...").
    result = subprocess.run([str(ossftp_binary()), "mount", str(tmp_path / "mnt"), "--provider", "s3",
                             "--bucket", "fuse-there", "--spool_dir", str(tmp_path / "spool")],
                            env={**os.environ, **seaweedfs.env()}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 64 and "the s3 provider needs --endpoint" in result.stderr, result.stderr
    # With the mount's usage, not the bare `ossftp <subcommand>` line.
    assert "Usage: ossftp mount [<options>] <mountpoint>" in result.stderr, result.stderr


def test_a_file_unlinked_while_open_is_still_read_and_written_through_its_descriptor(mounted, tmp_path):
    """Temporary files (Python's TemporaryFile, sqlite's temp files) are opened, unlinked,
    then written and read back: reads failed with ENOENT, and sqlite with "disk I/O error".
    Nothing of them is stored."""
    root = mounted.root
    fd = os.open(root / "tmp.bin", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"before unlink\n")
    os.unlink(root / "tmp.bin")
    os.write(fd, b"after unlink\n")
    assert os.pread(fd, 100, 0) == b"before unlink\nafter unlink\n"
    os.ftruncate(fd, 6)
    assert os.pread(fd, 100, 0) == b"before"
    os.close(fd)
    with tempfile.TemporaryFile(dir=root) as handle:
        handle.write(b"x" * 300_000)
        handle.seek(0)
        assert handle.read() == b"x" * 300_000
    script = ("import sqlite3; c = sqlite3.connect(':memory:'); c.execute('pragma temp_store=file'); "
              "c.execute('create temp table t(a)'); "
              "c.executemany('insert into t values (?)', ((i,) for i in range(200000))); "
              "c.execute('create index i on t(a)'); print(c.execute('select count(*) from t').fetchone()[0])")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "SQLITE_TMPDIR": str(root)})
    assert run.returncode == 0 and run.stdout == "200000\n", run.stderr
    assert os.listdir(root) == []
    assert not mounted.store_path("tmp.bin")
    assert not any(tmp_path.joinpath("spool").rglob("fuse-*")), "a local copy outlived its file"


def test_native_rename_over_a_store_without_one_is_refused_at_start(tmp_path, seaweedfs):
    # It mounted, and every rename then got EXDEV.
    with pytest.raises(RuntimeError, match="--rename native needs a store with its own rename"):
        _mount("s3", tmp_path, seaweedfs, rename="native")


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_a_change_another_client_stored_after_the_open_is_not_replaced(kind, tmp_path, seaweedfs):
    """A descriptor's change starts from the file as the mount saw it at the open (or when
    it last looked): another client's upload stored in between was cut or replaced at the
    close, which succeeded (an append kept the mount's old size; a change in place uploaded
    the copy over it). Now the write or the close gives EBUSY, and the other upload stays."""
    mounted = _mount(kind, tmp_path, seaweedfs)
    root = mounted.root
    try:
        (root / "log").write_bytes(b"base\n")
        appender = os.open(root / "log", os.O_WRONLY | os.O_APPEND)
        mounted.store_write("log", b"base\nother\n")
        with pytest.raises(OSError) as failure:
            os.write(appender, b"mine\n")
        assert failure.value.errno == errno.EBUSY
        os.close(appender)
        assert mounted.store_read("log") == b"base\nother\n"
        # Copied at its first write to be changed in place; replaced by another before the close.
        time.sleep(6)  # the mount's attributes of the file expire
        changer = os.open(root / "log", os.O_RDWR)
        os.pwrite(changer, b"B", 0)
        mounted.store_write("log", b"replaced by another client\n")
        with pytest.raises(OSError) as failure:
            os.close(changer)
        assert failure.value.errno == errno.EBUSY
        assert mounted.store_read("log") == b"replaced by another client\n"
        # With nothing in between, both work as before.
        time.sleep(6)
        with open(root / "log", "ab") as handle:
            handle.write(b"appended\n")
        with open(root / "log", "r+b") as handle:
            handle.write(b"R")
        assert mounted.store_read("log") == b"replaced by another client\nappended\n".replace(b"r", b"R", 1)
        # An empty file appended to: the append replaced it whole, whatever another client had
        # appended meanwhile (an FTP APPE answered 226), and its close said 0.
        (root / "empty.log").write_bytes(b"")
        time.sleep(6)
        appender = os.open(root / "empty.log", os.O_WRONLY | os.O_APPEND)
        mounted.store_write("empty.log", b"other\n")
        refusals = []
        for step in (lambda: os.write(appender, b"mine\n"), lambda: os.close(appender)):
            try:
                step()
            except OSError as error:
                refusals.append(error.errno)
        assert refusals == [errno.EBUSY]
        assert mounted.store_read("empty.log") == b"other\n"
    finally:
        mounted.mount.stop()


def test_exact_times_let_rsync_with_delete_find_nothing_to_send_over_s3(tmp_path, seaweedfs):
    """Over S3 a listing carries only Last-Modified, and stat took files' times from it for 5 s
    after one: `rsync -a --delete` into the mount lists the destination, saw every file as
    changed, and sent it again on every run (the audit's finding). With --exact_times a file's
    time is its own mtime metadata, also right after a listing."""
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    times = {}
    for index, name in enumerate(["f0.txt", "f1.txt", "f2.txt", "sub/g.bin"]):
        (source / name).write_bytes(os.urandom(100 + index))
        times[name] = 1_600_000_000_123_456_000 + index * 1_000_000_000
        os.utime(source / name, ns=(times[name], times[name]))
    rsync = ["rsync", "-a", "--inplace", "--delete"]
    for flags in ([], ["--exact_times"]):
        (tmp_path / "mnt").mkdir(exist_ok=True)
        m = _mount("s3", tmp_path, seaweedfs, extra=["--ignore_chmod", *flags])
        try:
            copied = subprocess.run([*rsync, f"{source}/", f"{m.root}/dst/"], capture_output=True, text=True, timeout=120)
            assert copied.returncode == 0, copied.stderr
            os.listdir(m.root / "dst")  # a listing: what stat shows next comes from it, or not
            shown = {name: os.stat(m.root / "dst" / name).st_mtime_ns for name in times}
            again = subprocess.run([*rsync, "--dry-run", "-i", f"{source}/", f"{m.root}/dst/"],
                                   capture_output=True, text=True, timeout=120)
            assert again.returncode == 0, again.stderr
            resent = [line for line in again.stdout.splitlines() if line[1:2] == "f"]
            if flags:
                assert shown == times
                assert resent == [], again.stdout
            else:  # as documented: the listing's Last-Modified, and rsync sends the files again
                assert shown != times and resent, (shown, again.stdout)
        finally:
            m.mount.stop()


@pytest.mark.parametrize("permissions", ["no-delete", "upload-only"])
def test_a_file_continued_by_an_account_that_may_not_change_or_read_it_keeps_its_stored_bytes(tmp_path, permissions):
    """The mount continues a file by keeping its stored bytes in the upload, and then served
    the descriptor's reads, writes and truncations from there: after one byte appended, a
    no-delete or upload-only account overwrote or emptied the file, and an upload-only account
    read it all back (the audit's finding)."""
    data = tmp_path / "data"
    (data / "bkt" / "in").mkdir(parents=True)
    victim = data / "bkt" / "in" / "victim.txt"
    original = b"VICTIM-CONTENT-0123456789\n"
    victim.write_bytes(original)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"modules": {
        "ossftp": {"provider": "local", "local_root": str(data)},
        "accounts": [{"login_username": "acct", "login_password": "unused", "bucket_name": "bkt", "home_dir": "in",
                      "permissions": permissions}]}}))
    mount = FuseMount(tmp_path / "mnt", ["--config", str(config), "--account", "acct",
                                         "--spool_dir", str(tmp_path / "spool")]).start()
    try:
        path = mount.mountpoint / "victim.txt"
        descriptor = os.open(path, os.O_WRONLY)
        try:
            os.pwrite(descriptor, b"\n", len(original))  # from its end: allowed
            for change in (lambda: os.pwrite(descriptor, b"HACKED", 0), lambda: os.ftruncate(descriptor, 0)):
                with pytest.raises(OSError) as refused:
                    change()
                assert refused.value.errno == errno.EACCES
        finally:
            os.close(descriptor)
        expected = original + b"\n"
        assert victim.read_bytes() == expected
        if permissions == "upload-only":
            descriptor = os.open(path, os.O_RDWR | os.O_APPEND)
            try:
                os.write(descriptor, b"!")
                with pytest.raises(OSError) as refused:
                    os.pread(descriptor, 1 << 20, 0)
                assert refused.value.errno == errno.EACCES
            finally:
                os.close(descriptor)
            expected += b"!"
        assert victim.read_bytes() == expected
    finally:
        mount.stop()


def test_a_file_another_client_keeps_replacing_never_reads_as_bytes_no_version_held(mounted, tmp_path):
    """Another client replaces a file again and again with versions of other sizes, each one
    letter repeated, while a reader reads it whole: some reads came back with one version's
    bytes and then zeros up to an older, larger size (the kernel, told that size, filled the
    pages the short read left). A read gets one whole version, or fails (EIO)."""
    sizes = [3 << 20, (3 << 20) + 12345, 5 << 20, 1 << 20]

    def version(number: int) -> bytes:
        return bytes([65 + number % 26]) * sizes[number % 4]

    def replace(number: int) -> None:
        if mounted.kind == "local":
            staged = tmp_path / "staged.bin"
            staged.write_bytes(version(number))
            os.replace(staged, tmp_path / "data" / "bkt" / "f")
        else:
            mounted.store_write("f", version(number))

    replace(0)
    stop = time.monotonic() + 10
    writer = threading.Thread(target=lambda: [replace(n) for n in range(1, 10_000) if time.monotonic() < stop])
    writer.start()
    whole, failed, torn = 0, 0, []
    try:
        while time.monotonic() < stop:
            try:
                data = (mounted.root / "f").read_bytes()
            except OSError:
                failed += 1
                continue
            if len(set(data)) == 1 and len(data) in sizes:
                whole += 1
            else:
                torn.append((len(data), sorted(set(data))[:3]))
    finally:
        writer.join()
    assert torn == [], torn[:5]
    assert whole > 10, (whole, failed)


def test_a_negative_number_option_is_refused_for_what_it_is(tmp_path):
    # Not "missing value" (the parser took `-1` for an option): the value is taken and refused.
    for flag, said in (("--cache_ttl", "--cache_ttl and --attr_timeout must be 0 to"),
                       ("--spool_budget_mb", "--spool_budget_mb is -1; it must be 32 to"),
                       ("--read_ahead_ranges", "--read_ahead_ranges is -1; it must be 1 to 64"),
                       ("--max_rewrite_mb", "--max_rewrite_mb is -1; it must be 0 to")):
        result = subprocess.run([str(ossftp_binary()), "mount", str(tmp_path), "--bucket", "b", flag, "-1"],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 64 and said in result.stderr, (flag, result.stderr)
