#!/usr/bin/env bash
# The whole test suite: everything on SQLite, then the API and service tests
# again on PostgreSQL and MariaDB (servers on this machine; override with
# MOORAGE_TEST_POSTGRES_URL / MOORAGE_TEST_MARIADB_URL). With CI=true an
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
echo "==> API and service tests on PostgreSQL"
MOORAGE_DATABASE_URL="$postgres_url" uv run --frozen pytest "${db_suite[@]}" "$@"
echo "==> API and service tests on MariaDB"
MOORAGE_DATABASE_URL="$mariadb_url" uv run --frozen pytest "${db_suite[@]}" "$@"
