"""Settings shared by the web service and the worker: where Postgres and Redis are (service names)."""
import os

import psycopg
import redis

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://app:app@db:5432/app")
REDIS_URL = os.environ.get("REDIS_URL", "redis://queue:6379/0")
QUEUE = "jobs"


def db():
    return psycopg.connect(DATABASE_URL, connect_timeout=3, autocommit=True)


def queue():
    return redis.Redis.from_url(REDIS_URL, socket_timeout=5, decode_responses=True)


def ensure_schema() -> None:
    """The schema (migrate.py runs it once per `up`; idempotent)."""
    with db() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS jobs (id serial PRIMARY KEY, payload text NOT NULL,"
                     " worker text NOT NULL, done_at timestamptz NOT NULL DEFAULT now())")
