"""The SeaweedFS harness itself: it starts, the admin key works, a wrong secret is refused."""

from __future__ import annotations

import hashlib
import os
import socket

import pytest
from botocore.exceptions import ClientError

from netutil import HOST


def test_seaweedfs_s3_roundtrip_and_auth(seaweedfs):
    s3 = seaweedfs
    assert s3.endpoint.startswith(f"http://{HOST}:")
    assert s3.region == "us-east-1"
    assert s3.admin.access_key != s3.readonly.access_key

    # Every chosen port is bound to loopback only: the S3 port answers on 127.0.0.1.
    with socket.create_connection((HOST, s3.ports["s3"]), timeout=2):
        pass

    admin = s3.client()
    bucket = "harness-" + os.urandom(4).hex()
    admin.create_bucket(Bucket=bucket)
    assert bucket in [b["Name"] for b in admin.list_buckets()["Buckets"]]

    body = os.urandom(256 * 1024 + 7)
    admin.put_object(Bucket=bucket, Key="dir/obj.bin", Body=body)
    got = admin.get_object(Bucket=bucket, Key="dir/obj.bin")["Body"].read()
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(body).hexdigest()

    # The read-only identity can read and list but not write.
    ro = s3.client(s3.readonly)
    assert ro.get_object(Bucket=bucket, Key="dir/obj.bin")["Body"].read() == body
    keys = [o["Key"] for o in ro.list_objects_v2(Bucket=bucket, Prefix="dir/")["Contents"]]
    assert keys == ["dir/obj.bin"]
    with pytest.raises(ClientError) as ro_err:
        ro.put_object(Bucket=bucket, Key="denied.txt", Body=b"x")
    assert ro_err.value.response["Error"]["Code"] == "AccessDenied"

    # A wrong secret for the admin key: 403 SignatureDoesNotMatch.
    bad = s3.client(s3.admin, secret_override=s3.admin.secret_key[::-1] + "x")
    with pytest.raises(ClientError) as err:
        bad.get_object(Bucket=bucket, Key="dir/obj.bin")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert err.value.response["Error"]["Code"] == "SignatureDoesNotMatch"

    with pytest.raises(ClientError) as err2:
        bad.list_objects_v2(Bucket=bucket)
    assert err2.value.response["Error"]["Code"] == "SignatureDoesNotMatch"

    admin.delete_object(Bucket=bucket, Key="dir/obj.bin")
    admin.delete_bucket(Bucket=bucket)


def test_a_port_taken_before_weed_binds_it_is_chosen_again(monkeypatch):
    """The ports are chosen free from the ephemeral range, and another test's client socket
    took one before weed bound it: weed exited, and every test of a file that needed the store
    failed at its setup. The harness now chooses again."""
    import seaweedfs as harness

    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind((HOST, 0))
    holder.listen()
    choices = []
    chosen_free = harness.free_ports

    def first_with_the_masters_port_taken(count):
        ports = chosen_free(count)
        if not choices:
            ports[2] = holder.getsockname()[1]  # the master's
        choices.append(ports)
        return ports

    monkeypatch.setattr(harness, "free_ports", first_with_the_masters_port_taken)
    try:
        with harness.SeaweedFS() as s3:
            assert len(choices) == 2
            s3.client().list_buckets()
    finally:
        holder.close()
