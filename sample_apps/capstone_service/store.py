"""The database side: one table of notes in Postgres (psycopg 3), reached through $DATABASE_URL."""
import os

import psycopg


def connect():
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("DATABASE_URL is not set")
    return psycopg.connect(url, connect_timeout=2, autocommit=True)


def ping() -> None:
    with connect() as conn:
        conn.execute("SELECT 1")


def _schema(conn) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, text text NOT NULL,"
                 " created timestamptz NOT NULL DEFAULT now())")


def add_note(text: str) -> dict:
    with connect() as conn:
        _schema(conn)
        row = conn.execute("INSERT INTO notes (text) VALUES (%s) RETURNING id, created::text", (text,)).fetchone()
    return {"id": row[0], "text": text, "created": row[1]}


def list_notes() -> list[dict]:
    with connect() as conn:
        _schema(conn)
        rows = conn.execute("SELECT id, text, created::text FROM notes ORDER BY id DESC").fetchall()
    return [{"id": i, "text": t, "created": c} for i, t, c in rows]
