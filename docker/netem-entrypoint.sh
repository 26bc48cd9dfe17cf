#!/bin/sh
# Entrypoint for containers with simulated network delay (docker/compose.generated.yml with a
# latency): adds `netem delay PQMED_NETEM_DELAY_MS ms` to eth0's egress, then runs the node as the
# unprivileged `node` user. Needs `cap_add: [NET_ADMIN]` and `user: root` on the service, and
# iproute2 in the image (the Dockerfile installs it).
set -eu
delay="${PQMED_NETEM_DELAY_MS:-0}"
dev="${PQMED_NETEM_DEV:-eth0}"
if [ "$delay" != "0" ]; then
  tc qdisc replace dev "$dev" root netem delay "${delay}ms"
  echo "netem: ${delay} ms delay on $dev" >&2
fi
if [ "$(id -u)" = "0" ]; then
  exec setpriv --reuid=node --regid=node --init-groups --inh-caps=-all node /app/bin/pqmed.js "$@"
fi
exec node /app/bin/pqmed.js "$@"
