"""A real HTTP server on 127.0.0.1, in a thread, serving fixed routes for download tests."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Route:
    body: bytes
    status: int = 200
    content_type: str = "application/octet-stream"
    announce_extra: int = 0   # claim this many more bytes than are sent, then hang up
    delay: float = 0.0        # seconds to wait before answering


@dataclass
class Server:
    routes: dict = field(default_factory=dict)
    hits: dict = field(default_factory=dict)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        state: Server = self.server.state
        state.hits[self.path] = state.hits.get(self.path, 0) + 1
        route = state.routes.get(self.path)
        if route is None:
            route = Route(b"not found", status=404, content_type="text/plain")
        time.sleep(route.delay)
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Content-Length", str(len(route.body) + route.announce_extra))
        self.end_headers()
        self.wfile.write(route.body)
        if route.announce_extra:
            self.close_connection = True

    def log_message(self, *args):  # keep test output quiet
        return None


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        return None  # clients that time out on purpose leave broken pipes behind


def start_server() -> tuple[Server, callable]:
    """Start a server; return its state and a function that stops it."""
    state = Server()
    httpd = _QuietServer(("127.0.0.1", 0), _Handler)
    httpd.state = state
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def stop():
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)

    return state, stop


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
