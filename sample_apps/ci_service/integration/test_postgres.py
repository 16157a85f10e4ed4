"""An integration test against a real PostgreSQL: testcontainers starts it for the session and removes it after.

    TESTCONTAINERS_RYUK_DISABLED=true python -m pytest -q -s integration

Run it from the app folder, where a Docker engine answers (DOCKER_HOST or /var/run/docker.sock). It runs on the
machine, not in the image: the `test` stage of the Dockerfile copies `tests/` only, which need no engine.

- POSTGRES_IMAGE: the image to start (default postgres:17-trixie, the course's).
- CONTAINER_LABELS: JSON object of labels for the container (the course passes its own, so that its cleanup finds
  a container a killed test run left behind), and CONTAINER_NAME: its name.
- TESTCONTAINERS_RYUK_DISABLED=true: no Ryuk, the reaper container testcontainers otherwise starts first
  (testcontainers/ryuk, pulled from Docker Hub) to remove the session's containers when the test process dies.
"""
from __future__ import annotations

import json
import os

import psycopg
import pytest
from testcontainers.community.postgres import PostgresContainer


@pytest.fixture(scope="session")
def postgres():
    db = PostgresContainer(os.environ.get("POSTGRES_IMAGE", "postgres:17-trixie"), driver=None)
    db.with_kwargs(labels=json.loads(os.environ.get("CONTAINER_LABELS", "{}")))
    if os.environ.get("CONTAINER_NAME"):
        db.with_name(os.environ["CONTAINER_NAME"])
    with db:                                    # start, wait until psql answers; stop and remove on the way out
        wrapped = db.get_wrapped_container()
        print(f"\nstarted {wrapped.name} ({db.image}), port 5432 on {db.get_container_host_ip()}:"
              f"{db.get_exposed_port(5432)}, labels: {', '.join(sorted(wrapped.labels))}")
        yield db
    print(f"\nremoved {wrapped.name}")


def test_upsert_counts_each_word_once(postgres):
    # ON CONFLICT … DO UPDATE is PostgreSQL's: an in-memory SQLite stand-in would not test this statement.
    with psycopg.connect(postgres.get_connection_url()) as conn:
        conn.execute("CREATE TABLE words (word text PRIMARY KEY, n int NOT NULL)")
        for word in "the cat saw the other cat".split():
            conn.execute("INSERT INTO words VALUES (%s, 1) ON CONFLICT (word) DO UPDATE SET n = words.n + 1", (word,))
        counts = dict(conn.execute("SELECT word, n FROM words ORDER BY word").fetchall())
        server = conn.execute("SHOW server_version").fetchone()[0]
    print(f"PostgreSQL {server}: {counts}")
    assert counts == {"cat": 2, "other": 1, "saw": 1, "the": 2}
