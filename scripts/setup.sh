#!/usr/bin/env bash
# Install what Moorage needs on a fresh Debian machine, idempotently:
# uv and the Python environment, the UI's npm packages, Docker (started when
# not running), mmdebstrap, sshpass and the workspace images. `--test` adds
# Debian's chromium, the OpenSSH client, xfreerdp and Xvfb for the tests, and the
# npm packages of the tests' OpenID Connect provider.
set -euo pipefail
cd "$(dirname "$0")/.."

with_test=false
[ "${1:-}" = "--test" ] && with_test=true

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "==> apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

command -v npm >/dev/null || apt_install nodejs npm
# sshpass: Ansible's password logins when provisioning a pool.
apt_install sshpass git  # git: stacks deployed from Git repositories
if ! command -v uv >/dev/null; then
  echo "==> installing uv"
  python3 -m pip install --quiet uv
fi
echo "==> Python environment (uv sync)"
# Bytecode compiled once here: where PYTHONDONTWRITEBYTECODE is set (or the tree is
# read-only) every process would otherwise compile each module from source at import,
# which costs start-up time and about 4 MB of a server's resident memory.
uv sync --frozen --quiet --compile-bytecode
uv run --frozen --no-sync python -m compileall -q src
echo "==> UI assets"
bash scripts/build-static.sh
bash scripts/ensure-docker.sh
bash scripts/build-images.sh
if $with_test; then
  # chromium for the browser tests, the OpenSSH client for real logins to pool machines,
  # xfreerdp (on a virtual display) to authenticate against RDP workspaces, and a
  # registry on loopback for image pulls.
  # wrk: the load generator of bench/fleet_ingest.py.
  apt_install chromium openssh-client freerdp2-x11 xvfb docker-registry wrk
  # binutils: objcopy and objdump, which PyInstaller needs to build the agent's binary
  # (tests/integration/test_agent_binary.py).
  apt_install binutils
  # nginx: deploy/nginx/moorage.conf in front of a server (tests/integration/test_nginx_site.py).
  apt_install nginx-light
  # prometheus: its promtool checks GET /metrics (tests/unit/api/test_metrics.py).
  apt_install prometheus
  # The OpenID Connect provider the sign-in tests start (npm's oidc-provider, run by
  # node; tests/oidc_provider): its own node_modules beside it, never served.
  if [ ! -d tests/oidc_provider/node_modules/oidc-provider ] \
    || [ tests/oidc_provider/package-lock.json -nt tests/oidc_provider/node_modules/.package-lock.json ]; then
    echo "==> test OpenID Connect provider (npm ci in tests/oidc_provider)"
    npm ci --prefix tests/oidc_provider --no-audit --no-fund --loglevel=error
  fi
  # slapd and ldap-utils: the tests start their own OpenLDAP server on loopback
  # (tests/ldap_server.py, bench/ldap_sync.py). Debian's own slapd configuration and
  # service are not wanted: skip the configuration, and stop the service if it runs.
  if ! dpkg -s slapd >/dev/null 2>&1; then
    echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
  fi
  apt_install slapd ldap-utils
  if command -v systemctl >/dev/null && systemctl is-active --quiet slapd 2>/dev/null; then
    systemctl stop slapd || true
  fi
fi
