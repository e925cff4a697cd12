#!/bin/bash
# Create the session's account, then run xrdp-sesman and xrdp in the foreground.
set -euo pipefail
# The session's secret: Moorage writes it to a file on a tmpfs right after start
# ($MOORAGE_SECRET_FILE), never into the environment; read it once, then delete it.
read_secret() {
  local file="$1"
  for _ in $(seq 300); do [ -f "$file" ] && break; sleep 0.1; done
  if [ ! -f "$file" ]; then echo "no secret at $file after 30 s" >&2; exit 1; fi
  secret=$(cat "$file")
  rm -f "$file"
}
if [ -n "${MOORAGE_SECRET_FILE:-}" ]; then
  read_secret "$MOORAGE_SECRET_FILE"
  RDP_PASSWORD="$secret"
  unset secret
fi
user="${RDP_USER:-user}"
: "${RDP_PASSWORD:?RDP_PASSWORD or MOORAGE_SECRET_FILE must be set}"
id -u "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
echo "$user:$RDP_PASSWORD" | chpasswd
unset RDP_PASSWORD
rm -f /var/run/xrdp/xrdp*.pid
mkdir -p /var/run/xrdp && chown xrdp:xrdp /var/run/xrdp 2>/dev/null || true
/usr/sbin/xrdp-sesman --nodaemon &
exec /usr/sbin/xrdp --nodaemon
