#!/usr/bin/env bash
# `make up`: Airflow (standalone, SQLite) and an MLflow server on 127.0.0.1, in the background, on the
# demo's lake. Pid files under .airflow/run/ let `make down` stop exactly these processes.
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
PASSWORDS="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
if [ ! -f "$PASSWORDS" ]; then
  password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')
  printf '{"admin": "%s"}\n' "$password" > "$PASSWORDS"
  chmod 600 "$PASSWORDS"
fi
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

tracking=$(python - <<'PY'
from modelguard.config import load_config
c = load_config()
print(c.tracking_uri, c.storage_root)
PY
)
read -r TRACKING_URI LAKE <<<"$tracking"

if ! running "$RUN/mlflow.pid"; then
  setsid nohup mlflow server --host 127.0.0.1 --port "${MLFLOW_PORT:-5000}" \
    --backend-store-uri "$TRACKING_URI" --default-artifact-root "file://$LAKE/mlartifacts" \
    > "$RUN/mlflow.log" 2>&1 &
  echo $! > "$RUN/mlflow.pid"
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
Airflow UI: http://127.0.0.1:${AIRFLOW_PORT:-8080}   login: admin / $(python3 -c "import json,sys; print(json.load(open('$PASSWORDS'))['admin'])")
MLflow UI:  http://127.0.0.1:${MLFLOW_PORT:-5000}    (registry: Models -> fraud_detector)
logs: $RUN/{airflow,mlflow}.log    stop with: make down
MSG
