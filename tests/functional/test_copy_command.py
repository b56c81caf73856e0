"""`ossftp cp`: one file to and from a bucket with the server's own store client."""

from __future__ import annotations

import os
import secrets
import signal
import stat
import subprocess
import threading
import time

import pytest

from ossftp_server import ossftp_binary


def cp(seaweedfs, *args: str, key=None, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """`ossftp cp` with `args`; with `stdin` (bytes), fed through a pipe, its output as bytes."""
    identity = key or seaweedfs.admin
    env = {**os.environ, "AWS_ACCESS_KEY_ID": identity.access_key, "AWS_SECRET_ACCESS_KEY": identity.secret_key}
    return subprocess.run([str(ossftp_binary()), "cp", *args, "--endpoint", seaweedfs.endpoint,
                           "--region", seaweedfs.region], input=stdin, capture_output=True, text=stdin is None,
                          timeout=120, env=env)


def test_a_file_goes_up_and_comes_back_whole(seaweedfs, tmp_path):
    bucket = "cp-" + secrets.token_hex(4)
    seaweedfs.client().create_bucket(Bucket=bucket)
    body = os.urandom(12 * 1024 * 1024 + 3)  # two parts of 5 MiB and a tail
    (tmp_path / "up.bin").write_bytes(body)
    up = cp(seaweedfs, str(tmp_path / "up.bin"), f"s3://{bucket}/dir/up.bin", "--part_size", "5")
    assert up.returncode == 0, up.stderr
    assert seaweedfs.client().get_object(Bucket=bucket, Key="dir/up.bin")["Body"].read() == body
    down = cp(seaweedfs, f"s3://{bucket}/dir/up.bin", str(tmp_path / "down.bin"))
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "down.bin").read_bytes() == body


def test_failures_are_said_in_words_and_leave_nothing(seaweedfs, tmp_path):
    bucket = "cp-" + secrets.token_hex(4)
    seaweedfs.client().create_bucket(Bucket=bucket)
    missing = cp(seaweedfs, f"s3://{bucket}/nokey", str(tmp_path / "out.bin"))
    assert missing.returncode == 1 and "nokey: no such object or file" in missing.stderr, missing.stderr
    assert not (tmp_path / "out.bin").exists()
    (tmp_path / "adir").mkdir()
    directory = cp(seaweedfs, str(tmp_path / "adir"), f"s3://{bucket}/k")
    assert directory.returncode == 1 and "adir is a directory" in directory.stderr
    absent = cp(seaweedfs, str(tmp_path / "absent"), f"s3://{bucket}/k")
    assert absent.returncode == 1 and "absent: no such object or file" in absent.stderr
    (tmp_path / "f").write_bytes(b"x")
    refused = cp(seaweedfs, str(tmp_path / "f"), f"s3://{bucket}/k", key=seaweedfs.readonly)
    assert refused.returncode == 1 and "permission denied" in refused.stderr, refused.stderr
    for flag, value in (("--concurrency", "0"), ("--part_size", "0"), ("--part_size", "1")):
        bad = cp(seaweedfs, str(tmp_path / "f"), f"s3://{bucket}/k", flag, value)
        assert bad.returncode == 64 and flag in bad.stderr, bad.stderr
    assert "Contents" not in seaweedfs.client().list_objects_v2(Bucket=bucket)
    assert not seaweedfs.client().list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_standard_input_and_output_stand_for_dash(seaweedfs, tmp_path):
    bucket = "cp-" + secrets.token_hex(4)
    client = seaweedfs.client()
    client.create_bucket(Bucket=bucket)
    # Longer than two 5 MiB parts, read from a pipe a little at a time; then one short PUT; then nothing.
    for key, body in (("big.bin", os.urandom(11 * 1024 * 1024 + 7)), ("small.txt", b"hello\n"), ("empty", b"")):
        up = cp(seaweedfs, "-", f"s3://{bucket}/{key}", "--part_size", "5", stdin=body)
        assert up.returncode == 0, up.stderr
        assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == body
        down = cp(seaweedfs, f"s3://{bucket}/{key}", "-", stdin=b"")
        assert down.returncode == 0 and down.stdout == body, down.stderr
    assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")
    refused = cp(seaweedfs, "-", f"s3://{bucket}/refused.bin", "--part_size", "5",
              stdin=os.urandom(6 * 1024 * 1024), key=seaweedfs.readonly)
    assert refused.returncode == 1 and b"permission denied" in refused.stderr, refused.stderr
    assert "refused.bin" not in [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")
    # Standard input needs an object's name, not a folder's.
    folder = cp(seaweedfs, "-", f"s3://{bucket}/dir/", stdin=b"x")
    assert folder.returncode == 64 and b"is a folder" in folder.stderr


def test_folders_keep_the_file_name_as_cp_does(seaweedfs, tmp_path):
    bucket = "cp-" + secrets.token_hex(4)
    client = seaweedfs.client()
    client.create_bucket(Bucket=bucket)
    (tmp_path / "report.pdf").write_bytes(b"pdf")
    up = cp(seaweedfs, str(tmp_path / "report.pdf"), f"s3://{bucket}/docs/")
    assert up.returncode == 0, up.stderr
    assert [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]] == ["docs/report.pdf"]
    (tmp_path / "out").mkdir()
    down = cp(seaweedfs, f"s3://{bucket}/docs/report.pdf", str(tmp_path / "out"))
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "out" / "report.pdf").read_bytes() == b"pdf"
    whole_folder = cp(seaweedfs, f"s3://{bucket}/docs/", str(tmp_path / "out"))
    assert whole_folder.returncode == 64 and "is a folder" in whole_folder.stderr
    # The bucket's top folder, `s3://bucket/`, is a folder too.
    top = cp(seaweedfs, str(tmp_path / "report.pdf"), f"s3://{bucket}/")
    assert top.returncode == 0, top.stderr
    assert client.get_object(Bucket=bucket, Key="report.pdf")["Body"].read() == b"pdf"
    root_object = cp(seaweedfs, f"s3://{bucket}/", str(tmp_path / "out"))
    assert root_object.returncode == 64 and "is a folder" in root_object.stderr


