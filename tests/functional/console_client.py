"""A small HTTP client for the web console's tests: no redirects followed, cookies kept."""

from __future__ import annotations

import http.client
import json
import re

from netutil import HOST


class ConsoleClient:
    def __init__(self, port: int, token: str | None = None):
        self.port = port
        self.token = token
        self.cookie: str | None = None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                csrf: bool = True):
        """Returns (status, headers, body bytes)."""
        conn = http.client.HTTPConnection(HOST, self.port, timeout=15)
        all_headers = dict(headers or {})
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        if self.cookie:
            all_headers["Cookie"] = self.cookie
        if csrf and method == "POST" and not path.startswith("/login"):
            all_headers["X-OSSFTP-Console"] = "1"
        try:
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, dict(response.getheaders()), data
        finally:
            conn.close()

    def get_json(self, path: str):
        status, _, body = self.request("GET", path)
        assert status == 200, (path, status, body)
        return json.loads(body)

    def post_json(self, path: str, value, csrf: bool = True):
        status, _, body = self.request("POST", path, json.dumps(value).encode(),
                                       {"Content-Type": "application/json"}, csrf=csrf)
        return status, json.loads(body) if body else None

    def login(self, password: str) -> int:
        status, headers, _ = self.request(
            "POST", "/login", f"password={password}".encode(),
            {"Content-Type": "application/x-www-form-urlencoded"})
        cookie = headers.get("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";")[0]
        return status

    def metrics(self) -> dict[str, float]:
        """Each sample line of /metrics: 'name{labels}' -> value."""
        status, _, body = self.request("GET", "/metrics")
        assert status == 200, (status, body)
        samples = {}
        for line in body.decode().splitlines():
            if not line or line.startswith("#"):
                continue
            match = re.match(r"^(\S+)\s+(\S+)$", line)
            if match:
                samples[match.group(1)] = float(match.group(2))
        return samples
