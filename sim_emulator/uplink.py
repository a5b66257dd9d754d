"""Where terminal simulators send their records: the gateway's terminal API, or a file.

The API (``gateway/api/terminal_api.py``) authenticates each request with the terminal's key::

    X-Terminal-Id: <code>   X-Timestamp: <Unix seconds>   X-Nonce: <fresh, 8-64 [A-Za-z0-9_-]>
    X-Signature:   hex HMAC-SHA256(key, METHOD "\\n" PATH?QUERY "\\n" TIMESTAMP "\\n" NONCE
                                        "\\n" hex SHA-256(body))

This module signs the same way (the scheme is the wire contract; the gateway's
``gateway.services.terminals.sign`` is its other end). It uses the standard library's HTTP
client because terminals are blocking devices: call it from a thread inside an event loop.
Without a gateway, ``RecordFile`` appends each record, signed the same way, to a JSON-lines file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import pathlib
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from typing import Any, Protocol

from sim_emulator.errors import TerminalError
from sim_emulator.terminals import Blacklist, TerminalRecord


def sign(key: bytes, method: str, path_qs: str, timestamp: str, nonce: str, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()
    message = f"{method.upper()}\n{path_qs}\n{timestamp}\n{nonce}\n{digest}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class RecordSink(Protocol):
    def upload(self, records: Iterable[TerminalRecord]) -> None: ...


class RecordFile:
    """Appends signed records to a JSON-lines file (one object per record)."""

    def __init__(self, path: pathlib.Path, terminal: str, key: bytes) -> None:
        self.path = path
        self.terminal = terminal
        self.key = key

    def upload(self, records: Iterable[TerminalRecord]) -> None:
        lines = []
        for record in records:
            body = json.dumps(record.to_api(), sort_keys=True).encode()
            stamp, nonce = str(int(time.time())), secrets.token_hex(16)
            lines.append(json.dumps({
                "terminal": self.terminal, "timestamp": stamp, "nonce": nonce,
                "record": record.to_api(),
                "signature": sign(self.key, "POST", "/api/v1/terminal/records", stamp, nonce,
                                  body),
            }, sort_keys=True))
        if lines:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")


class GatewayUplink:
    """A terminal's signed client of ``/api/v1/terminal/*``."""

    def __init__(self, base_url: str, terminal: str, key: bytes, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.terminal = terminal
        self.key = key
        self.timeout = timeout

    def _request(self, method: str, path_qs: str, payload: Any | None = None) -> Any:
        body = b"" if payload is None else json.dumps(payload).encode()
        stamp, nonce = str(int(time.time())), secrets.token_hex(16)
        headers = {
            "X-Terminal-Id": self.terminal,
            "X-Timestamp": stamp,
            "X-Nonce": nonce,
            "X-Signature": sign(self.key, method, path_qs, stamp, nonce, body),
            "Content-Type": "application/json",
        }
        request = urllib.request.Request(self.base_url + path_qs, data=body or None,
                                         headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise TerminalError(f"{method} {path_qs}: HTTP {exc.code} {detail}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise TerminalError(f"{method} {path_qs}: {exc}") from exc

    def upload(self, records: Iterable[TerminalRecord]) -> Any:
        batch = [r.to_api() for r in records]
        if not batch:
            return None
        return self._request("POST", "/api/v1/terminal/records", {"records": batch})

    def pull_blacklist(self, blacklist: Blacklist, limit: int = 1000) -> Blacklist:
        """Bring ``blacklist`` up to date, page by page."""
        while True:
            delta = self._request(
                "GET", f"/api/v1/terminal/blacklist?since={blacklist.version}&limit={limit}")
            blacklist.apply(delta)
            if not delta.get("more"):
                return blacklist