def test_a_download_writes_into_what_is_not_an_ordinary_file_as_cp_does(seaweedfs, tmp_path):
    """A download used to be renamed over its destination whatever it was: as root,
    `cp s3://b/k /dev/null` put a file in place of /dev/null."""
    bucket = "cp-" + secrets.token_hex(4)
    client = seaweedfs.client()
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="k", Body=b"object body\n")
    url = f"s3://{bucket}/k"
    # A device (a null device of our own) stays a device.
    os.mknod(tmp_path / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    assert cp(seaweedfs, url, str(tmp_path / "null")).returncode == 0
    assert stat.S_ISCHR(os.lstat(tmp_path / "null").st_mode)
    # A FIFO's reader gets the bytes.
    os.mkfifo(tmp_path / "fifo")
    got = []
    reader = threading.Thread(target=lambda: got.append((tmp_path / "fifo").read_bytes()))
    reader.start()
    assert cp(seaweedfs, url, str(tmp_path / "fifo")).returncode == 0
    reader.join(30)
    assert got == [b"object body\n"] and stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)
    # A symbolic link is followed: its file is replaced, the link stays.
    (tmp_path / "target").write_bytes(b"old")
    os.symlink(tmp_path / "target", tmp_path / "link")
    assert cp(seaweedfs, url, str(tmp_path / "link")).returncode == 0
    assert os.path.islink(tmp_path / "link") and (tmp_path / "target").read_bytes() == b"object body\n"
    # Hard links keep sharing one file.
    (tmp_path / "a").write_bytes(b"old")
    os.link(tmp_path / "a", tmp_path / "b")
    assert cp(seaweedfs, url, str(tmp_path / "a")).returncode == 0
    assert (tmp_path / "b").read_bytes() == b"object body\n" and os.stat(tmp_path / "a").st_nlink == 2
    # A key that is missing leaves such a file as it was (it is opened only once the object came).
    (tmp_path / "a").write_bytes(b"kept")
    assert cp(seaweedfs, f"s3://{bucket}/missing", str(tmp_path / "a")).returncode == 1
    assert (tmp_path / "b").read_bytes() == b"kept"
    # A private file stays private; a new one follows the umask.
    (tmp_path / "secret").write_bytes(b"old")
    os.chmod(tmp_path / "secret", 0o600)
    assert cp(seaweedfs, url, str(tmp_path / "secret")).returncode == 0
    assert stat.S_IMODE(os.stat(tmp_path / "secret").st_mode) == 0o600
    new = subprocess.run(["bash", "-c", 'umask 027 && exec "$@"', "sh", str(ossftp_binary()), "cp", url,
                          str(tmp_path / "new"), "--endpoint", seaweedfs.endpoint, "--region", seaweedfs.region],
                         env={**os.environ, "AWS_ACCESS_KEY_ID": seaweedfs.admin.access_key,
                              "AWS_SECRET_ACCESS_KEY": seaweedfs.admin.secret_key}, capture_output=True, timeout=60)
    assert new.returncode == 0, new.stderr
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o640
    # A link to nothing is refused, and a missing folder is said in words.
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    dangling = cp(seaweedfs, url, str(tmp_path / "dangling"))
    assert dangling.returncode == 1 and "dangling symbolic link" in dangling.stderr, dangling.stderr
    missing = cp(seaweedfs, url, str(tmp_path / "nodir" / "x"))
    assert missing.returncode == 1 and "nodir/x: No such file or directory" in missing.stderr, missing.stderr
    assert "ossftp-part" not in missing.stderr
    # A name as long as the file system allows (255 bytes; 85 three-byte characters) is
    # written: the temporary name beside it was the name with 45 bytes more.
    longest = "名" * 85
    assert cp(seaweedfs, url, str(tmp_path / longest)).returncode == 0
    assert (tmp_path / longest).read_bytes() == b"object body\n"
    (tmp_path / longest).unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "dangling", "fifo", "link", "new", "null",
                                                         "secret", "target"]


