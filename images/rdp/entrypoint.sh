#!/bin/bash
# Create the session's account, then run xrdp-sesman and xrdp in the foreground.
set -euo pipefail
user="${RDP_USER:-user}"
: "${RDP_PASSWORD:?RDP_PASSWORD must be set}"
id -u "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
echo "$user:$RDP_PASSWORD" | chpasswd
unset RDP_PASSWORD
rm -f /var/run/xrdp/xrdp*.pid
mkdir -p /var/run/xrdp && chown xrdp:xrdp /var/run/xrdp 2>/dev/null || true
/usr/sbin/xrdp-sesman --nodaemon &
exec /usr/sbin/xrdp --nodaemon
