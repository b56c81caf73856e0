"""Signatures and CRC-64 values computed by Alibaba's own SDKs for generated inputs.

    python tests/vectors/oss_sdk_vectors.py [--count N] [--seed S]

Prints JSON: {"signatures": [...], "crc64": [...]}. Each signature case holds the request
(method, bucket, key, query, headers, credentials) and what oss2 (V1) and
alibabacloud-oss-v2 (V4: canonical request, string to sign, Authorization) build for it at a
fixed time. The Swift tests (OSSVFSTests/OSSSDKComparisonTests) sign the same inputs and
must produce the same strings.
"""

import argparse
import base64
import datetime
import json
import random
import sys
from urllib.parse import quote

import oss2
import oss2.auth
import oss2.http
import oss2.utils
from oss2.crc64_combine import mkCombineFun
from alibabacloud_oss_v2 import credentials as v2credentials
from alibabacloud_oss_v2.signer.v4 import SignerV4
from alibabacloud_oss_v2.types import HttpRequest, SigningContext

V1_DATE = "Wed, 28 Dec 2022 10:27:41 GMT"
V4_TIME = datetime.datetime(2024, 12, 3, 8, 30, 0, tzinfo=datetime.timezone.utc)

KEY_PIECES = ["dir/", "a b", "+", "%", "~", "中文", "é", "x!y", "*", "'q'", "(p)", "日本/", "file.txt", "&=", "#", "@:"]
SUBRESOURCES = ["acl", "uploads", "uploadId", "partNumber", "append", "position", "delete", "bucketInfo",
                "location", "continuation-token", "versionId", "x-oss-process", "response-content-type",
                "security-token", "objectMeta", "tagging", "symlink"]
PLAIN_PARAMS = ["prefix", "delimiter", "max-keys", "marker", "list-type", "encoding-type", "start-after"]
VALUE_PIECES = ["", "1", "dir/", "/", "a b", "+x", "%2F", "中", "~ok", "0004B9894A22E5B1888A1E29F8236E2D"]


def random_key(rng: random.Random) -> str:
    key = "".join(rng.choice(KEY_PIECES) for _ in range(rng.randint(1, 5)))
    return key.lstrip("/") or "k"


def random_case(rng: random.Random, index: int) -> dict:
    method = rng.choice(["GET", "PUT", "POST", "DELETE", "HEAD"])
    bucket = None if rng.random() < 0.08 else rng.choice(["examplebucket", "bucket-1", "oss-ftp-test"])
    key = random_key(rng) if bucket and rng.random() < 0.8 else None
    query = {}
    for _ in range(rng.randint(0, 4)):
        name = rng.choice(SUBRESOURCES + PLAIN_PARAMS)
        query[name] = rng.choice(VALUE_PIECES)
    headers = {}
    if rng.random() < 0.5:
        headers["content-type"] = rng.choice(["text/plain", "application/octet-stream", "application/xml"])
    if rng.random() < 0.4:
        headers["content-md5"] = base64.b64encode(rng.randbytes(16)).decode()
    for _ in range(rng.randint(0, 3)):
        name = rng.choice(["x-oss-meta-author", "x-oss-meta-mtime", "x-oss-storage-class",
                           "x-oss-forbid-overwrite", "x-oss-object-acl", "x-oss-meta-note"])
        headers[name] = rng.choice(["alice", "1700000000", "Standard", "true", "private", "a b  c"])
    token = "STS-token/" + str(index) + "==" if rng.random() < 0.25 else None
    ak = ("STS." if token else "LTAI5t") + "ExampleAKID" + str(index % 7)
    sk = "ExampleSecret" + str(index)
    additional = sorted(rng.sample(["host", "content-length", "range"], rng.randint(0, 2)))
    if "host" in additional:
        headers["host"] = f"{bucket or 'oss'}.oss-cn-hangzhou.aliyuncs.com"
    if "content-length" in additional:
        headers["content-length"] = str(rng.randint(0, 10 ** 7))
    if "range" in additional:
        headers["range"] = "bytes=0-99"
    return {"method": method, "bucket": bucket, "key": key, "query": query, "headers": headers,
            "access_key_id": ak, "secret": sk, "token": token, "additional": additional}


def sign_v1(case: dict) -> str:
    auth = oss2.StsAuth(case["access_key_id"], case["secret"], case["token"]) if case["token"] \
        else oss2.Auth(case["access_key_id"], case["secret"])
    headers = {k: v for k, v in case["headers"].items() if k not in ("host", "content-length", "range")}
    req = oss2.http.Request(case["method"], "http://example.invalid/", params=dict(case["query"]), headers=headers)
    auth._sign_request(req, case["bucket"] or "", case["key"] or "")
    return req.headers["authorization"]


def sign_v4(case: dict) -> dict:
    query = "&".join(quote(k, safe="") + ("=" + quote(v, safe="") if v else "") for k, v in case["query"].items())
    url = "https://example.invalid/" + ("?" + query if query else "")
    request = HttpRequest(case["method"], url, headers=dict(case["headers"]))
    creds = v2credentials.Credentials(case["access_key_id"], case["secret"], case["token"])
    context = SigningContext(product="oss", region="cn-hangzhou", bucket=case["bucket"], key=case["key"],
                             request=request, credentials=creds, signing_time=V4_TIME,
                             additional_headers=set(case["additional"]))
    signer = SignerV4()
    signer.sign(context)
    additional = signer._common_additional_headers(request, context.additional_headers)
    canonical = signer._calc_canonical_request(signing_ctx=context, additional_headers=additional)
    return {"authorization": request.headers["Authorization"], "canonical_request": canonical,
            "string_to_sign": context.string_to_sign}


def crc_cases(rng: random.Random) -> list:
    combine = mkCombineFun(0x142F0E1EBA9EA3693, initCrc=0, rev=True, xorOut=0xFFFFFFFFFFFFFFFF)
    cases = []
    for size in [0, 1, 7, 8, 9, 100, 4096, 65537, 1 << 20]:
        data = rng.randbytes(size)
        split = rng.randint(0, size)
        first, second = data[:split], data[split:]
        crc_first = oss2.utils.Crc64(0)
        crc_first.update(first)
        crc_second = oss2.utils.Crc64(0)
        crc_second.update(second)
        whole = oss2.utils.Crc64(0)
        whole.update(data)
        cases.append({"data": base64.b64encode(data).decode(), "split": split, "crc": whole.crc,
                      "crc_first": crc_first.crc, "crc_second": crc_second.crc,
                      "combined": combine(crc_first.crc, crc_second.crc, len(second))})
    return cases


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20261128)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    oss2.auth.utils.http_date = lambda *_: V1_DATE
    cases = []
    for index in range(args.count):
        case = random_case(rng, index)
        case["v1"] = sign_v1(case)
        case["v4"] = sign_v4(case)
        cases.append(case)
    json.dump({"signatures": cases, "crc64": crc_cases(rng), "v1_date": V1_DATE,
               "v4_time": int(V4_TIME.timestamp())}, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
