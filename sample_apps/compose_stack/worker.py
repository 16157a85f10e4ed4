"""The worker: takes jobs from the Redis list and records each in Postgres with its own host name.

The table it writes to is created by migrate.py, which Compose runs to completion before starting the worker.
"""
import signal
import socket
import sys

import common

running = True


def stop(signum, frame):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)

if __name__ == "__main__":
    me = socket.gethostname()
    q = common.queue()
    print(f"worker {me} waiting for jobs", flush=True)
    while running:
        item = q.blpop([common.QUEUE], timeout=1)
        if item is None:
            continue
        with common.db() as conn:
            conn.execute("INSERT INTO jobs (payload, worker) VALUES (%s, %s)", (item[1], me))
        print(f"worker {me} did {item[1]}", flush=True)
    print(f"worker {me} stopping", flush=True)
    sys.exit(0)
