#!/bin/bash
# Start the notebook under $MOORAGE_BASE_URL (/s/<session-id>/, set by Moorage)
# with the session's token, which Moorage's proxy sends as `Authorization: token`.
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
  # In the notebook's own environment only (not the container's: docker inspect).
  export JUPYTER_TOKEN="$secret"
  unset secret
fi
# Without a secret file (started by hand) the notebook makes up a token of its own
# and prints it: it never runs open.
exec jupyter-notebook --no-browser --ip=0.0.0.0 --port=8888 --NotebookApp.password= \
  --NotebookApp.base_url="${MOORAGE_BASE_URL:-/}"
