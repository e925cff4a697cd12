#!/usr/bin/env bash
# The whole test suite: everything on SQLite, then the API and service tests
# again on PostgreSQL and MariaDB (servers on this machine; override with
# MOORAGE_TEST_POSTGRES_URL / MOORAGE_TEST_MARIADB_URL) beside the Compose
# deployment test. With CI=true an unreachable database or Docker fails the run;
# elsewhere those tests skip.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --test

postgres_url="${MOORAGE_TEST_POSTGRES_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/postgres}"
mariadb_url="${MOORAGE_TEST_MARIADB_URL:-mysql+asyncmy://root@127.0.0.1:3306/test}"
# The agent and the Docker driver touch no database: SQLite only.
db_suite=(tests/unit tests/integration/test_sessions_docker.py
  --ignore=tests/unit/agent --ignore=tests/unit/drivers)

echo "==> tests on SQLite (all but the Compose deployment)"
env -u MOORAGE_DATABASE_URL uv run --frozen pytest -m "not deploy" "$@"

# Then three runs that share nothing, side by side: the API and service tests on
# PostgreSQL and on MariaDB (each test makes its own database, and the reconciler
# leaves alone containers of orgs it does not know), and the Compose deployment
# (its own images, network and ports; mostly waiting on Docker). On two cores this
# takes about as long as the longest of them instead of the sum. Each writes its
# own log, shown whole once all have ended.
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
declare -A pids
echo "==> side by side: API and service tests on PostgreSQL and MariaDB; the Compose deployment"
MOORAGE_DATABASE_URL="$postgres_url" uv run --frozen pytest "${db_suite[@]}" "$@" \
  >"$logs/postgresql" 2>&1 &
pids[postgresql]=$!
MOORAGE_DATABASE_URL="$mariadb_url" uv run --frozen pytest "${db_suite[@]}" "$@" \
  >"$logs/mariadb" 2>&1 &
pids[mariadb]=$!
env -u MOORAGE_DATABASE_URL uv run --frozen pytest -m deploy tests/deploy "$@" \
  >"$logs/deploy" 2>&1 &
pids[deploy]=$!
failed=0
for run in postgresql mariadb deploy; do
  rc=0
  wait "${pids[$run]}" || rc=$?
  echo "==> $run (exit $rc)"
  cat "$logs/$run"
  # pytest's 5: nothing collected (a filter given to this script left the run empty)
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then
    failed=1
  fi
done
exit "$failed"
