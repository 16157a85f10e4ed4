#!/usr/bin/env bash
# A small version of the official postgres entrypoint: initialise PGDATA on first start from
# POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB, then run the server as the postgres user.
# Each of the three may come from a file instead (POSTGRES_PASSWORD_FILE=/run/secrets/…), as in the official
# image: file_env below is docker-library/postgres's docker-entrypoint.sh `file_env` (commit 6edb0a8, 2026-02-26).
set -Eeo pipefail

# usage: file_env VAR [DEFAULT]: "$VAR_FILE" fills in "$VAR" from a file (Docker's and Compose's secrets);
# setting both is an error; the _FILE variable is unset once read.
file_env() {
  local var="$1"
  local fileVar="${var}_FILE"
  local def="${2:-}"
  if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
    printf >&2 'error: both %s and %s are set (but are exclusive)\n' "$var" "$fileVar"
    exit 1
  fi
  local val="$def"
  if [ "${!var:-}" ]; then
    val="${!var}"
  elif [ "${!fileVar:-}" ]; then
    val="$(< "${!fileVar}")"
  fi
  export "$var"="$val"
  unset "$fileVar"
}

if [ "$1" = "postgres" ]; then
  # read as root, before gosu (the official _main runs docker_setup_env first): a secret file only root can
  # read still works; the values reach the postgres user's process as exported variables
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
fi
if [ "$1" = "postgres" ] && [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" && chown -R postgres:postgres "$PGDATA" && chmod 700 "$PGDATA"
  exec gosu postgres "$0" "$@"
fi
if [ "$1" = "postgres" ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    echo "Error: database is uninitialized and superuser password is not specified." >&2
    echo "       You must specify POSTGRES_PASSWORD to a non-empty value for the superuser." >&2
    echo "       (or POSTGRES_PASSWORD_FILE: a file that holds it, such as a Compose secret)" >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:-postgres}" > "$pwfile"
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  echo "host all all all ${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >> "$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  # The init-time server listens on a private socket only, so health checks (pg_isready) do not
  # report "accepting connections" before the real server is up.
  initsock=$(mktemp -d)
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=$initsock" -w start >/dev/null
  if [ "$POSTGRES_DB" != postgres ]; then
    psql -h "$initsock" -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
      -c "CREATE DATABASE \"$POSTGRES_DB\"" >/dev/null
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  rmdir "$initsock" 2>/dev/null || true
  echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
