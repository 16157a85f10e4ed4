"""The migration: a one-shot job that creates the schema and exits 0.

Compose starts web and worker only after it completed successfully (depends_on: condition:
service_completed_successfully), so neither of them has to create tables itself.
"""
import common

if __name__ == "__main__":
    common.ensure_schema()
    print("migration done: table jobs is ready", flush=True)
