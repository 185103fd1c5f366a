#!/usr/bin/env bash
# Debian's PostgreSQL and Redis servers for the live-stack test (tests/live_stack.py runs docker-compose's
# production topology natively). Installs only what is missing; a fast no-op when both are present.
set -euo pipefail
have_postgres() { compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null && compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }
have_redis() { command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; }
if have_postgres && have_redis; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing Debian's postgresql and redis-server (apt-get) for the live-stack test ..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql redis-server >/dev/null
have_postgres && have_redis
