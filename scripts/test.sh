#!/usr/bin/env bash
# The whole test suite: everything on SQLite, then the API and service tests
# again on PostgreSQL and MariaDB, those two side by side (servers on this
# machine; override with MOORAGE_TEST_POSTGRES_URL / MOORAGE_TEST_MARIADB_URL). With CI=true an
# unreachable database or Docker fails the run; elsewhere those tests skip.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --test

postgres_url="${MOORAGE_TEST_POSTGRES_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/postgres}"
mariadb_url="${MOORAGE_TEST_MARIADB_URL:-mysql+asyncmy://root@127.0.0.1:3306/test}"
# The agent and the Docker driver touch no database: SQLite only.
db_suite=(tests/unit tests/integration/test_sessions_docker.py
  --ignore=tests/unit/agent --ignore=tests/unit/drivers)

echo "==> tests on SQLite"
env -u MOORAGE_DATABASE_URL uv run --frozen pytest "$@"

# The two server runs share nothing (each test makes its own database, and the
# reconciler leaves alone containers of orgs it does not know): they run side by
# side, which takes about as long as the longer one on two cores instead of the
# sum. Each prints to its own log, shown whole once both have ended.
echo "==> API and service tests on PostgreSQL and MariaDB, side by side"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
MOORAGE_DATABASE_URL="$postgres_url" uv run --frozen pytest "${db_suite[@]}" "$@" \
  >"$logs/postgresql" 2>&1 &
postgres_pid=$!
MOORAGE_DATABASE_URL="$mariadb_url" uv run --frozen pytest "${db_suite[@]}" "$@" \
  >"$logs/mariadb" 2>&1 &
mariadb_pid=$!
postgres_rc=0
wait "$postgres_pid" || postgres_rc=$?
mariadb_rc=0
wait "$mariadb_pid" || mariadb_rc=$?
echo "==> on PostgreSQL (exit $postgres_rc)"
cat "$logs/postgresql"
echo "==> on MariaDB (exit $mariadb_rc)"
cat "$logs/mariadb"
if [ "$postgres_rc" -ne 0 ] || [ "$mariadb_rc" -ne 0 ]; then
  exit 1
fi
