"""capstone_service: a small notes API backed by Postgres (lesson 13).

GET  /health   200 {"status": "ok"} while the server answers: liveness, asks nothing else (for HEALTHCHECK)
GET  /ready    200 {"status": "ready"} when Postgres answers, 503 otherwise: readiness (may this replica get traffic?)
GET  /notes    the notes, newest first
POST /notes    add one: the request body is the note's text

Settings come from the environment: DATABASE_URL (required), PORT (default 8000).
On SIGTERM the server stops accepting, finishes in-flight requests and exits 0.
"""
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import store

PORT = int(os.environ.get("PORT", "8000"))


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, payload) -> None:
        body = (json.dumps(payload) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":  # the process serves: a database outage must not make every replica "unhealthy"
            self._send(200, {"status": "ok"})
        elif self.path == "/ready":  # the dependencies answer: a database outage takes the replica out of rotation
            try:
                store.ping()
                self._send(200, {"status": "ready", "database": "ok"})
            except Exception as exc:  # noqa: BLE001 - any database error means: not ready
                self._send(503, {"status": "not ready", "database": str(exc).strip()[:200]})
        elif self.path == "/notes":
            self._send(200, store.list_notes())
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/notes":
            return self._send(404, {"error": "not found"})
        text = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        self._send(201, store.add_note(text))

    def log_message(self, fmt, *args):  # the health check calls /health every second: keep the log quiet
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True


def main() -> int:
    server = Server(("0.0.0.0", PORT), Handler)

    def on_sigterm(signum, frame):
        print("SIGTERM: finishing in-flight requests", flush=True)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_sigterm)
    print(f"capstone_service listening on 0.0.0.0:{PORT}", flush=True)
    server.serve_forever()
    server.server_close()
    print("stopped cleanly", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
