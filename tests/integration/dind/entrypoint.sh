#!/bin/sh
# Start the engine of a Docker-in-Docker container (Dockerfile beside this file).
set -eu
# The container is not privileged (the host's bounding set lacks a capability that
# --privileged asks for; tests/integration/dind_engines.py), so Docker mounted its
# cgroups read-only. They are this container's own subtree (cgroup v1): made
# writable, the engine's containers nest under this container's cgroup and go
# with it.
for controller in /sys/fs/cgroup/*; do
  [ -L "$controller" ] || mount -o remount,bind,rw "$controller"
done
# A socket left by an engine that was killed would make dockerd refuse to start.
rm -f /var/run/dind/docker.sock
exec dockerd --host unix:///var/run/dind/docker.sock --storage-driver overlay2 "$@"
