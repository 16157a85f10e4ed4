"""The invoice renderer's requests (standard library only): what each URL answers.

GET /health              200 "ok"
GET /render?id=N&s=2     renders invoice N, which takes s seconds: "invoice N rendered"
"""
import os
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

PORT = int(os.environ.get("PORT", "8000"))


class Renderer(BaseHTTPRequestHandler):
    def _send(self, status: int, text: str) -> None:
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/health":
            return self._send(200, "ok")
        if url.path == "/render":
            query = parse_qs(url.query)
            invoice, seconds = query.get("id", ["1"])[0], float(query.get("s", ["2"])[0])
            print(f"render {invoice} started ({seconds:g} s)", flush=True)
            time.sleep(seconds)  # the work: a PDF would be drawn here
            self._send(200, f"invoice {invoice} rendered")
            return print(f"render {invoice} done", flush=True)
        self._send(404, "not found")

    def log_message(self, fmt, *args):  # quiet: the health check asks every second
        pass
