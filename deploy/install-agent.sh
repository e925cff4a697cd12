#!/bin/sh
# Install the Moorage agent on a Debian/Ubuntu machine and start it under systemd.
#
#   MOORAGE_SERVER=https://hub.example MOORAGE_TOKEN=<enrolment token> sh install-agent.sh
#
# The one-time install link of the enrolment page serves this script with both
# values filled in:  curl -fsSL <link> | sudo sh
# It fetches moorage_agent.py and the systemd unit from the hub, makes a venv with
# psutil and httpx under /opt/moorage-agent, enrols, and enables moorage-agent.service.
set -eu

: "${MOORAGE_SERVER:?set MOORAGE_SERVER to the hub URL}"
: "${MOORAGE_TOKEN:?set MOORAGE_TOKEN to an enrolment token}"
MOORAGE_AGENT_URL="${MOORAGE_AGENT_URL:-$MOORAGE_SERVER/api/v1/agent.py}"
MOORAGE_UNIT_URL="${MOORAGE_UNIT_URL:-$MOORAGE_SERVER/api/v1/agent.service}"
PREFIX=/opt/moorage-agent
CONFIG=/etc/moorage-agent.json

if [ "$(id -u)" -ne 0 ]; then
  echo "run as root (sudo sh)" >&2
  exit 1
fi
if ! command -v python3 >/dev/null || ! python3 -c 'import venv' 2>/dev/null; then
  apt-get update -q && apt-get install -y -q python3 python3-venv curl
fi
mkdir -p "$PREFIX"
curl -fsSL "$MOORAGE_AGENT_URL" -o "$PREFIX/moorage_agent.py"
python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install -q 'psutil>=5.9' 'httpx>=0.27'
"$PREFIX/venv/bin/python" "$PREFIX/moorage_agent.py" enroll \
  --server "$MOORAGE_SERVER" --token "$MOORAGE_TOKEN" --config "$CONFIG"
curl -fsSL "$MOORAGE_UNIT_URL" -o /etc/systemd/system/moorage-agent.service
systemctl daemon-reload
systemctl enable --now moorage-agent.service
echo "moorage-agent is running; see: journalctl -u moorage-agent"
