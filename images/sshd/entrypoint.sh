#!/bin/bash
# Generate host keys on first start, set the login user's password, run sshd.
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
  SSH_PASSWORD="$secret"
fi
ssh-keygen -A >/dev/null
user="${SSH_USER:-root}"
if [ "$user" != root ] && ! id -u "$user" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash "$user"
  echo "$user ALL=(ALL) NOPASSWD:ALL" > "/etc/sudoers.d/90-$user"
  chmod 0440 "/etc/sudoers.d/90-$user"
fi
if [ -n "${SSH_PASSWORD:-}" ]; then
  echo "$user:$SSH_PASSWORD" | chpasswd
fi
unset SSH_PASSWORD secret
if [ -n "${SSH_AUTHORIZED_KEY:-}" ]; then
  home=$(getent passwd "$user" | cut -d: -f6)
  mkdir -p "$home/.ssh"
  echo "$SSH_AUTHORIZED_KEY" > "$home/.ssh/authorized_keys"
  chown -R "$user:" "$home/.ssh"
  chmod 0700 "$home/.ssh"; chmod 0600 "$home/.ssh/authorized_keys"
fi
exec /usr/sbin/sshd -D -e
