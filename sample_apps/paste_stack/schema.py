"""The migration: a one-shot job that creates the table and exits 0 (1 when it cannot reach the database).

It does not retry: run it once Postgres accepts connections.
"""
import sys

import store

if __name__ == "__main__":
    try:
        with store.connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS pastes (id serial PRIMARY KEY, body text NOT NULL,"
                         " status text NOT NULL DEFAULT 'new', words int)")
    except Exception as exc:  # noqa: BLE001 - the job's whole story is this line
        print(f"schema: cannot reach the database: {' '.join(str(exc).split())}", flush=True)
        sys.exit(1)
    print("schema: table pastes is ready", flush=True)
