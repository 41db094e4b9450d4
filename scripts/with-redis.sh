#!/usr/bin/env bash
# Runs a command with a throw-away Redis on a free loopback port, exported as REDIS_URL.
set -euo pipefail
if ! command -v redis-server >/dev/null; then
  echo "with-redis: redis-server not installed (run make deps)" >&2
  exit 1
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly yes --appendfsync always \
  --dir "$dir" --daemonize yes --logfile "$dir/redis.log" >/dev/null
cleanup() { redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
export REDIS_URL="redis://127.0.0.1:$port/"
"$@"
