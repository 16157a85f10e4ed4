"""The database, as api, worker and schema reach it: a new connection each time, so a restarted Postgres is found."""
import os

import psycopg

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://paste:paste@db:5432/pastes")


def connect():
    return psycopg.connect(DATABASE_URL, connect_timeout=3, autocommit=True)
