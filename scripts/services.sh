#!/usr/bin/env bash
# Starts the local PostgreSQL and NATS (JetStream) the tests use, when they are not running.
# Idempotent: does nothing for a service that already answers.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # name port
  for _ in $(seq 1 60); do
    if port_open "$2"; then return 0; fi
    sleep 0.5
  done
  echo "error: $1 did not start listening on 127.0.0.1:$2 within 30 s" >&2
  return 1
}

if ! port_open 5432; then
  echo "==> starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  wait_for PostgreSQL 5432
fi

if ! port_open 4222; then
  echo "==> starting NATS with JetStream"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_for NATS 4222
fi
