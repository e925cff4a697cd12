#!/usr/bin/env bash
# Build the Debian bookworm base image from Debian's packages, for machines
# that reach no container registry: mmdebstrap writes a minbase root file
# system as a tarball on stdout and `docker import` turns it into an image.
#   images/base/bootstrap.sh [--force] [TAG]      (TAG default moorage/base:bookworm)
# The mirror is the machine's own (first URIs: line of its deb822 sources, or
# its sources.list), else deb.debian.org.
set -euo pipefail

force=false
if [ "${1:-}" = "--force" ]; then force=true; shift; fi
tag="${1:-moorage/base:bookworm}"

if ! $force && docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag exists (use --force to rebuild)"
  exit 0
fi
if ! command -v mmdebstrap >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
fi

mirror=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -e "$f" ] || continue
  if grep -q "Suites:.*bookworm" "$f"; then
    mirror=$(awk '/^URIs:/ {print $2; exit}' "$f")
    [ -n "$mirror" ] && break
  fi
done
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1 == "deb" && $0 ~ /bookworm/ {print $2; exit}' /etc/apt/sources.list)
fi
mirror="${mirror:-http://deb.debian.org/debian}"

echo "==> mmdebstrap bookworm from $mirror into $tag"
started=$(date +%s)
mmdebstrap --quiet --variant=minbase \
  --aptopt='Acquire::Languages "none"' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm - "$mirror" \
  | docker import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' - "$tag"
echo "==> $tag built in $(( $(date +%s) - started )) s"
