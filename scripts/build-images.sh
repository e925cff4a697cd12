#!/usr/bin/env bash
# Build the workspace images under images/ that are absent or whose source
# folder changed since they were built (all with --force):
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
  # The image records a hash of its source folder; a changed Dockerfile rebuilds it.
  hash=$(cd "images/$name" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  built=$(docker image inspect -f '{{ index .Config.Labels "moorage.source-hash" }}' "$tag" 2>/dev/null || true)
  if ! $force && [ "$built" = "$hash" ]; then
    continue
  fi
  if [ "$base" = moorage/base:bookworm ]; then
    bash images/base/bootstrap.sh
  fi
  echo "==> building $tag on $base"
  started=$(date +%s)
  docker build --quiet --build-arg "BASE=$base" --label "moorage.source-hash=$hash" \
    -t "$tag" "images/$name" >/dev/null
  echo "==> $tag built in $(( $(date +%s) - started )) s"
done
