#!/usr/bin/env bash
# `make up`: Airflow (standalone, SQLite) and an MLflow server on 127.0.0.1, in the background, on the
# demo's lake. Pid files under .airflow/run/ let `make down` stop exactly these processes.
# The MLflow server is the registry server app (`mlflow server --app-name modelguard`: basic-auth plus the
# approval rules of include/modelguard/registry_server.py): a login for every request, and who approves is
# stamped by the server. Its admin password, Flask secret key, auth settings and users DB live in
# $AIRFLOW_HOME/run; both admin logins are printed and written to $AIRFLOW_HOME/run/logins.json (mode 600).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export PATH="$ROOT/.venv/bin:$PATH"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/.airflow}"
export MODELGUARD_CONFIG="${MODELGUARD_CONFIG:-$ROOT/include/config/pipeline.yaml}"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="${AIRFLOW_PORT:-8080}"
export AIRFLOW__API__BASE_URL="http://127.0.0.1:${AIRFLOW_PORT:-8080}"
export AIRFLOW__CORE__PARALLELISM=4
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin"
# The Model health page links versions to this MLflow UI.
export MODELGUARD_MLFLOW_UI="${MODELGUARD_MLFLOW_UI:-http://127.0.0.1:${MLFLOW_PORT:-5000}}"
export DO_NOT_TRACK=true MLFLOW_DISABLE_TELEMETRY=true GX_ANALYTICS_ENABLED=false MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
RUN="$AIRFLOW_HOME/run"
mkdir -p "$RUN"
chmod 700 "$RUN"
PASSWORDS="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
if [ ! -f "$PASSWORDS" ]; then
  password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')
  (umask 077; printf '{"admin": "%s"}\n' "$password" > "$PASSWORDS")
  chmod 600 "$PASSWORDS"
fi

# MLflow's basic-auth: the users DB beside the pid files; a successful password check cached 60 s per server
# worker, as docker/mlflow_auth.ini explains (the hash is slow). No secret in this file.
MLFLOW_SECRETS="$RUN/mlflow_secrets.json"   # the admin password and Flask secret key, made once
MLFLOW_AUTH_DB="$RUN/mlflow_auth.db"
if [ ! -f "$MLFLOW_SECRETS" ]; then
  if [ -f "$MLFLOW_AUTH_DB" ]; then
    echo "$MLFLOW_AUTH_DB exists but $MLFLOW_SECRETS (its admin password) does not:" \
      "remove $MLFLOW_AUTH_DB (its users) to start afresh, or restore the file" >&2
    exit 1
  fi
  (umask 077; python3 -c 'import json, secrets
print(json.dumps({"admin_username": "admin", "admin_password": secrets.token_urlsafe(18),
                  "flask_secret_key": secrets.token_hex(32)}))' > "$MLFLOW_SECRETS")
  chmod 600 "$MLFLOW_SECRETS"
fi
cat > "$RUN/mlflow_auth.ini" <<INI
[mlflow]
default_permission = READ
admin_username = admin
database_uri = sqlite:///$MLFLOW_AUTH_DB
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
auth_cache_ttl_seconds = 60
INI
secret() { python3 -c "import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
(umask 077; python3 - "$PASSWORDS" "$MLFLOW_SECRETS" > "$RUN/logins.json" <<'PY'
import json, sys
airflow, mlflow = (json.load(open(path)) for path in sys.argv[1:])
print(json.dumps({"airflow": {"username": "admin", "password": airflow["admin"]},
                  "mlflow": {"username": mlflow["admin_username"], "password": mlflow["admin_password"]}}, indent=1))
PY
)
chmod 600 "$RUN/logins.json"
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

tracking=$(python - <<'PY'
from modelguard.config import load_config
c = load_config()
print(c.tracking_uri, c.storage_root)
PY
)
read -r TRACKING_URI LAKE <<<"$tracking"

# Identity is verified only for what goes through this server (the MLflow UI, `modelguard approve` pointed at it
# with MLFLOW_TRACKING_URI and a login). The pipeline's tasks here use the config's tracking_uri: the demo config
# (include/config/pipeline.yaml) is the embedded SQLite store, the same DB this server serves, so the tasks and
# the demo's `replay --operator-approves` write the registry directly, and their approvals are recorded as
# unverified (no server, no login). docker-compose.yaml is the setup where the tasks too go through the server.
if ! running "$RUN/mlflow.pid"; then
  (  # the server's secrets in its environment only, not in Airflow's
    export MLFLOW_AUTH_CONFIG_PATH="$RUN/mlflow_auth.ini"
    MLFLOW_AUTH_ADMIN_USERNAME=$(secret "$MLFLOW_SECRETS" admin_username)
    MLFLOW_AUTH_ADMIN_PASSWORD=$(secret "$MLFLOW_SECRETS" admin_password)
    MLFLOW_FLASK_SERVER_SECRET_KEY=$(secret "$MLFLOW_SECRETS" flask_secret_key)
    export MLFLOW_AUTH_ADMIN_USERNAME MLFLOW_AUTH_ADMIN_PASSWORD MLFLOW_FLASK_SERVER_SECRET_KEY
    # the users DB and the admin, once, before the server's workers start (they would race on a new DB)
    if ! python scripts/registry_bootstrap.py > "$RUN/mlflow.log" 2>&1; then
      cat "$RUN/mlflow.log" >&2
      exit 1
    fi
    setsid nohup mlflow server --app-name modelguard --host 127.0.0.1 --port "${MLFLOW_PORT:-5000}" \
      --backend-store-uri "$TRACKING_URI" --default-artifact-root "file://$LAKE/mlartifacts" \
      >> "$RUN/mlflow.log" 2>&1 &
    echo $! > "$RUN/mlflow.pid"
  )
fi
if ! running "$RUN/airflow.pid"; then
  modelguard airflow-setup > "$RUN/migrate.log" 2>&1  # metadata DB + the registry pool
  setsid nohup airflow standalone > "$RUN/airflow.log" 2>&1 &
  echo $! > "$RUN/airflow.pid"
fi
for url in "http://127.0.0.1:${MLFLOW_PORT:-5000}/health" "http://127.0.0.1:${AIRFLOW_PORT:-8080}/api/v2/monitor/health"; do
  for _ in $(seq 1 120); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && break
    sleep 1
  done
done
cat <<MSG
Airflow UI: http://127.0.0.1:${AIRFLOW_PORT:-8080}   login: admin / $(secret "$PASSWORDS" admin)
MLflow UI:  http://127.0.0.1:${MLFLOW_PORT:-5000}   login: $(secret "$MLFLOW_SECRETS" admin_username) / $(secret "$MLFLOW_SECRETS" admin_password)   (registry: Models -> fraud_detector)
logins: $RUN/logins.json    logs: $RUN/{airflow,mlflow}.log    stop with: make down
MSG
