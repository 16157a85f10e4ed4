"""The paste API (standard library HTTP server + psycopg).

GET  /live          200 while the process serves (a liveness check: it asks nothing else)
GET  /ready         200 {"pastes": N} when Postgres answers and the table exists, else 503 (readiness)
POST /pastes        the request body becomes a paste: 201 {"id": N}
GET  /pastes/N      {"id", "status" ("new", then "done" once the worker counted it), "words"}
"""
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import store

PORT = int(os.environ.get("PORT", "8000"))


class Api(BaseHTTPRequestHandler):
    def _send(self, status: int, payload) -> None:
        body = (json.dumps(payload) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/live":
            return self._send(200, {"status": "ok"})
        try:
            with store.connect() as conn:
                if self.path == "/ready":
                    return self._send(200, {"pastes": conn.execute("SELECT count(*) FROM pastes").fetchone()[0]})
                if self.path.startswith("/pastes/") and self.path[8:].isdigit():
                    row = conn.execute("SELECT id, status, words FROM pastes WHERE id = %s", (int(self.path[8:]),)).fetchone()
                    return self._send(200, dict(zip(("id", "status", "words"), row))) if row else self._send(404, {})
        except Exception as exc:  # noqa: BLE001 - the database is not there (yet, or any more): say so
            return self._send(503, {"error": " ".join(str(exc).split())[:200]})
        self._send(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/pastes":
            return self._send(404, {"error": "not found"})
        text = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode(errors="replace")
        try:
            with store.connect() as conn:
                new = conn.execute("INSERT INTO pastes (body) VALUES (%s) RETURNING id", (text,)).fetchone()[0]
        except Exception as exc:  # noqa: BLE001
            return self._send(503, {"error": " ".join(str(exc).split())[:200]})
        self._send(201, {"id": new})

    def log_message(self, fmt, *args):  # quiet: health checks ask every second
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Api)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # this service has no long requests to drain
    print(f"api: serving on :{PORT}", flush=True)
    server.serve_forever()
