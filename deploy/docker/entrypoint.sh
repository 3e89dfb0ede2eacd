#!/bin/sh
# The image's entry point: `minotaur node`, configured by MINOTAUR_* variables (docs/SPEC.md,
# section 2), with two defaults a container cannot know in advance:
#   MINOTAUR_NAME     the container's host name (stable across restarts in compose and in a
#                     StatefulSet, so that a restarted node comes back under its own name)
#   MINOTAUR_CLUSTER  this container's own address and MINOTAUR_CLUSTER_PORT (9080): the
#                     cluster port must be an IP address the other nodes can dial, and the node
#                     tells them the address it listens on
# Anything given on the command line goes to `minotaur node` as well.
set -eu
if [ -z "${MINOTAUR_NAME:-}" ]; then
  MINOTAUR_NAME=$(hostname)
  export MINOTAUR_NAME
fi
if [ -z "${MINOTAUR_CLUSTER:-}" ]; then
  ip=$(hostname -i | awk '{print $1}')
  if [ -z "$ip" ]; then
    echo "minotaur-entrypoint: this container has no address (hostname -i); set MINOTAUR_CLUSTER=IP:PORT" >&2
    exit 2
  fi
  MINOTAUR_CLUSTER="$ip:${MINOTAUR_CLUSTER_PORT:-9080}"
  export MINOTAUR_CLUSTER
fi
exec "${MINOTAUR_BINARY:-minotaur}" node "$@"
