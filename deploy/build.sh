#!/usr/bin/env bash
# Build the images of deploy/compose.yaml from local bases only (no registry):
# the Debian base by mmdebstrap (images/base/bootstrap.sh), then moorage/moorage,
# moorage/postgres and moorage/caddy on it with `docker build`. Writes deploy/.env
# (or $MOORAGE_DEPLOY_ENV) with generated secrets when it does not exist.
#   deploy/build.sh
# MOORAGE_BUILD_CA_BUNDLE: a CA bundle for the image builds' downloads (default: this
# machine's /etc/ssl/certs/ca-certificates.crt, so a TLS-inspecting proxy the host
# trusts is trusted by the builds too); `none` for the image's own bundle.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-docker.sh
bash images/base/bootstrap.sh
[ -f src/moorage/web/static/vendor/htmx.min.js ] || bash scripts/build-static.sh

bundle="${MOORAGE_BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
rm -f deploy/build-ca/build-ca.crt
if [ "$bundle" != none ] && [ -f "$bundle" ]; then
  cp "$bundle" deploy/build-ca/build-ca.crt
fi

build() {  # TAG CONTEXT [DOCKERFILE]
  local started
  started=$(date +%s)
  echo "==> building $1"
  docker build --quiet --build-arg BASE=moorage/base:bookworm -t "$1" \
    ${3:+-f "$3"} "$2" >/dev/null
  echo "==> $1 built in $(( $(date +%s) - started )) s"
}
build moorage/postgres:15 deploy/postgres
build moorage/caddy:latest deploy/caddy
build moorage/moorage:latest . Dockerfile
rm -f deploy/build-ca/build-ca.crt

env_file=${MOORAGE_DEPLOY_ENV:-deploy/.env}
if [ ! -f "$env_file" ]; then
  secret() { head -c 32 /dev/urandom | base64 | tr -d '/+=' | cut -c1-"$1"; }
  umask 077
  cat >"$env_file" <<ENV
# Written by deploy/build.sh on $(date -u +%Y-%m-%d). Keep MOORAGE_SECRET_KEY: it opens
# the secrets sealed in the database (a backup restores only with it).
MOORAGE_SECRET_KEY=$(secret 43)
POSTGRES_PASSWORD=$(secret 32)
MOORAGE_ADMIN_PASSWORD=$(secret 20)
# Public name and TLS: an e-mail address in MOORAGE_TLS gets an ACME certificate for a
# public MOORAGE_DOMAIN; \`internal\` signs one with Caddy's own CA.
MOORAGE_DOMAIN=localhost
MOORAGE_TLS=internal
MOORAGE_WORKERS=2
MOORAGE_DOCKER_GID=$(stat -c %g /var/run/docker.sock)
ENV
  echo "==> wrote $env_file (admin password: MOORAGE_ADMIN_PASSWORD in it)"
fi
