"""Start a throw-away SeaweedFS for a process that is not pytest (the Swift store tests).

    python tests/functional/seaweedfs_serve.py [--bucket NAME ...]

Prints one JSON line (endpoint, region, admin and read-only credentials), then keeps the
server until its standard input closes or it gets SIGTERM/SIGINT, and stops it. The caller
only has to close the pipe (or exit) for everything to go away.
"""

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seaweedfs import SeaweedFS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bucket", action="append", default=[], help="bucket to create (repeatable)")
    args = parser.parse_args()
    done = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: done.set())
    with SeaweedFS() as s3:
        client = s3.client()
        for bucket in args.bucket:
            client.create_bucket(Bucket=bucket)
        print(json.dumps({
            "endpoint": s3.endpoint,
            "region": s3.region,
            "admin": {"access_key": s3.admin.access_key, "secret_key": s3.admin.secret_key},
            "readonly": {"access_key": s3.readonly.access_key, "secret_key": s3.readonly.secret_key},
        }), flush=True)

        def watch_stdin() -> None:
            sys.stdin.read()
            done.set()

        threading.Thread(target=watch_stdin, daemon=True).start()
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
