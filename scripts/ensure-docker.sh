#!/usr/bin/env bash
# Make sure a Docker engine answers on /var/run/docker.sock: install Debian's
# docker.io (and mmdebstrap for the base image) when missing, start dockerd in
# the background when it is not running, and wait for it (60 s at most).
set -euo pipefail

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if docker info >/dev/null 2>&1; then
  exit 0
fi
if ! pgrep -x dockerd >/dev/null; then
  echo "==> starting dockerd (log: /var/log/dockerd.log)"
  nohup dockerd >>/var/log/dockerd.log 2>&1 &
fi
for _ in $(seq 60); do
  if docker info >/dev/null 2>&1; then
    echo "==> Docker $(docker version --format '{{.Server.Version}}') is running"
    exit 0
  fi
  sleep 1
done
echo "dockerd did not answer within 60 s; see /var/log/dockerd.log" >&2
tail -20 /var/log/dockerd.log >&2 || true
exit 1
