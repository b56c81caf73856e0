"""An HTTP forwarding proxy in front of a real S3 server that holds back the requests that
write one key, as a stalled link would, until released; or, with `hold_answers_to`, lets such
requests reach the store and holds back only their answers (a request done, its answer lost on
the way). Everything else passes through unchanged (the Host header included, so signatures
still verify)."""

from __future__ import annotations

import http.client
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from netutil import HOST


class HoldingProxy:
    def __init__(self, upstream: str, hold_key: str, hold_answers_to: str | None = None,
                 rewrite=None, answer_headers=None, drop_reused: str | None = None, refuse=None,
                 drop_answer_to: str | None = None, dropped_reaches_store: bool = True, replace_answer=None,
                 stall_reads_of: str | None = None, close_delimited: str | None = None,
                 refuse_conditions: bool = False, lose_first_answer_to=None, cut_bodies_of: str | None = None,
                 cuts: int | None = None, cut_after: int = 300_000, upload_rate: int | None = None):
        target = urlsplit(upstream)
        self.upstream_host, self.upstream_port = target.hostname, target.port
        self.hold_key = hold_key
        # A regular expression on the request path: requests that match go to the store at
        # once, and their answers wait for `release`.
        self.hold_answers_to = re.compile(hold_answers_to) if hold_answers_to else None
        # `rewrite(method, path, headers, body) -> (headers, body)` changes a request on its way
        # (a store that ignores a header, a body damaged on the wire); `answer_headers(headers)`
        # the answer's header list.
        self.rewrite = rewrite
        self.answer_headers = answer_headers
        # A regular expression on the request path: such a request that comes on a kept-alive
        # connection (one that served a request before) is read and the connection closed with
        # no answer, as a store that restarted drops its idle connections. `dropped` counts them.
        self.drop_reused = re.compile(drop_reused) if drop_reused else None
        self.dropped = 0
        # `refuse(method, path, headers) -> bool`: such a request is answered 403 AccessDenied
        # without reaching the store (a policy that refuses it); or, when it returns a
        # (status, code, message) tuple, with that error.
        self.refuse = refuse
        # A regular expression on the paths of one multipart upload's requests (`?uploadId=`):
        # the first such request reaches the store (unless `dropped_reaches_store` is false)
        # and its answer is dropped with the connection, as a completion done with its answer
        # lost on the way. Later ones are answered 404 NoSuchUpload, as OSS and AWS answer for
        # an upload completed (SeaweedFS would complete it again). `answers_dropped` counts.
        self.drop_answer_to = re.compile(drop_answer_to) if drop_answer_to else None
        # `lose_first_answer_to(method, path, headers) -> bool`: the first such request reaches
        # the store and its answer is lost with the connection; later ones pass (the client's
        # retry meets what the first one did).
        self.lose_first_answer_to = lose_first_answer_to
        self.first_answer_lost = False
        self.dropped_reaches_store = dropped_reaches_store
        self.answers_dropped = 0
        # `replace_answer(method, path, request_headers, status, headers, body) -> (status,
        # headers, body)`: the store's whole answer replaced (a store that ignores a request
        # header the signature covers, so it cannot be taken out of the request).
        self.replace_answer = replace_answer
        # A regular expression on the request path: a GET that matches is answered with its
        # head and the first 64 KiB of its body, and then nothing more until `release` (a
        # store that froze in the middle of a download). `stalled` counts them.
        # A store without conditional writes: a PUT or POST with If-None-Match or If-Match is
        # answered 501 NotImplemented without reaching the store, as AWS answers a header it
        # does not implement. `conditions_refused` counts them.
        self.refuse_conditions = refuse_conditions
        self.conditions_refused = 0
        self.stall_reads_of = re.compile(stall_reads_of) if stall_reads_of else None
        self.stalled = 0
        # A regular expression on the request path: such an answer is sent with no
        # Content-Length, its body ending where the connection closes (RFC 9112 §6.3), so a
        # body cut short looks like a whole one to anything that does not count it.
        self.close_delimited = re.compile(close_delimited) if close_delimited else None
        # A regular expression on the request path: a GET that matches is answered with its
        # whole length announced and only its first `cut_after` bytes sent, then the connection
        # closed (a link that breaks mid-body); the first `cuts` such answers, or all when
        # None. `cut` counts them.
        self.cut_bodies_of = re.compile(cut_bodies_of) if cut_bodies_of else None
        self.cuts = cuts
        self.cut_after = cut_after
        self.cut = 0
        # Bytes a second at which request bodies are read, all requests together: a slow
        # uplink to the store, which the requests in flight share.
        self.upload_rate = upload_rate
        self._link_lock = threading.Lock()
        self._link_free_at = 0.0
        self.release = threading.Event()
        self.held = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        chunk = self.rfile.read(size + 2)[:size]
                        if size == 0:
                            return body
                        body += chunk
                length = int(self.headers.get("Content-Length") or 0)
                if proxy.upload_rate is None:
                    return self.rfile.read(length)
                pieces = []
                while length > 0:
                    piece = self.rfile.read(min(length, 64 * 1024))
                    if not piece:
                        break
                    proxy.take_link(len(piece))
                    pieces.append(piece)
                    length -= len(piece)
                return b"".join(pieces)

            def _forward(self):
                body = self._body()
                served = getattr(self, "served", 0)
                self.served = served + 1
                if served and proxy.drop_reused is not None and proxy.drop_reused.search(self.path):
                    proxy.dropped += 1
                    self.close_connection = True
                    return
                if (proxy.refuse_conditions and self.command in ("PUT", "POST")
                        and ("if-none-match" in self.headers or "if-match" in self.headers)):
                    proxy.conditions_refused += 1
                    self._error(501, "NotImplemented", "A header you provided implies functionality that is not implemented")
                    return
                refusal = proxy.refuse(self.command, self.path, self.headers) if proxy.refuse is not None else None
                if refusal:
                    self._error(*(refusal if isinstance(refusal, tuple) else (403, "AccessDenied", "Access Denied")))
                    return
                lost = proxy.drop_answer_to is not None and proxy.drop_answer_to.search(self.path)
                if lost and proxy.answers_dropped:
                    self._error(404, "NoSuchUpload", "The specified upload does not exist.")
                    return
                if lost and not proxy.dropped_reaches_store:
                    proxy.answers_dropped += 1
                    self.close_connection = True
                    return
                first_lost = (proxy.lose_first_answer_to is not None and not proxy.first_answer_lost
                              and proxy.lose_first_answer_to(self.command, self.path, self.headers))
                writes = self.command in ("PUT", "POST") and proxy.hold_key in self.path
                answer_held = writes and proxy.hold_answers_to is not None and proxy.hold_answers_to.search(self.path)
                if writes and proxy.hold_answers_to is None:
                    proxy.held += 1
                    proxy.release.wait()
                upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "transfer-encoding"}
                if proxy.rewrite:
                    headers, body = proxy.rewrite(self.command, self.path, headers, body)
                headers["Content-Length"] = str(len(body))
                upstream.request(self.command, self.path, body=body if body or self.command in ("PUT", "POST") else None,
                                 headers=headers)
                response = upstream.getresponse()
                data = response.read()
                if answer_held:
                    proxy.held += 1
                    proxy.release.wait()
                if lost or first_lost:
                    if first_lost:
                        proxy.first_answer_lost = True
                    else:
                        proxy.answers_dropped += 1
                    upstream.close()
                    self.close_connection = True
                    return
                status, answer = response.status, response.getheaders()
                if proxy.replace_answer:
                    status, answer, data = proxy.replace_answer(self.command, self.path, headers, status, answer, data)
                self.send_response(status)
                if proxy.answer_headers:
                    answer = proxy.answer_headers(answer)
                for name, value in answer:
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                # A HEAD's answer has no body but tells the object's length.
                length = response.getheader("Content-Length") if self.command == "HEAD" else None
                delimited_by_close = (self.command == "GET" and proxy.close_delimited is not None
                                      and proxy.close_delimited.search(self.path))
                if delimited_by_close:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                else:
                    self.send_header("Content-Length", length or str(len(data)))
                self.end_headers()
                stall = (self.command == "GET" and proxy.stall_reads_of is not None
                         and proxy.stall_reads_of.search(self.path) and len(data) > 65536)
                cut = (self.command == "GET" and proxy.cut_bodies_of is not None
                       and proxy.cut_bodies_of.search(self.path) and len(data) > proxy.cut_after
                       and (proxy.cuts is None or proxy.cut < proxy.cuts))
                if cut:
                    proxy.cut += 1
                    self.wfile.write(data[:proxy.cut_after])
                    self.wfile.flush()
                    self.close_connection = True
                elif stall:
                    self.wfile.write(data[:65536])
                    self.wfile.flush()
                    proxy.stalled += 1
                    proxy.release.wait()
                    self.close_connection = True
                elif self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            def _error(self, status: int, code: str, message: str):
                document = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                            f'<Message>{message}</Message></Error>').encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(document)))
                self.end_headers()
                self.wfile.write(document)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take_link(self, count: int):
        """Waits until `count` bytes have had their turn on the shared link."""
        with self._link_lock:
            now = time.monotonic()
            self._link_free_at = max(now, self._link_free_at) + count / self.upload_rate
            wait = self._link_free_at - now
        time.sleep(wait)

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
