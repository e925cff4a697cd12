#!/usr/bin/env bash
# Build the workspace images under images/ that are absent (all with --force):
#   scripts/build-images.sh [--force] [NAME...]     e.g. NAME = terminal
# Each images/NAME/Dockerfile becomes moorage/NAME:latest, built on
# debian:bookworm-slim when present, else on moorage/base:bookworm, which
# images/base/bootstrap.sh makes from Debian's packages (no registry needed).
set -euo pipefail
cd "$(dirname "$0")/.."

force=false
if [ "${1:-}" = "--force" ]; then force=true; shift; fi
bash scripts/ensure-docker.sh

names=("$@")
if [ "${#names[@]}" -eq 0 ]; then
  for dockerfile in images/*/Dockerfile; do
    names+=("$(basename "$(dirname "$dockerfile")")")
  done
fi

if docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
  base=debian:bookworm-slim
else
  base=moorage/base:bookworm
fi

for name in "${names[@]}"; do
  tag="moorage/$name:latest"
  if ! $force && docker image inspect "$tag" >/dev/null 2>&1; then
    continue
  fi
  if [ "$base" = moorage/base:bookworm ]; then
    bash images/base/bootstrap.sh
  fi
  echo "==> building $tag on $base"
  started=$(date +%s)
  docker build --quiet --build-arg "BASE=$base" -t "$tag" "images/$name" >/dev/null
  echo "==> $tag built in $(( $(date +%s) - started )) s"
done