def test_a_pipe_is_read_to_its_end(seaweedfs, tmp_path):
    bucket = "cp-" + secrets.token_hex(4)
    client = seaweedfs.client()
    client.create_bucket(Bucket=bucket)
    body = os.urandom(6 * 1024 * 1024 + 5)
    (tmp_path / "body").write_bytes(body)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": seaweedfs.admin.access_key,
           "AWS_SECRET_ACCESS_KEY": seaweedfs.admin.secret_key}
    piped = subprocess.run(["bash", "-c", 'exec "$@" < <(cat "$BODY")', "sh", str(ossftp_binary()), "cp", "/dev/stdin",
                            f"s3://{bucket}/piped.bin", "--part_size", "5", "--endpoint", seaweedfs.endpoint,
                            "--region", seaweedfs.region], env={**env, "BODY": str(tmp_path / "body")},
                           capture_output=True, timeout=60)
    assert piped.returncode == 0, piped.stderr
    assert client.get_object(Bucket=bucket, Key="piped.bin")["Body"].read() == body


def test_an_interrupted_copy_leaves_no_upload_and_no_partial_file(seaweedfs, tmp_path):
    bucket = "cp-" + secrets.token_hex(4)
    client = seaweedfs.client()
    client.create_bucket(Bucket=bucket)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": seaweedfs.admin.access_key,
           "AWS_SECRET_ACCESS_KEY": seaweedfs.admin.secret_key}
    base = [str(ossftp_binary()), "cp"]
    where = ["--endpoint", seaweedfs.endpoint, "--region", seaweedfs.region]
    for number, status in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        # An upload from a pipe that never ends: parts go up until the signal.
        upload = subprocess.Popen(base + ["-", f"s3://{bucket}/endless.bin", "--part_size", "5"] + where,
                                  stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 60
        while not client.list_multipart_uploads(Bucket=bucket).get("Uploads"):
            upload.stdin.write(os.urandom(1024 * 1024))
            upload.stdin.flush()
            assert time.monotonic() < deadline
        upload.stdin.write(os.urandom(6 * 1024 * 1024))
        upload.stdin.flush()
        upload.send_signal(number)
        assert upload.wait(30) == status
        assert b"aborted" in upload.stderr.read()
        upload.stdin.close()
        assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")
        assert "Contents" not in client.list_objects_v2(Bucket=bucket)
    # An upload of a file: the parts in flight fail once the signal aborted their upload, and
    # that failure exited with 1 first, in most runs.
    source = tmp_path.parent / f"{tmp_path.name}-source.bin"
    source.write_bytes(os.urandom(200 * 1024 * 1024))
    try:
        for _ in range(3):
            # One part at a time: eight at once could finish the 200 MiB before the signal came.
            upload = subprocess.Popen(base + [str(source), f"s3://{bucket}/file.bin", "--part_size", "5",
                                              "--concurrency", "1"] + where, stderr=subprocess.PIPE, env=env)
            deadline = time.monotonic() + 60
            while not client.list_multipart_uploads(Bucket=bucket).get("Uploads"):
                assert time.monotonic() < deadline and upload.poll() is None
                time.sleep(0.01)
            time.sleep(0.3)
            upload.send_signal(signal.SIGINT)
            assert upload.wait(30) == 130, upload.stderr.read()
            assert b"aborted" in upload.stderr.read()
            assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")
    finally:
        source.unlink()
    # A download into a file: the partial file goes with the signal.
    client.put_object(Bucket=bucket, Key="big.bin", Body=os.urandom(128 * 1024 * 1024))
    # (A download that ends before the signal lands is tried again.)
    for attempt in range(5):
        target = tmp_path / f"big-{attempt}.bin"
        download = subprocess.Popen(base + [f"s3://{bucket}/big.bin", str(target)] + where,
                                    stderr=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 60
        while download.poll() is None and not any(p.name.startswith(".ossftp-part")
                                                  for p in tmp_path.iterdir()):
            assert time.monotonic() < deadline
            time.sleep(0.002)
        download.send_signal(signal.SIGINT)
        status = download.wait(30)
        if status == 0:
            target.unlink()
            continue
        assert status == 130
        assert list(tmp_path.iterdir()) == []
        break
    else:
        pytest.fail("every download ended before its signal")


def test_a_link_is_followed_and_a_file_without_a_size_is_read_to_its_end(seaweedfs, tmp_path):
    """A source that is a symbolic link stored the link's own few bytes (its target's path)
    with exit 0; a /proc file, whose size reads 0, was stored empty."""
    bucket = "cp-" + secrets.token_hex(4)
    client = seaweedfs.client()
    client.create_bucket(Bucket=bucket)
    for name, size in (("small.bin", 1000), ("large.bin", 11 * 1024 * 1024 + 1)):
        body = os.urandom(size)
        (tmp_path / name).write_bytes(body)
        (tmp_path / f"link-{name}").symlink_to(tmp_path / name)
        up = cp(seaweedfs, str(tmp_path / f"link-{name}"), f"s3://{bucket}/{name}", "--part_size", "5")
        assert up.returncode == 0, up.stderr
        assert client.get_object(Bucket=bucket, Key=name)["Body"].read() == body, name
    up = cp(seaweedfs, "/proc/self/status", f"s3://{bucket}/status")
    assert up.returncode == 0, up.stderr
    stored = client.get_object(Bucket=bucket, Key="status")["Body"].read()
    assert stored.startswith(b"Name:") and b"VmRSS" in stored, stored[:200]


def _upload_while(seaweedfs, tmp_path, change) -> tuple[subprocess.CompletedProcess, str, bytes]:
    """Uploads a 200 MiB file part by part, and calls `change(path)` once its multipart upload began."""
    bucket = "cp-" + secrets.token_hex(4)
    client = seaweedfs.client()
    client.create_bucket(Bucket=bucket)
    source = tmp_path / "source.bin"
    body = os.urandom(1024 * 1024) * 200
    source.write_bytes(body)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": seaweedfs.admin.access_key,
           "AWS_SECRET_ACCESS_KEY": seaweedfs.admin.secret_key}
    process = subprocess.Popen([str(ossftp_binary()), "cp", str(source), f"s3://{bucket}/obj", "--endpoint",
                                seaweedfs.endpoint, "--region", seaweedfs.region, "--part_size", "5",
                                "--concurrency", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    while not client.list_multipart_uploads(Bucket=bucket).get("Uploads"):
        assert process.poll() is None and time.monotonic() < deadline, "the upload ended before it could be changed"
        time.sleep(0.005)
    change(source)
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err), bucket, body


def test_a_source_renamed_over_during_the_upload_is_not_mixed_in(seaweedfs, tmp_path):
    """Each part reopened the path: a file renamed over it meanwhile (an editor's save, a log
    rotation) was stored as old parts followed by new ones, with exit 0."""
    def replace(path):
        other = path.with_name("other.bin")
        other.write_bytes(b"B" * (200 * 1024 * 1024))
        os.rename(other, path)
    done, bucket, body = _upload_while(seaweedfs, tmp_path, replace)
    assert done.returncode == 0, done.stderr
    stored = seaweedfs.client().get_object(Bucket=bucket, Key="obj")["Body"].read()
    assert stored == body, "the object mixes the two files"


def test_a_source_written_during_the_upload_is_not_stored(seaweedfs, tmp_path):
    def grow(path):
        with open(path, "ab") as out:
            out.write(b"more")
    done, bucket, _ = _upload_while(seaweedfs, tmp_path, grow)
    assert done.returncode == 1 and b"changed while it was being copied" in done.stderr, done.stderr
    client = seaweedfs.client()
    assert "Contents" not in client.list_objects_v2(Bucket=bucket)
    assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")
