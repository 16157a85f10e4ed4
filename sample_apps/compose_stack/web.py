"""The web service: /health, /db (asks Postgres), /enqueue (pushes to Redis), /jobs (what the workers did)."""
import os
import socket

from flask import Flask, jsonify, request

import common

app = Flask(__name__)


@app.get("/health")
def health():
    return {"status": "ok"}


@app.get("/db")
def db_info():
    """Answers from the database: proves the web service reaches Postgres by its service name."""
    with common.db() as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        now = conn.execute("SELECT now()::text").fetchone()[0]
    return {"database": "postgres", "server_version": version, "now": now, "host": "db", "web": socket.gethostname()}


@app.post("/enqueue")
def enqueue():
    n = int(request.args.get("n", 1))
    q = common.queue()
    for i in range(n):
        q.rpush(common.QUEUE, f"job-{i}")
    return {"queued": n, "waiting": q.llen(common.QUEUE)}


@app.get("/jobs")
def jobs():
    with common.db() as conn:
        rows = conn.execute("SELECT worker, count(*) FROM jobs GROUP BY worker ORDER BY worker").fetchall()
    return jsonify({"done_by_worker": {w: n for w, n in rows}, "waiting": common.queue().llen(common.QUEUE)})


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "8000")))
