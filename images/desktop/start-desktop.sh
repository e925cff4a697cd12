#!/bin/bash
# Start Xvnc on :1 (port 5901) with the session's password, then Openbox and a terminal.
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
  VNC_PASSWORD="$secret"
  unset secret
fi
: "${VNC_PASSWORD:?VNC_PASSWORD or MOORAGE_SECRET_FILE must be set}"
mkdir -p "$HOME/.vnc"
printf '%s\n' "$VNC_PASSWORD" | vncpasswd -f > "$HOME/.vnc/passwd"
chmod 0600 "$HOME/.vnc/passwd"
unset VNC_PASSWORD
geometry="${VNC_GEOMETRY:-1280x800}"
# A session stopped and started again keeps its disk, with the lock and socket of
# the display the last Xvnc held; Xvnc would take them for a live server and quit.
rm -f /tmp/.X1-lock /tmp/.X11-unix/X1
Xvnc :1 -rfbport 5901 -rfbauth "$HOME/.vnc/passwd" -SecurityTypes VncAuth \
  -geometry "$geometry" -depth 24 -AcceptSetDesktopSize=1 -AlwaysShared=1 \
  -desktop moorage >"$HOME/.vnc/xvnc.log" 2>&1 &
export DISPLAY=:1
for _ in $(seq 50); do xset q >/dev/null 2>&1 && break; sleep 0.1; done
xsetroot -solid '#1e3a5f' || true
openbox &
xterm -geometry 100x30+40+40 -fa 'DejaVu Sans Mono' -fs 11 &
wait -n
