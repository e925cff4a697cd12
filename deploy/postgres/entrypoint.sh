#!/bin/bash
# First start: initdb into the (empty) volume with POSTGRES_USER / POSTGRES_PASSWORD /
# POSTGRES_DB, password (scram-sha-256) logins from the Compose network only. Then run
# the server in the foreground.
set -euo pipefail
: "${POSTGRES_USER:=moorage}" "${POSTGRES_DB:=moorage}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "POSTGRES_PASSWORD is not set" >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  echo "host all all 0.0.0.0/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "host all all ::/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
  pg_ctl -o "-c listen_addresses=''" -w start >/dev/null
  if [ "$POSTGRES_DB" != postgres ]; then
    createdb --username="$POSTGRES_USER" --owner="$POSTGRES_USER" "$POSTGRES_DB"
  fi
  pg_ctl -m fast -w stop >/dev/null
  echo "initialised $PGDATA"
fi
exec postgres -c listen_addresses='*'
