"""A real HTTP server on loopback for tests: serves given bodies and records what it saw."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""  # the exact bytes of a POST body


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    hang: bool = False  # never answer (for timeout tests)
    statuses: list[int] = field(default_factory=list)  # POST: answer these first, then `status`


class Site:
    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.seen: list[Seen] = []
        self._release = threading.Event()
        self._hit = threading.Condition()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                with site._hit:
                    site.seen.append(Seen("GET", self.path, {k.lower(): v for k, v in self.headers.items()}))
                    site._hit.notify_all()
                page = site.pages.get(path)
                if page is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if page.hang:
                    site._release.wait(60)
                    return
                self.send_response(page.status)
                self.send_header("Content-Type", page.content_type)
                self.send_header("Content-Length", str(len(page.body)))
                for k, v in page.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(page.body)

            def do_POST(self) -> None:
                path = self.path.split("?")[0]
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                page = site.pages.get(path)
                with site._hit:  # pick the status and record the hit as one step
                    status = 404 if page is None else page.statuses.pop(0) if page.statuses else page.status
                    site.seen.append(Seen("POST", self.path, headers, body))
                    site._hit.notify_all()
                reply = b"" if page is None else page.body
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if page is None else page.content_type)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8",
            **kwargs: object) -> str:  # fmt: skip
        data = body.encode() if isinstance(body, str) else body
        self.pages[path] = Page(data, content_type, **kwargs)  # type: ignore[arg-type]
        return self.url(path)

    def receiver(self, path: str, statuses: list[int] | None = None) -> str:
        """A POST endpoint (a webhook receiver) answering ``statuses`` in turn, then 200."""
        return self.add(path, "ok", "text/plain", statuses=list(statuses or []))

    def hits(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path.split("?")[0] == path]

    def wait_for_hits(self, path: str, count: int = 1, timeout: float = 30) -> None:
        """Block until ``path`` was requested ``count`` times (an event, not a sleep)."""
        with self._hit:
            if not self._hit.wait_for(lambda: len(self.hits(path)) >= count, timeout):
                raise TimeoutError(f"{path} requested {len(self.hits(path))} times, wanted {count}")

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
