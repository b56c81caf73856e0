"""`ossftp cp`: one file to and from a bucket with the server's own store client."""

from __future__ import annotations

import os
import secrets
import subprocess

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
