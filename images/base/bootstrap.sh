#!/usr/bin/env bash
# Build the Debian bookworm base image from Debian's packages, for machines
# that reach no container registry: mmdebstrap writes a minbase root file
# system as a tarball on stdout and `docker import` turns it into an image.
#   images/base/bootstrap.sh [--force] [TAG]      (TAG default moorage/base:bookworm)
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

# The package sources are the machine's own when it runs bookworm (its deb822
# .sources file or its sources.list, pasted into the image by mmdebstrap);
# otherwise mmdebstrap's own default mirror.
sources=()
for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
  [ -f "$f" ] || continue
  if grep -qE '^(Suites:.*|deb .*)bookworm' "$f"; then
    sources=("$f")
    break
  fi
done

echo "==> mmdebstrap bookworm from ${sources[0]:-the default mirror} into $tag"
started=$(date +%s)
mmdebstrap --quiet --variant=minbase \
  --aptopt='Acquire::Languages "none"' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm - "${sources[@]}" \
  | docker import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' - "$tag"
echo "==> $tag built in $(( $(date +%s) - started )) s"
