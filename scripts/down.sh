#!/usr/bin/env bash
# `make down`: stop exactly the processes `make up` started (their process groups, by pid file).
set -uo pipefail
cd "$(dirname "$0")/.."
RUN="${AIRFLOW_HOME:-$(pwd)/.airflow}/run"
for name in airflow mlflow; do
  pidfile="$RUN/$name.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    echo "stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
done
