"""The worker: counts the words of each new paste and marks it done.

It keeps one connection, like most workers, and exits 1 when it cannot reach the database or loses it: bringing
it back is the job of the container's restart policy. On SIGTERM it finishes the current paste and exits 0.
"""
import signal
import socket
import sys
import time

import store

running = True


def stop(signum, frame):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)

NEXT = ("UPDATE pastes SET status = 'done', words = cardinality(regexp_split_to_array(trim(body), '\\s+'))"
        " WHERE id = (SELECT id FROM pastes WHERE status = 'new' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"
        " RETURNING id, words")

if __name__ == "__main__":
    me, connected = socket.gethostname(), False
    try:
        conn = store.connect()
        connected = True
        print(f"worker {me}: connected, waiting for pastes", flush=True)
        while running:
            row = conn.execute(NEXT).fetchone()
            if row:
                print(f"worker {me}: paste {row[0]} has {row[1]} words", flush=True)
            else:
                time.sleep(0.3)
    except Exception as exc:  # noqa: BLE001 - psycopg.OperationalError and friends: the database is gone
        print(f"worker {me}: {'lost' if connected else 'cannot reach'} the database: {' '.join(str(exc).split())}", flush=True)
        sys.exit(1)
    print(f"worker {me}: stopping", flush=True)
